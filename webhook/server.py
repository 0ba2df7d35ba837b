"""``kubernaut webhook serve``: the HTTPS admission webhook on uvicorn.

One worker process (the default) runs everything on one uvloop event loop:
the TLS listener whose certificate follows ``--cert-dir`` (reloaded in place,
open connections are kept), the policy watcher (a thread reloading the
embedded engine when ``--policies`` changes) and the metrics endpoint (a
plain-HTTP thread on ``--metrics-port``). SIGTERM and SIGINT drain the open
requests and stop.

With ``--workers N`` uvicorn's supervisor binds the port once and runs N
worker processes, each with its own certificate, engine and watcher; the
metrics of all workers are then aggregated through prometheus-client's
multiprocess mode and served by the supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import ssl
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server
from uvicorn.supervisors import Multiprocess

from kubernaut.logs import LogFormat, configure_logging
from webhook.app import create_app
from webhook.pipeline import AdmissionPipeline
from webhook.policy import EmbeddedPolicyEngine, OpaPolicyEngine, PolicyEngine, PolicyWatcher
from webhook.tls import ReloadingCertificate

__all__ = ["ServeOptions", "build_engine", "serve"]

_log = logging.getLogger("kubernaut.webhook")

TLS_CERT: Final = "tls.crt"
TLS_KEY: Final = "tls.key"
_OPTIONS_ENV: Final = "KUBERNAUT_WEBHOOK_SERVE_OPTIONS"
_MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
_GRACEFUL_SHUTDOWN_SECONDS: Final = 10

EngineName = Literal["embedded", "opa"]


@dataclass(frozen=True)
class ServeOptions:
    cert_dir: Path
    policies: Path
    host: str = "0.0.0.0"  # noqa: S104 - a webhook listens on the pod's address
    port: int = 9443
    metrics_port: int | None = 9090
    """None: no metrics listener (tests)."""
    engine: EngineName = "embedded"
    opa_url: str = "http://127.0.0.1:8181"
    workers: int = 1
    log_level: str = "info"
    log_format: LogFormat = "json"
    cert_check_interval: float = 2.0
    policy_check_interval: float = 5.0

    @property
    def cert_file(self) -> Path:
        return self.cert_dir / TLS_CERT

    @property
    def key_file(self) -> Path:
        return self.cert_dir / TLS_KEY

    def to_json(self) -> str:
        document = dataclasses.asdict(self)
        document["cert_dir"] = str(self.cert_dir)
        document["policies"] = str(self.policies)
        return json.dumps(document)

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        document: dict[str, Any] = json.loads(text)
        document["cert_dir"] = Path(document["cert_dir"])
        document["policies"] = Path(document["policies"])
        return cls(**document)


def build_engine(options: ServeOptions) -> PolicyEngine:
    """The policy engine the options ask for.

    The embedded engine starts even when the bundle does not compile: the
    server then reports not ready (with the error) until a fixed bundle is
    picked up by the watcher.
    """
    if options.engine == "opa":
        return OpaPolicyEngine(options.opa_url)
    return EmbeddedPolicyEngine(options.policies, require_bundle=False)


def _lifespan(
    certificate: ReloadingCertificate, engine: PolicyEngine, options: ServeOptions
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The certificate is reloaded on the server's own loop, between handshakes.
        watch = asyncio.create_task(certificate.watch(options.cert_check_interval))
        watcher = None
        if isinstance(engine, EmbeddedPolicyEngine):
            watcher = PolicyWatcher(engine, interval=options.policy_check_interval)
            watcher.start()
        _log.info(
            "admission webhook serving",
            extra={"port": options.port, "engine": options.engine, "pid": os.getpid()},
        )
        try:
            yield
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            if watcher is not None:
                watcher.stop()
            engine.close()
            _log.info("admission webhook stopped", extra={"pid": os.getpid()})

    return lifespan


def assemble(options: ServeOptions, certificate: ReloadingCertificate) -> FastAPI:
    """The application of one worker: engine, pipeline and background reloads."""
    engine = build_engine(options)
    return create_app(
        AdmissionPipeline(engine),
        certificate=certificate,
        lifespan=_lifespan(certificate, engine, options),
    )


def load_certificate(options: ServeOptions) -> ReloadingCertificate:
    """The serving certificate from ``--cert-dir``; ssl.SSLError naming the files otherwise."""
    return ReloadingCertificate(options.cert_file, options.key_file)


def _config(options: ServeOptions, app: Any, ssl_factory: Any, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        log_config=None,
        log_level=options.log_level,
        access_log=False,
        server_header=False,
        ssl_context_factory=ssl_factory,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        **extra,
    )


def _start_metrics(options: ServeOptions, registry: Any = None) -> Any:
    if options.metrics_port is None:
        return None
    server, _ = start_http_server(
        options.metrics_port, addr=options.host, registry=registry or REGISTRY
    )
    return server


def _graceful_sigterm() -> None:
    """Make a drained SIGTERM stop a normal exit (status 0).

    uvicorn drains on SIGTERM, restores the previous handler and raises the
    signal again; with the default handler the process would die of it.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: None)


def serve(options: ServeOptions) -> None:
    """Run the webhook until SIGTERM/SIGINT. ssl.SSLError when the certificate cannot load."""
    _graceful_sigterm()
    if options.workers > 1:
        _serve_workers(options)
        return
    certificate = load_certificate(options)
    app = assemble(options, certificate)
    metrics = _start_metrics(options)
    try:
        uvicorn.Server(_config(options, app, lambda _config, _default: certificate.context)).run()
    finally:
        if metrics is not None:
            metrics.shutdown()


# -- several worker processes ---------------------------------------------------

# One certificate per worker process, created by the SSL context factory (which
# uvicorn calls in the worker before it builds the app).
_worker_certificate: ReloadingCertificate | None = None


def _worker_ssl_context(_config: uvicorn.Config, _default: Any) -> ssl.SSLContext:
    global _worker_certificate  # noqa: PLW0603 - one per process, by construction
    options = ServeOptions.from_json(os.environ[_OPTIONS_ENV])
    _worker_certificate = load_certificate(options)
    return _worker_certificate.context


def worker_app() -> FastAPI:
    """The application factory uvicorn imports in each worker process."""
    options = ServeOptions.from_json(os.environ[_OPTIONS_ENV])
    configure_logging(options.log_level, options.log_format)
    assert _worker_certificate is not None, "the SSL context factory runs first"
    return assemble(options, _worker_certificate)


def _serve_workers(options: ServeOptions) -> None:
    load_certificate(options)  # fail fast, in the supervisor, with a clear error
    with tempfile.TemporaryDirectory(prefix="kubernaut-metrics-") as metrics_dir:
        # Inherited by the spawned workers, whose prometheus-client then writes
        # its values to files the supervisor aggregates.
        os.environ[_MULTIPROC_ENV] = metrics_dir
        os.environ[_OPTIONS_ENV] = options.to_json()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=metrics_dir)  # type: ignore[no-untyped-call]
        metrics = _start_metrics(options, registry)
        config = _config(
            options,
            "webhook.server:worker_app",
            _worker_ssl_context,
            factory=True,
            workers=options.workers,
        )
        try:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        finally:
            if metrics is not None:
                metrics.shutdown()
