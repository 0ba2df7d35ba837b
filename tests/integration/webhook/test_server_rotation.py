"""Certificate rotation on a running server: new connections get the new pair, open ones stay."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certs.authority import KeyPair, issue_serving_certificate
from certs.files import write_certificates

pytestmark = pytest.mark.integration


def _serial_of(connection: http.client.HTTPSConnection) -> int:
    assert connection.sock is not None
    der = connection.sock.getpeercert(binary_form=True)
    assert isinstance(der, bytes)
    return int(x509.load_der_x509_certificate(der).serial_number)


def _healthz(connection: http.client.HTTPSConnection) -> int:
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    assert json.loads(response.read()) == {"alive": True}
    return int(response.status)


def test_rotation_keeps_open_connections_and_serves_the_new_certificate(
    start_webhook: Callable[..., Any],
) -> None:
    server = start_webhook()
    context = server.ssl_context()
    kept = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
    assert _healthz(kept) == 200
    old_serial = _serial_of(kept)

    ca = KeyPair(
        serialization.load_pem_private_key(server.certs.ca_key.read_bytes(), password=None),  # type: ignore[arg-type]
        x509.load_pem_x509_certificate(server.certs.ca_cert.read_bytes()),
    )
    renewed = issue_serving_certificate(
        ca, ["kubernaut-webhook.kubernaut-system.svc"], ["127.0.0.1"], days=30
    )
    write_certificates(server.certs.directory, ca, renewed, force=True)
    new_serial = int(renewed.certificate.serial_number)
    assert new_serial != old_serial

    deadline = time.monotonic() + 20
    while True:
        fresh = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
        assert _healthz(fresh) == 200
        serial = _serial_of(fresh)
        fresh.close()
        if serial == new_serial:
            break
        assert serial == old_serial
        assert time.monotonic() < deadline, "the new certificate was never served"
        time.sleep(0.2)

    # The keep-alive connection opened before the rotation still works, on its old certificate.
    assert _healthz(kept) == 200
    assert _serial_of(kept) == old_serial
    kept.close()
    assert server.stop() == 0
