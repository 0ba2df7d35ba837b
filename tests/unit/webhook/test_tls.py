"""Serving-certificate reload: new connections get the new pair, open ones are kept."""

from __future__ import annotations

import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from certs.files import CertificatePaths, generate
from webhook.tls import ReloadingCertificate


class _EchoServer:
    """A TLS echo server on loopback using the reloading context."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(connection,), daemon=True).start()

    def _echo(self, connection: socket.socket) -> None:
        try:
            with self._context.wrap_socket(connection, server_side=True) as tls:
                while data := tls.recv(1024):
                    tls.sendall(data)
        except (ssl.SSLError, OSError):
            return

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def cert_dir(tmp_path: Path) -> CertificatePaths:
    return generate(tmp_path / "live", service="hook", namespace="ops", days=2)


@pytest.fixture
def server(cert_dir: CertificatePaths) -> Iterator[tuple[ReloadingCertificate, _EchoServer]]:
    certificate = ReloadingCertificate(cert_dir.tls_cert, cert_dir.tls_key)
    echo = _EchoServer(certificate.context)
    yield certificate, echo
    echo.close()


def _connect(port: int, ca_file: Path) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(ca_file))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return context.wrap_socket(raw, server_hostname="hook.ops.svc")


def _serial(tls: ssl.SSLSocket) -> int:
    der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def _rotate(live: CertificatePaths, tmp_path: Path) -> CertificatePaths:
    fresh = generate(tmp_path / "fresh", service="hook", namespace="ops", days=2)
    for source, target in (
        (fresh.tls_key, live.tls_key),
        (fresh.tls_cert, live.tls_cert),
        (fresh.ca_cert, live.ca_cert),
    ):
        shutil.copyfile(source, target)
    return fresh


def test_new_connections_get_the_rotated_certificate_and_open_ones_keep_working(
    server: tuple[ReloadingCertificate, _EchoServer], cert_dir: CertificatePaths, tmp_path: Path
) -> None:
    certificate, echo = server
    old_ca = tmp_path / "old-ca.crt"
    shutil.copyfile(cert_dir.ca_cert, old_ca)
    with _connect(echo.port, old_ca) as before:
        before.sendall(b"one")
        assert before.recv(3) == b"one"
        old_serial = _serial(before)

        fresh = _rotate(cert_dir, tmp_path)
        assert certificate.reload_if_changed() is True
        assert certificate.reloads == 1

        with _connect(echo.port, fresh.ca_cert) as after:
            after.sendall(b"two")
            assert after.recv(3) == b"two"
            assert _serial(after) != old_serial
        before.sendall(b"three")
        assert before.recv(5) == b"three"

    with pytest.raises(ssl.SSLCertVerificationError):
        _connect(echo.port, old_ca)


def test_unchanged_files_are_not_reloaded(
    server: tuple[ReloadingCertificate, _EchoServer],
) -> None:
    certificate, _ = server
    assert certificate.reload_if_changed() is True
    assert certificate.reloads == 0


def test_a_mismatched_pair_keeps_the_serving_certificate(
    server: tuple[ReloadingCertificate, _EchoServer], cert_dir: CertificatePaths, tmp_path: Path
) -> None:
    certificate, echo = server
    other = generate(tmp_path / "other", service="hook", namespace="ops", days=2)
    shutil.copyfile(other.tls_cert, cert_dir.tls_cert)  # the key is still the old one
    assert certificate.reload_if_changed() is True
    assert certificate.last_error is not None
    assert certificate.reloads == 0
    with _connect(echo.port, cert_dir.ca_cert) as tls:
        tls.sendall(b"ok")
        assert tls.recv(2) == b"ok"


def test_missing_files_at_start_raise_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ssl.SSLError, match="cannot load the serving certificate"):
        ReloadingCertificate(tmp_path / "tls.crt", tmp_path / "tls.key")
