"""Where the audit database is: a configured DSN, or the embedded default.

``--audit-dsn`` / ``KUBERNAUT_AUDIT_DSN`` name a PostgreSQL server; without
one, an embedded PostgreSQL runs in ``--audit-data-dir`` /
``KUBERNAUT_AUDIT_DATA_DIR`` (default: the user's state directory).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.audit.embedded import EmbeddedPostgres, default_data_dir
from reconciler.audit.store import AuditStore, probe

DSN_ENV = "KUBERNAUT_AUDIT_DSN"
DATA_DIR_ENV = "KUBERNAUT_AUDIT_DATA_DIR"


@dataclass(frozen=True, slots=True)
class AuditConfig:
    dsn: str | None
    data_dir: Path

    @classmethod
    def resolve(
        cls, dsn: str | None, data_dir: str | Path | None, environ: Mapping[str, str]
    ) -> AuditConfig:
        """Flags win over the environment, which wins over the defaults."""
        chosen_dsn = dsn or environ.get(DSN_ENV) or None
        chosen_dir = data_dir or environ.get(DATA_DIR_ENV) or None
        return cls(
            dsn=chosen_dsn,
            data_dir=Path(chosen_dir).expanduser() if chosen_dir else default_data_dir(),
        )


@contextmanager
def open_store(
    config: AuditConfig, *, timeout: float = 5.0, probe_first: bool = False
) -> Iterator[AuditStore]:
    """An :class:`AuditStore` on the configured server, starting the embedded one if needed.

    ``probe_first`` (for one-shot commands) connects once before opening the
    pool, so an unreachable database fails at once with its precise reason.

    Raises :class:`~reconciler.audit.embedded.EmbeddedPostgresError` when the
    embedded server cannot start and
    :class:`~reconciler.audit.store.StoreUnavailableError` for a bad DSN.
    """
    embedded: EmbeddedPostgres | None = None
    dsn = config.dsn
    if dsn is None:
        embedded = EmbeddedPostgres(config.data_dir)
        dsn = embedded.start()
    try:
        if probe_first:
            probe(dsn, timeout)
        store = AuditStore(dsn, timeout=timeout)
        try:
            yield store
        finally:
            store.close()
    finally:
        if embedded is not None:
            embedded.stop()
