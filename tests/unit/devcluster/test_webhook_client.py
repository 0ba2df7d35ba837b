"""Calling a webhook costs one TLS context from its caBundle, never the system trust store."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from certs.files import ensure
from devcluster.runner import free_port
from devcluster.webhook_client import post_review
from devcluster.webhook_review import Webhook, WebhookCallError


def test_a_call_with_a_ca_bundle_never_loads_the_system_trust_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = ensure(tmp_path, service="hook", namespace="default").ca_cert.read_bytes()
    loads: list[str] = []
    original = ssl.SSLContext.load_default_certs

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append("system trust store")
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", counting)
    webhook = Webhook(
        name="hook.example.com",
        configuration="hooks",
        mutating=False,
        spec={},
        url=f"https://127.0.0.1:{free_port()}/validate",
        ca_bundle=bundle,
        timeout_seconds=1,
    )
    with pytest.raises(WebhookCallError, match="connection refused"):
        post_review(webhook, {"kind": "AdmissionReview"}, {})
    assert loads == []


def test_calls_to_one_webhook_reuse_a_kept_alive_connection(tmp_path: Path) -> None:
    """The API server keeps connections to a webhook open instead of a handshake per call."""
    import http.server
    import threading

    paths = ensure(tmp_path, service="hook", namespace="default")
    connections: list[object] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            connections.append(self.request)
            super().setup()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(paths.tls_cert, paths.tls_key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        webhook = Webhook(
            name="hook.example.com",
            configuration="hooks",
            mutating=False,
            spec={},
            url=f"https://localhost:{server.server_address[1]}/validate",
            ca_bundle=paths.ca_cert.read_bytes(),
            timeout_seconds=5,
        )
        answers = [post_review(webhook, {"kind": "AdmissionReview"}, {}) for _ in range(5)]
    finally:
        server.shutdown()
        server.server_close()
    assert answers == [b'{"ok": true}'] * 5
    assert len(connections) == 1
