"""The reconciler's two small HTTP endpoints: health (no auth) and metrics (bearer token).

* Health port: ``/healthz`` (alive: always 200 while the process serves) and
  ``/readyz`` (200 only when every readiness check passes; the body lists
  each check). ``/health`` and ``/ready`` are aliases.
* Metrics port: ``/metrics`` in the Prometheus text format, only for a bearer
  token that the API server authenticates (TokenReview) and authorises for
  ``get`` on the non-resource URL ``/metrics`` (SubjectAccessReview), as
  kube-rbac-proxy does. Verdicts are cached for a minute so a scrape costs no
  API call in the steady state.

Both run the standard library's threading HTTP server in daemon threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from reconciler.kube import ApiError, KubeClient, Resource

Check = Callable[[], tuple[bool, str]]
TOKEN_REVIEWS = Resource("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False)
ACCESS_REVIEWS = Resource(
    "authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False
)

_log = logging.getLogger(__name__)


class TokenAuthorizer:
    """Is this bearer token allowed to ``get /metrics``? Asks the API server, caches the answer."""

    def __init__(
        self,
        client: KubeClient,
        *,
        path: str = "/metrics",
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._path = path
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._verdicts: dict[str, tuple[float, bool, str]] = {}

    def allowed(self, token: str) -> tuple[bool, str]:
        now = self._clock()
        with self._lock:
            cached = self._verdicts.get(token)
            if cached is not None and cached[0] > now:
                return cached[1], cached[2]
        verdict = self._ask(token)
        with self._lock:
            if len(self._verdicts) > 1000:
                self._verdicts.clear()
            self._verdicts[token] = (now + self._ttl, *verdict)
        return verdict

    def _ask(self, token: str) -> tuple[bool, str]:
        try:
            review = self._client.create(
                TOKEN_REVIEWS,
                None,
                {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenReview",
                    "spec": {"token": token},
                },
            )
            status = review.get("status") or {}
            if not status.get("authenticated"):
                return False, "token not authenticated"
            user = status.get("user") or {}
            access = self._client.create(
                ACCESS_REVIEWS,
                None,
                {
                    "apiVersion": "authorization.k8s.io/v1",
                    "kind": "SubjectAccessReview",
                    "spec": {
                        "user": user.get("username", ""),
                        "uid": user.get("uid", ""),
                        "groups": user.get("groups") or [],
                        "extra": user.get("extra") or {},
                        "nonResourceAttributes": {"path": self._path, "verb": "get"},
                    },
                },
            )
        except ApiError as err:
            _log.warning("metrics authorisation failed: %s", err)
            return False, "authorisation unavailable"
        if (access.get("status") or {}).get("allowed"):
            return True, str(user.get("username", ""))
        return False, f"{user.get('username', '?')} may not get {self._path}"


def _handler(routes: Mapping[str, Callable[[BaseHTTPRequestHandler], None]]) -> type:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                _send(self, 404, "text/plain", b"not found\n")
                return
            route(self)

        def log_message(self, format: str, *args: Any) -> None:
            return  # access logs would drown the structured log

    return Handler


def _send(handler: BaseHTTPRequestHandler, code: int, content_type: str, body: bytes) -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _Server:
    def __init__(
        self, host: str, port: int, routes: Mapping[str, Callable[[BaseHTTPRequestHandler], None]]
    ) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(routes))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class HealthServer(_Server):
    def __init__(self, host: str, port: int, checks: Mapping[str, Check]) -> None:
        self._checks = checks

        def alive(handler: BaseHTTPRequestHandler) -> None:
            _send(handler, 200, "text/plain", b"ok\n")

        def ready(handler: BaseHTTPRequestHandler) -> None:
            lines, healthy = [], True
            for name, check in self._checks.items():
                passed, detail = check()
                healthy = healthy and passed
                lines.append(f"[{'+' if passed else '-'}]{name} {detail}".rstrip())
            lines.append("ready" if healthy else "not ready")
            _send(
                handler, 200 if healthy else 503, "text/plain", ("\n".join(lines) + "\n").encode()
            )

        routes = {"/healthz": alive, "/health": alive, "/readyz": ready, "/ready": ready}
        super().__init__(host, port, routes)


class MetricsServer(_Server):
    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        authorizer: TokenAuthorizer | None,
    ) -> None:
        def metrics(handler: BaseHTTPRequestHandler) -> None:
            if authorizer is not None:
                header = handler.headers.get("Authorization", "")
                scheme, _, token = header.partition(" ")
                if scheme.lower() != "bearer" or not token:
                    _send(handler, 401, "text/plain", b"bearer token required\n")
                    return
                allowed, detail = authorizer.allowed(token.strip())
                if not allowed:
                    _send(handler, 403, "text/plain", f"forbidden: {detail}\n".encode())
                    return
            _send(handler, 200, CONTENT_TYPE_LATEST, generate_latest(registry))

        super().__init__(host, port, {"/metrics": metrics})
