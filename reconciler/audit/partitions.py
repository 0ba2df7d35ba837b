"""Monthly partitions of ``audit_events``: creation ahead of time and retention.

Partitions are named ``audit_events_pYYYYMM`` and cover one calendar month in
UTC. Rows whose month has no partition sit in ``audit_events_default``;
creating the month's partition moves them into it. Retention drops every
partition that ends before the cut-off month and deletes the older rows of
the default partition, the idempotency keys and the summaries with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

DEFAULT_RETENTION_DAYS = 90
DEFAULT_MONTHS_AHEAD = 2
_PARTITION_NAME = re.compile(r"^audit_events_p(\d{4})(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, moment: datetime) -> Month:
        moment = moment.astimezone(UTC)
        return cls(moment.year, moment.month)

    def shifted(self, months: int) -> Month:
        index = self.year * 12 + (self.month - 1) + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.shifted(1).start

    @property
    def table(self) -> str:
        return f"audit_events_p{self.year:04d}{self.month:02d}"


@dataclass(frozen=True, slots=True)
class PruneResult:
    cutoff: datetime
    dropped_partitions: tuple[str, ...]
    deleted_default_rows: int
    deleted_keys: int
    deleted_summaries: int


def retention_boundary(now: datetime, retention_days: int) -> datetime:
    """Start of the oldest month kept: every month ending on or before it goes."""
    if retention_days < 1:
        raise ValueError("retention must be at least one day")
    return Month.of(now - timedelta(days=retention_days)).start


def existing_partitions(conn: psycopg.Connection[Any]) -> list[Month]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT child.relname FROM pg_inherits"
            " JOIN pg_class parent ON parent.oid = pg_inherits.inhparent"
            " JOIN pg_class child ON child.oid = pg_inherits.inhrelid"
            " WHERE parent.relname = 'audit_events'"
        )
        names = [str(row[0]) for row in cur.fetchall()]
    months = []
    for name in names:
        match = _PARTITION_NAME.match(name)
        if match:
            months.append(Month(int(match[1]), int(match[2])))
    return sorted(months)


def ensure_partitions(
    conn: psycopg.Connection[Any], now: datetime, months_ahead: int = DEFAULT_MONTHS_AHEAD
) -> list[str]:
    """Create the partitions of the current month and ``months_ahead`` more.

    Returns the names created now. Rows of older months without a partition
    stay in the default partition, where retention finds them.
    """
    wanted = {Month.of(now).shifted(offset) for offset in range(months_ahead + 1)}
    created: list[str] = []
    with conn.transaction():
        # Serialise concurrent creators (two reconcilers, or a prune).
        conn.execute("LOCK TABLE audit_events_default IN SHARE ROW EXCLUSIVE MODE")
        have = set(existing_partitions(conn))
        for month in sorted(wanted - have):
            _create_partition(conn, month)
            created.append(month.table)
    return created


def prune(conn: psycopg.Connection[Any], now: datetime, retention_days: int) -> PruneResult:
    """Drop every monthly partition older than the retention and the matching rows."""
    boundary = retention_boundary(now, retention_days)
    dropped: list[str] = []
    with conn.transaction():
        conn.execute("LOCK TABLE audit_events_default IN SHARE ROW EXCLUSIVE MODE")
        for month in existing_partitions(conn):
            if month.end <= boundary:
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(month.table)))
                dropped.append(month.table)
        default_rows = conn.execute(
            "DELETE FROM audit_events_default WHERE occurred_at < %s", (boundary,)
        ).rowcount
        keys = conn.execute(
            "DELETE FROM audit_event_keys WHERE occurred_at < %s", (boundary,)
        ).rowcount
        summaries = 0
        for table in ("remediation_summaries", "workflow_execution_summaries"):
            summaries += conn.execute(
                sql.SQL(
                    "DELETE FROM {} WHERE coalesce(last_transition_at, updated_at) < %s"
                ).format(sql.Identifier(table)),
                (boundary,),
            ).rowcount
    return PruneResult(
        cutoff=boundary,
        dropped_partitions=tuple(dropped),
        deleted_default_rows=max(default_rows, 0),
        deleted_keys=max(keys, 0),
        deleted_summaries=max(summaries, 0),
    )


def _create_partition(conn: psycopg.Connection[Any], month: Month) -> None:
    table = sql.Identifier(month.table)
    start, end = sql.Literal(month.start), sql.Literal(month.end)
    conn.execute(sql.SQL("CREATE TABLE {} (LIKE audit_events INCLUDING DEFAULTS)").format(table))
    # Rows of this month that arrived before the partition existed.
    conn.execute(
        sql.SQL(
            "WITH moved AS (DELETE FROM audit_events_default"
            " WHERE occurred_at >= {start} AND occurred_at < {end} RETURNING *)"
            " INSERT INTO {table} SELECT * FROM moved"
        ).format(start=start, end=end, table=table)
    )
    conn.execute(
        sql.SQL("ALTER TABLE audit_events ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
            table, start, end
        )
    )
