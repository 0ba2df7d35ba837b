"""Versioned SQL migrations, applied at start-up.

Migrations are the files ``sql/NNNN_name.sql`` shipped with the
package, applied in version order, each recorded in ``audit_schema_migrations``.
Applying is idempotent and concurrent starters are serialised with a
transaction-scoped advisory lock; a database whose schema is newer than this
code knows is refused, never written to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

# Arbitrary but fixed: the advisory lock every kubernaut audit migrator takes.
_LOCK_KEY = 0x6B61_7564_6974  # "kaudit"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer kubernaut than this one."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> tuple[Migration, ...]:
    """The migrations shipped with this code, in version order."""
    found: list[Migration] = []
    for entry in resources.files("reconciler.audit.sql").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"audit migrations are not numbered 1..n without gaps: {versions}")
    return tuple(found)


def latest_version() -> int:
    return len(available_migrations())


def migrate(conn: psycopg.Connection[Any]) -> list[int]:
    """Bring the schema up to date; return the versions applied now (empty if none)."""
    migrations = available_migrations()
    known = len(migrations)
    applied: list[int] = []
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS audit_schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT coalesce(max(version), 0) FROM audit_schema_migrations")
        row = cur.fetchone()
        current = int(row[0]) if row else 0
        if current > known:
            raise SchemaTooNewError(
                f"the audit database schema is at version {current} but this kubernaut "
                f"knows versions up to {known}; upgrade kubernaut"
            )
        for migration in migrations[current:]:
            cur.execute(migration.sql.encode("utf-8"))
            cur.execute(
                "INSERT INTO audit_schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration.version)
    return applied


def current_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the database (0 for a database never migrated)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('audit_schema_migrations') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            return 0
        cur.execute("SELECT coalesce(max(version), 0) FROM audit_schema_migrations")
        row = cur.fetchone()
        return int(row[0]) if row else 0
