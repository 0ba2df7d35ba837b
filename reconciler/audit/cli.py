"""``kubernaut audit``: show, search, migrate and prune the audit trail."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from kubernaut.errors import CommandError

if TYPE_CHECKING:
    from reconciler.audit.store import AuditStore

_DURATION_PART = re.compile(r"(\d+)(w|d|h|m|s)")
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--audit-dsn",
        metavar="DSN",
        help="PostgreSQL connection string (env KUBERNAUT_AUDIT_DSN); "
        "without one an embedded PostgreSQL is used",
    )
    common.add_argument(
        "--audit-data-dir",
        metavar="DIR",
        help="data directory of the embedded PostgreSQL (env KUBERNAUT_AUDIT_DATA_DIR)",
    )
    audit = subparsers.add_parser("audit", help="inspect and maintain the audit trail")
    commands = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)

    show = commands.add_parser(
        "show", parents=[common], help="print the audit trail of one remediation"
    )
    show.add_argument("remediation", help="name of the RemediationRequest")
    show.add_argument("-n", "--namespace", default="default")
    show.add_argument("-o", "--output", choices=("table", "json"), default="table")
    show.set_defaults(handler=_show)

    search = commands.add_parser("search", parents=[common], help="find remediations")
    search.add_argument("--fingerprint", help="signal fingerprint")
    search.add_argument("--since", type=_since, help="started within this duration (1h, 7d)")
    search.add_argument(
        "--outcome",
        type=str.lower,
        choices=("completed", "failed", "timedout", "skipped", "in-progress"),
    )
    search.add_argument("-n", "--namespace")
    search.add_argument("--limit", type=_positive, default=100)
    search.add_argument("-o", "--output", choices=("table", "json"), default="table")
    search.set_defaults(handler=_search)

    migrate = commands.add_parser(
        "migrate", parents=[common], help="apply the audit schema migrations"
    )
    migrate.set_defaults(handler=_migrate)

    prune = commands.add_parser(
        "prune", parents=[common], help="drop the monthly partitions older than the retention"
    )
    prune.add_argument("--retention-days", type=_positive, default=90)
    prune.set_defaults(handler=_prune)


def _show(args: argparse.Namespace) -> int:
    from reconciler.audit import queries, render

    def run(store: AuditStore) -> int:
        with store.connection() as conn:
            trail = queries.remediation_trail(conn, args.namespace, args.remediation)
        if not trail.events and trail.summary is None:
            print(
                f"kubernaut audit show: no audit trail for remediation"
                f" {args.namespace}/{args.remediation}",
                file=sys.stderr,
            )
            return 1
        print(render.trail_json(trail) if args.output == "json" else render.trail_table(trail))
        return 0

    return _with_store(args, run)


def _search(args: argparse.Namespace) -> int:
    from reconciler.audit import queries, render

    def run(store: AuditStore) -> int:
        with store.connection() as conn:
            rows = queries.search_remediations(
                conn,
                fingerprint=args.fingerprint,
                since=args.since,
                outcome=args.outcome,
                namespace=args.namespace,
                limit=args.limit,
            )
        print(render.search_json(rows) if args.output == "json" else render.search_table(rows))
        return 0

    return _with_store(args, run)


def _migrate(args: argparse.Namespace) -> int:
    from reconciler.audit import migrations

    def run(store: AuditStore) -> int:
        with store.connection() as conn:
            version = migrations.current_version(conn)
        print(f"audit schema at version {version} ({store.where})")
        return 0

    return _with_store(args, run)


def _prune(args: argparse.Namespace) -> int:
    def run(store: AuditStore) -> int:
        result = store.prune(datetime.now(UTC), args.retention_days)
        dropped = ", ".join(result.dropped_partitions) or "none"
        print(
            f"pruned audit data before {result.cutoff.date().isoformat()}: partitions dropped:"
            f" {dropped}; {result.deleted_default_rows} unpartitioned events,"
            f" {result.deleted_summaries} summaries deleted"
        )
        return 0

    return _with_store(args, run)


def _with_store(args: argparse.Namespace, run: Callable[[AuditStore], int]) -> int:
    """Open the store (migrated, partitions ensured), run, and map failures to one line."""
    import psycopg

    from reconciler.audit.embedded import EmbeddedPostgresError
    from reconciler.audit.migrations import SchemaTooNewError
    from reconciler.audit.runtime import AuditConfig, open_store
    from reconciler.audit.store import StoreUnavailableError

    config = AuditConfig.resolve(args.audit_dsn, args.audit_data_dir, os.environ)
    try:
        with open_store(config, probe_first=True) as store:
            store.prepare(datetime.now(UTC))
            return run(store)
    except (StoreUnavailableError, EmbeddedPostgresError, SchemaTooNewError) as err:
        raise CommandError(str(err)) from None
    except psycopg.Error as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CommandError(f"audit database error: {first_line}") from None


def _since(text: str) -> datetime:
    return datetime.now(UTC) - parse_duration(text)


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"30m"``, ``"1h30m"``, ``"7d"``, ``"2w"`` as a timedelta."""
    position, seconds = 0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += int(match[1]) * _UNIT_SECONDS[match[2]]
        position = match.end()
    if not text or position != len(text):
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use numbers with units w, d, h, m, s (e.g. 1h30m)"
        )
    return timedelta(seconds=seconds)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value
