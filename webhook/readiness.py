"""What ``/readyz`` reports: a serving certificate and a compiled policy bundle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from webhook.policy import PolicyEngine


class CertificateState(Protocol):
    """The part of :class:`webhook.tls.ReloadingCertificate` readiness looks at."""

    @property
    def loaded(self) -> bool: ...

    @property
    def last_error(self) -> str | None: ...


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, dict[str, Any]]

    def document(self) -> dict[str, Any]:
        missing = [name for name, check in self.checks.items() if not check["ok"]]
        return {
            "ready": self.ready,
            "missing": missing,
            "checks": self.checks,
        }


def check_readiness(certificate: CertificateState | None, engine: PolicyEngine) -> Readiness:
    """The readiness of a webhook serving with ``certificate`` and ``engine``.

    ``certificate`` None means TLS is terminated elsewhere (tests, benchmarks).
    A failed reload leaves the previous certificate or bundle serving: still
    ready, with the error in the detail.
    """
    checks: dict[str, dict[str, Any]] = {}
    if certificate is not None:
        checks["certificate"] = {
            "ok": certificate.loaded,
            "detail": "serving certificate loaded"
            if certificate.loaded
            else "no serving certificate loaded",
            "lastError": certificate.last_error,
        }
    status = engine.status()
    checks["policies"] = {
        "ok": status.ready,
        "detail": status.detail,
        "bundleSha256": status.bundle_sha256,
        "lastError": status.last_error,
    }
    return Readiness(all(check["ok"] for check in checks.values()), checks)
