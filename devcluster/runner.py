"""Start a devcluster in this process (background thread) and write a kubeconfig.

Independent of pytest so that e2e fixtures and the demo share it::

    with DevCluster.start(kubeconfig=path) as cluster:
        cluster.url, cluster.store, cluster.kubeconfig
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
import yaml

from devcluster.admission import AdmissionChain
from devcluster.app import DevClusterApp
from devcluster.auth import ADMIN_TOKEN, AuthConfig
from devcluster.controllers import ControllerOptions, Controllers
from devcluster.store import Store
from devcluster.webhook_client import ServiceMap
from devcluster.webhooks import WebhookAdmission

CONTEXT = "devcluster"


def kubeconfig_document(server: str, token: str = ADMIN_TOKEN) -> dict[str, Any]:
    """A kubeconfig with cluster/user/context ``devcluster`` (bearer token ``dev-admin``)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
        "users": [{"name": "dev-admin", "user": {"token": token}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": "dev-admin", "namespace": "default"},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: Path, server: str, token: str = ADMIN_TOKEN) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(kubeconfig_document(server, token), sort_keys=False), encoding="utf-8"
    )
    path.chmod(0o600)
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def build_server(app: DevClusterApp, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


@dataclass
class DevCluster:
    """A running devcluster; stop it with :meth:`stop` or use it as a context manager."""

    store: Store
    app: DevClusterApp
    host: str
    port: int
    kubeconfig: Path | None
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _controllers: Controllers | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def start(
        cls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kubeconfig: Path | None = None,
        watch_history: int = 10_000,
        bookmark_interval: float = 10.0,
        auth: AuthConfig | None = None,
        admission: AdmissionChain | None = None,
        store: Store | None = None,
        startup_timeout: float = 10.0,
        webhooks: bool = True,
        webhook_services: ServiceMap | None = None,
        controllers: ControllerOptions | None = None,
    ) -> DevCluster:
        """Serve in a background thread.

        ``webhooks``: call the stored admission webhook configurations (service
        references resolve through ``webhook_services``). ``controllers``: run
        the simulated controllers (none when ``None``).
        """
        store = store or Store(watch_history=watch_history, admission=admission)
        if webhooks:
            store.admission.add(WebhookAdmission(store, webhook_services))
        app = DevClusterApp(store, auth, bookmark_interval=bookmark_interval)
        port = port or free_port(host)
        server = build_server(app, host, port)
        thread = threading.Thread(
            target=lambda: asyncio.run(server.serve()), name=f"devcluster-{port}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"devcluster did not start on {host}:{port}")
            time.sleep(0.01)
        cluster = cls(store, app, host, port, None, server, thread)
        if kubeconfig is not None:
            cluster.kubeconfig = write_kubeconfig(kubeconfig, cluster.url)
        if controllers is not None:
            cluster._controllers = Controllers(store, cluster.url, app.auth, controllers)
            cluster._controllers.start()
        return cluster

    def stop(self) -> None:
        if self._controllers is not None:
            self._controllers.stop()
        self.store.drop_watches()
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> DevCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
