"""The PostgreSQL audit store: a connection pool and the write/read primitives.

Writes are idempotent: an event is stored once per ``(object_uid, event_key)``
(the key table ``audit_event_keys`` guards the partitioned ``audit_events``),
and a summary is upserted by uid without ever replacing a newer snapshot.
Every query is parameterised. A database that cannot be reached raises
:class:`StoreUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from reconciler.audit import migrations, partitions
from reconciler.audit.events import AuditEvent
from reconciler.audit.summaries import RemediationSummary, Summary, WorkflowSummary

_EVENT_COLUMNS = (
    "object_uid",
    "event_key",
    "transition_index",
    "kind",
    "namespace",
    "name",
    "remediation",
    "signal_fingerprint",
    "phase_from",
    "phase_to",
    "reason",
    "message",
    "actor",
    "occurred_at",
    "payload",
)

_CREATE_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS audit_stage ("
    " seq integer NOT NULL, object_uid text, event_key text, transition_index integer,"
    " kind text, namespace text, name text, remediation text, signal_fingerprint text,"
    " phase_from text, phase_to text, reason text, message text, actor text,"
    " occurred_at timestamptz, payload jsonb) ON COMMIT DELETE ROWS"
)
_COPY_STAGE = sql.SQL("COPY audit_stage (seq, {}) FROM STDIN").format(
    sql.SQL(", ").join(map(sql.Identifier, _EVENT_COLUMNS))
)
# Deduplicate inside the batch, claim the keys no earlier write holds, and
# insert exactly the events whose key was claimed now.
_INSERT_FROM_STAGE = sql.SQL(
    "WITH batch AS ("
    "  SELECT DISTINCT ON (object_uid, event_key) * FROM audit_stage"
    "  ORDER BY object_uid, event_key, seq),"
    " claimed AS ("
    "  INSERT INTO audit_event_keys (object_uid, event_key, occurred_at)"
    "  SELECT object_uid, event_key, occurred_at FROM batch"
    "  ON CONFLICT DO NOTHING RETURNING object_uid, event_key)"
    " INSERT INTO audit_events ({columns})"
    " SELECT {batch_columns} FROM batch b JOIN claimed c USING (object_uid, event_key)"
    " ORDER BY b.occurred_at, b.seq"
).format(
    columns=sql.SQL(", ").join(map(sql.Identifier, _EVENT_COLUMNS)),
    batch_columns=sql.SQL(", ").join(sql.Identifier("b", column) for column in _EVENT_COLUMNS),
)

_REMEDIATION_COLUMNS = tuple(RemediationSummary.__dataclass_fields__)
_WORKFLOW_COLUMNS = tuple(WorkflowSummary.__dataclass_fields__)
_JSON_COLUMNS = frozenset({"phase_durations", "step_executions"})


def _upsert(table: str, columns: Sequence[str]) -> sql.Composed:
    """Upsert by uid; an older snapshot never replaces a newer one."""
    target = sql.Identifier(table)
    return sql.SQL(
        "INSERT INTO {table} ({columns}) VALUES ({values})"
        " ON CONFLICT (object_uid) DO UPDATE SET {updates}, updated_at = now()"
        " WHERE (coalesce(excluded.last_transition_at, '-infinity'), excluded.transition_count)"
        " >= (coalesce({table}.last_transition_at, '-infinity'), {table}.transition_count)"
    ).format(
        table=target,
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        updates=sql.SQL(", ").join(
            sql.SQL("{} = excluded.{}").format(sql.Identifier(column), sql.Identifier(column))
            for column in columns[1:]
        ),
    )


_UPSERT_REMEDIATION = _upsert("remediation_summaries", _REMEDIATION_COLUMNS)
_UPSERT_WORKFLOW = _upsert("workflow_execution_summaries", _WORKFLOW_COLUMNS)


class StoreUnavailableError(RuntimeError):
    """The audit database cannot be reached (or failed mid-operation)."""


def describe_dsn(dsn: str) -> str:
    """The DSN's host and database, without credentials, for messages."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparsable DSN)"
    host = params.get("host") or "localhost"
    port = params.get("port")
    database = params.get("dbname") or params.get("user") or ""
    return f"{host}{':' + str(port) if port else ''}/{database}"


def probe(dsn: str, timeout: float = 5.0) -> None:
    """Connect once, directly, to tell precisely why a database is unreachable.

    For one-shot commands: the pool retries quietly until its timeout, which
    hides the reason (refused, bad password, unknown database...).
    """
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as err:
        raise StoreUnavailableError(f"invalid audit DSN: {err}") from None
    try:
        psycopg.connect(dsn, connect_timeout=max(1, round(timeout))).close()
    except psycopg.Error as err:
        raise StoreUnavailableError(f"audit database {describe_dsn(dsn)}: {_reason(err)}") from None


