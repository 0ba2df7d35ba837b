"""Writing, reusing and serving the development certificate files."""

from __future__ import annotations

import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509

from certs.files import ALL_FILES, CertificateFilesExistError, ensure, generate
from kubernaut.cli import main


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_writes_the_four_files_with_private_keys_0600(tmp_path: Path) -> None:
    paths = generate(tmp_path / "out", service="hook", namespace="ops", days=2)
    assert sorted(p.name for p in paths.directory.iterdir()) == sorted(ALL_FILES)
    assert _mode(paths.ca_key) == 0o600
    assert _mode(paths.tls_key) == 0o600
    assert _mode(paths.tls_cert) == 0o644
    certificate = x509.load_pem_x509_certificate(paths.tls_cert.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [
        "hook",
        "hook.ops",
        "hook.ops.svc",
        "hook.ops.svc.cluster.local",
        "localhost",
    ]


def test_generate_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    paths = generate(tmp_path, service="hook", namespace="ops", days=2)
    before = paths.tls_cert.read_bytes()
    with pytest.raises(CertificateFilesExistError, match="--force"):
        generate(tmp_path, service="hook", namespace="ops", days=2)
    assert paths.tls_cert.read_bytes() == before
    generate(tmp_path, service="hook", namespace="ops", days=2, force=True)
    assert paths.tls_cert.read_bytes() != before


def test_ensure_reuses_fitting_files_and_replaces_ones_for_another_service(
    tmp_path: Path,
) -> None:
    first = ensure(tmp_path, service="hook", namespace="ops").tls_cert.read_bytes()
    assert ensure(tmp_path, service="hook", namespace="ops").tls_cert.read_bytes() == first
    assert ensure(tmp_path, service="other", namespace="ops").tls_cert.read_bytes() != first


def test_python_tls_client_trusting_the_ca_completes_a_handshake(tmp_path: Path) -> None:
    paths = generate(tmp_path, service="hook", namespace="ops", days=2)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(paths.tls_cert, paths.tls_key)
    client_context = ssl.create_default_context(cafile=str(paths.ca_cert))

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve_once() -> None:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls:
                tls.sendall(tls.recv(5))

        server = threading.Thread(target=serve_once)
        server.start()
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            client_context.wrap_socket(raw, server_hostname="hook.ops.svc") as tls,
        ):
            tls.sendall(b"hello")
            assert tls.recv(5) == b"hello"
        server.join(timeout=5)


def test_cli_generate_and_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["certs", "generate", "--service", "hook", "--namespace", "ops", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert "tls.crt" in capsys.readouterr().out
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "already contains" in error
    assert "Traceback" not in error
    assert main([*argv, "--force", "--days", "3"]) == 0
