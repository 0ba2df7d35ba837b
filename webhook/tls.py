"""The webhook's serving certificate, reloaded in place when its files change.

cert-manager rotates the serving certificate by rewriting the mounted Secret
(an atomic ``..data`` symlink swap); a development directory is rewritten file
by file. :class:`ReloadingCertificate` owns one :class:`ssl.SSLContext` that
the server keeps for its whole life and loads the new pair into it: OpenSSL
copies the certificate into each connection when the handshake starts, so
open connections keep the old one and every new connection gets the new one.
Nothing is dropped and no restart is needed.

A new pair is first loaded into a scratch context: a half-written file or a
certificate that does not match its key is reported and the serving pair
stays in place until the next check finds a good one.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Fingerprint:
    """What identifies one version of the files: device, inode, size and modification time."""

    stats: tuple[tuple[int, int, int, int], ...]

    @classmethod
    def of(cls, *paths: Path) -> _Fingerprint:
        stats = []
        for path in paths:
            info = path.stat()
            stats.append((info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns))
        return cls(tuple(stats))


def _new_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


class ReloadingCertificate:
    """A server SSLContext whose certificate follows the files ``cert_file`` and ``key_file``."""

    def __init__(self, cert_file: Path, key_file: Path) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.context = _new_context()
        self.last_error: str | None = None
        self.reloads = 0
        self._lock = threading.Lock()
        self._loaded: _Fingerprint | None = None
        if not self.reload_if_changed():
            raise ssl.SSLError(f"cannot load the serving certificate: {self.last_error}")

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def reload_if_changed(self) -> bool:
        """Load the files if they changed since the last successful load.

        Returns whether a certificate is being served after the call. Never raises
        for a bad pair: the error is kept in :attr:`last_error` and logged.
        """
        with self._lock:
            try:
                fingerprint = _Fingerprint.of(self.cert_file, self.key_file)
            except OSError as err:
                return self._failed(f"{err.strerror}: {err.filename}")
            if fingerprint == self._loaded:
                return True
            try:
                # Validate in a scratch context so a bad pair never reaches the live one.
                _new_context().load_cert_chain(self.cert_file, self.key_file)
                self.context.load_cert_chain(self.cert_file, self.key_file)
            except (ssl.SSLError, OSError) as err:
                return self._failed(f"{self.cert_file} / {self.key_file}: {err}")
            first = self._loaded is None
            self._loaded = fingerprint
            self.last_error = None
            if not first:
                self.reloads += 1
                _log.info("serving certificate reloaded", extra={"cert_file": str(self.cert_file)})
            return True

    def _failed(self, message: str) -> bool:
        if message != self.last_error:
            _log.error("serving certificate not (re)loaded: %s", message)
        self.last_error = message
        return self._loaded is not None

    async def watch(self, interval: float = 2.0) -> None:
        """Check the files every ``interval`` seconds until cancelled.

        Runs on the server's event loop on purpose: the live context is only
        changed between handshakes, never concurrently with one.
        """
        while True:
            await asyncio.sleep(interval)
            self.reload_if_changed()
