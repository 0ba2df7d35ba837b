"""Webhook connections send each review at once (no Nagle delay between headers and body)."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest

from certs.files import ensure
from devcluster.webhook_client import post_review
from devcluster.webhook_review import Webhook


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


def test_webhook_connections_disable_nagles_algorithm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = ensure(tmp_path, service="hook", namespace="default")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(paths.tls_cert, paths.tls_key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options: list[int] = []
    original = ssl.SSLContext.wrap_socket

    def recording(self: ssl.SSLContext, sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("server_side"):
            options.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return original(self, sock, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "wrap_socket", recording)
    try:
        webhook = Webhook(
            name="nodelay.example.com",
            configuration="hooks",
            mutating=False,
            spec={},
            url=f"https://localhost:{server.server_address[1]}/validate",
            ca_bundle=paths.ca_cert.read_bytes(),
            timeout_seconds=5,
        )
        assert post_review(webhook, {"kind": "AdmissionReview"}, {}) == b"{}"
    finally:
        server.shutdown()
        server.server_close()
    assert options
    assert all(option != 0 for option in options)