def _reason(err: BaseException) -> str:
    """The most telling line of a psycopg error message."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    # libpq puts the cause after the last "failed: " of the first line.
    return lines[0].rsplit("failed: ", 1)[-1]


class AuditStore:
    """A pooled connection to the audit database."""

    def __init__(self, dsn: str, *, max_connections: int = 4, timeout: float = 5.0) -> None:
        try:
            conninfo_to_dict(dsn)
        except psycopg.ProgrammingError as err:
            raise StoreUnavailableError(f"invalid audit DSN: {err}") from None
        self._where = describe_dsn(dsn)
        self._timeout = timeout
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_connections,
            open=False,
            timeout=timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout))},
            check=ConnectionPool.check_connection,
            name="kubernaut-audit",
        )
        self._pool.open(wait=False)

    @property
    def where(self) -> str:
        return self._where

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A connection from the pool; trouble reaching the database is a StoreUnavailableError."""
        try:
            with self._pool.connection(timeout=timeout) as conn:
                yield conn
        except PoolTimeout:
            raise StoreUnavailableError(
                f"audit database {self._where} is unreachable"
                f" (no connection within {timeout or self._timeout:.1f}s)"
            ) from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as err:
            raise StoreUnavailableError(f"audit database {self._where}: {_reason(err)}") from None

    def prepare(self, now: datetime, months_ahead: int = partitions.DEFAULT_MONTHS_AHEAD) -> None:
        """Apply migrations and create the partitions ahead of ``now``."""
        with self.connection() as conn:
            migrations.migrate(conn)
            partitions.ensure_partitions(conn, now, months_ahead)

    def prune(self, now: datetime, retention_days: int) -> partitions.PruneResult:
        """Drop the data older than ``retention_days`` (whole monthly partitions)."""
        with self.connection() as conn:
            return partitions.prune(conn, now, retention_days)

    def write(self, events: Sequence[AuditEvent], summaries: Sequence[Summary] = ()) -> int:
        """Store a batch in one transaction; return how many events were new."""
        with self.connection() as conn, conn.transaction(), conn.cursor() as cur:
            inserted = 0
            if events:
                cur.execute(_CREATE_STAGE)
                with cur.copy(_COPY_STAGE) as copy:
                    for seq, event in enumerate(events):
                        copy.write_row((seq, *_event_row(event)))
                cur.execute(_INSERT_FROM_STAGE)
                inserted = max(cur.rowcount, 0)
            remediations = [s for s in _latest(summaries) if isinstance(s, RemediationSummary)]
            workflows = [s for s in _latest(summaries) if isinstance(s, WorkflowSummary)]
            if remediations:
                cur.executemany(_UPSERT_REMEDIATION, [_summary_row(s) for s in remediations])
            if workflows:
                cur.executemany(_UPSERT_WORKFLOW, [_summary_row(s) for s in workflows])
            return inserted

    def persisted_keys(self, object_uid: str, timeout: float | None = None) -> frozenset[str]:
        """Keys of the events of ``object_uid`` stored so far."""
        with self.connection(timeout) as conn:
            rows = conn.execute(
                "SELECT event_key FROM audit_event_keys WHERE object_uid = %s", (object_uid,)
            ).fetchall()
        return frozenset(str(row[0]) for row in rows)

    def close(self, timeout: float = 5.0) -> None:
        self._pool.close(timeout=timeout)


def _event_row(event: AuditEvent) -> tuple[Any, ...]:
    return (
        event.object_uid,
        event.event_key,
        event.transition_index,
        event.kind,
        event.namespace,
        event.name,
        event.remediation,
        event.signal_fingerprint,
        event.phase_from,
        event.phase_to,
        event.reason,
        event.message,
        event.actor,
        event.occurred_at,
        Jsonb(dict(event.payload)),
    )


def _summary_row(summary: Summary) -> tuple[Any, ...]:
    values = asdict(summary)
    return tuple(
        Jsonb(values[column]) if column in _JSON_COLUMNS else values[column]
        for column in type(summary).__dataclass_fields__
    )


def _latest(summaries: Sequence[Summary]) -> list[Summary]:
    """One summary per object: the last one given."""
    by_uid: dict[str, Summary] = {}
    for summary in summaries:
        by_uid[summary.object_uid] = summary
    return list(by_uid.values())
