"""Write and read the development certificate files.

The file names follow the keys of a cert-manager TLS Secret (``ca.crt``,
``tls.crt``, ``tls.key``) so that the webhook reads a mounted Secret and a
development directory the same way. Keys are written with mode 0600.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.authority import KeyPair, create_ca, issue_serving_certificate, service_dns_names

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"
ALL_FILES = (CA_CERT, CA_KEY, TLS_CERT, TLS_KEY)

DEFAULT_IP_ADDRESSES = ("127.0.0.1",)
# Reuse existing development certificates only while they stay valid this long.
_MIN_REMAINING_VALIDITY = timedelta(days=1)


class CertificateFilesExistError(FileExistsError):
    """The output directory already holds certificate files and overwriting was not asked for."""


@dataclass(frozen=True)
class CertificatePaths:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / CA_CERT

    @property
    def ca_key(self) -> Path:
        return self.directory / CA_KEY

    @property
    def tls_cert(self) -> Path:
        return self.directory / TLS_CERT

    @property
    def tls_key(self) -> Path:
        return self.directory / TLS_KEY


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _write_atomically(path: Path, content: bytes, mode: int) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_certificates(
    out_dir: Path, ca: KeyPair, serving: KeyPair, *, force: bool = False
) -> CertificatePaths:
    paths = CertificatePaths(out_dir)
    existing = [name for name in ALL_FILES if (out_dir / name).exists()]
    if existing and not force:
        raise CertificateFilesExistError(
            f"{out_dir} already contains {', '.join(existing)}; use --force to replace them"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    # Key before certificate: a watcher that reloads on the certificate's change
    # then always finds the matching key already in place.
    _write_atomically(paths.ca_key, _key_pem(ca.key), 0o600)
    _write_atomically(paths.ca_cert, _cert_pem(ca.certificate), 0o644)
    _write_atomically(paths.tls_key, _key_pem(serving.key), 0o600)
    _write_atomically(paths.tls_cert, _cert_pem(serving.certificate), 0o644)
    return paths


def generate(
    out_dir: Path,
    *,
    service: str,
    namespace: str,
    days: int = 365,
    force: bool = False,
    extra_dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = DEFAULT_IP_ADDRESSES,
) -> CertificatePaths:
    """Create a development CA and a serving certificate for a Service in ``out_dir``."""
    dns_names = service_dns_names(service, namespace) + list(extra_dns_names)
    ca = create_ca(f"kubernaut development CA ({service}.{namespace})", days=days)
    serving = issue_serving_certificate(ca, dns_names, list(ip_addresses), days=days)
    return write_certificates(out_dir, ca, serving, force=force)


def _still_usable(paths: CertificatePaths, dns_names: list[str], now: datetime) -> bool:
    if not all(path.exists() for path in (paths.ca_cert, paths.tls_cert, paths.tls_key)):
        return False
    try:
        certificate = x509.load_pem_x509_certificate(paths.tls_cert.read_bytes())
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound):
        return False
    covered = set(names.value.get_values_for_type(x509.DNSName))
    remaining = certificate.not_valid_after_utc - now
    return set(dns_names) <= covered and remaining > _MIN_REMAINING_VALIDITY


def ensure(out_dir: Path, *, service: str, namespace: str, days: int = 365) -> CertificatePaths:
    """Reuse the development certificates in ``out_dir`` while they fit; otherwise create them."""
    paths = CertificatePaths(out_dir)
    if _still_usable(paths, service_dns_names(service, namespace), datetime.now(UTC)):
        return paths
    return generate(out_dir, service=service, namespace=namespace, days=days, force=True)
