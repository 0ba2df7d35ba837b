# The one image of kubernaut: the admission webhook, the reconciler and the action Jobs
# all run the `kubernaut` console script (`webhook serve`, `reconciler run`, `action run`).
#
#   docker build -t registry.example.com/kubernaut:0.1.0 .
#
# Two stages: wheels are built with the compilers of the full image, the runtime image
# only gets the installed packages. The runtime user is 65532 (non-root), as the chart's
# and the reconciler's Job security contexts require (runAsNonRoot, readOnlyRootFilesystem).

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY webhook ./webhook
COPY reconciler ./reconciler
COPY certs ./certs
COPY devcluster ./devcluster
COPY kubernaut ./kubernaut
RUN python -m venv /opt/kubernaut && /opt/kubernaut/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/kubernaut/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
COPY --from=build /opt/kubernaut /opt/kubernaut
# The default policy bundle, for `docker run` without a mounted ConfigMap.
COPY policies /etc/kubernaut/policies
RUN groupadd --system --gid 65532 kubernaut \
    && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin kubernaut
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["kubernaut"]
CMD ["--help"]
