from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from reconciler.audit import migrations, partitions, queries
from reconciler.audit.events import events_from_object, transition_event
from reconciler.audit.migrations import SchemaTooNewError
from reconciler.audit.partitions import Month
from reconciler.audit.store import AuditStore
from reconciler.audit.summaries import summary_of

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def _count(store: AuditStore, query: str, *params: Any) -> int:
    with store.connection() as conn:
        row = conn.execute(query.encode(), params).fetchone()
    assert row is not None
    return int(row[0])


def test_same_event_written_twice_is_stored_once(store: AuditStore, make_object: Any) -> None:
    rr = make_object(
        "RemediationRequest",
        "rr-1",
        uid="u1",
        remediation="rr-1",
        start=NOW,
        phases=["Pending", "Processing"],
    )
    event = transition_event(rr, 1)
    assert store.write([event, event]) == 1
    assert store.write([event]) == 0
    assert store.write(events_from_object(rr)) == 1
    assert _count(store, "SELECT count(*) FROM audit_events") == 2
    assert store.persisted_keys("u1") == {"transition/0", "transition/1"}


def test_retried_write_with_a_different_time_is_still_deduplicated(
    store: AuditStore, make_object: Any
) -> None:
    rr = make_object(
        "RemediationRequest", "rr-1", uid="u1", remediation="rr-1", start=NOW, phases=["Pending"]
    )
    event = transition_event(rr, 0)
    store.write([event])
    moved = dataclasses.replace(event, occurred_at=event.occurred_at - timedelta(days=40))
    assert store.write([moved]) == 0
    assert _count(store, "SELECT count(*) FROM audit_events") == 1


def test_trail_is_in_time_order_across_objects(store: AuditStore, make_object: Any) -> None:
    start = NOW.replace(microsecond=0)
    rr = make_object(
        "RemediationRequest",
        "rr-1",
        uid="rr",
        remediation="rr-1",
        start=start,
        phases=["Pending", "Processing", "Analyzing", "Executing", "Completed"],
        step=timedelta(seconds=20),
    )
    sp = make_object(
        "SignalProcessing",
        "rr-1-sp",
        uid="sp",
        remediation="rr-1",
        start=start + timedelta(seconds=25),
        phases=["Pending", "Enriching", "Completed"],
        step=timedelta(seconds=3),
    )
    other = make_object(
        "RemediationRequest", "rr-2", uid="rr2", remediation="rr-2", start=start, phases=["Pending"]
    )
    # Written out of order, in several batches.
    store.write(list(reversed(events_from_object(sp))))
    store.write(events_from_object(other) + list(reversed(events_from_object(rr))))
    with store.connection() as conn:
        trail = queries.remediation_trail(conn, "shop", "rr-1")
    times = [event["occurred_at"] for event in trail.events]
    assert times == sorted(times)
    assert len(trail.events) == 8
    assert {event["object_uid"] for event in trail.events} == {"rr", "sp"}


def test_event_lands_in_its_months_partition(store: AuditStore, make_object: Any) -> None:
    this_month = Month.of(NOW)
    next_month = this_month.shifted(1)
    long_ago = this_month.shifted(-30)
    for uid, month in (("a", this_month), ("b", next_month), ("c", long_ago)):
        obj = make_object(
            "RemediationRequest",
            f"rr-{uid}",
            uid=uid,
            remediation=f"rr-{uid}",
            start=month.start + timedelta(days=3),
            phases=["Pending"],
        )
        store.write(events_from_object(obj))
    with store.connection() as conn:
        rows = dict(
            conn.execute("SELECT object_uid, tableoid::regclass::text FROM audit_events").fetchall()
        )
    assert rows == {"a": this_month.table, "b": next_month.table, "c": "audit_events_default"}


def test_creating_a_partition_moves_waiting_rows_out_of_default(
    store: AuditStore, make_object: Any
) -> None:
    far = Month.of(NOW).shifted(5)
    obj = make_object(
        "RemediationRequest",
        "rr-f",
        uid="f",
        remediation="rr-f",
        start=far.start + timedelta(hours=1),
        phases=["Pending", "Processing"],
    )
    store.write(events_from_object(obj))
    with store.connection() as conn:
        created = partitions.ensure_partitions(conn, far.start, months_ahead=0)
        tables = {
            row[0]
            for row in conn.execute("SELECT tableoid::regclass::text FROM audit_events").fetchall()
        }
    assert created == [far.table]
    assert tables == {far.table}
    assert _count(store, "SELECT count(*) FROM audit_events") == 2


def test_partitions_are_created_ahead(store: AuditStore) -> None:
    with store.connection() as conn:
        months = partitions.existing_partitions(conn)
    assert months == [Month.of(NOW).shifted(offset) for offset in range(3)]


def test_retention_drops_exactly_the_old_partitions(store: AuditStore, make_object: Any) -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    with store.connection() as conn:
        for offset in range(-6, 1):
            partitions.ensure_partitions(conn, Month.of(now).shifted(offset).start, 0)
    for offset in range(-6, 1):
        month = Month.of(now).shifted(offset)
        obj = make_object(
            "RemediationRequest",
            f"rr{-offset}",
            uid=f"m{-offset}",
            remediation=f"rr{-offset}",
            start=month.start + timedelta(days=2),
            phases=["Pending", "Completed"],
        )
        store.write(events_from_object(obj), [summary_of(obj)])  # type: ignore[list-item]
    ancient = make_object(
        "RemediationRequest",
        "old",
        uid="old",
        remediation="old",
        start=datetime(2020, 1, 5, tzinfo=UTC),
        phases=["Pending"],
    )
    store.write(events_from_object(ancient))
    with store.connection() as conn:
        result = partitions.prune(conn, now, 90)
        remaining = partitions.existing_partitions(conn)
    # The cut-off is 2026-08-31: May, June and July go; August onwards stays.
    assert result.dropped_partitions == (
        "audit_events_p202605",
        "audit_events_p202606",
        "audit_events_p202607",
    )
    assert result.deleted_default_rows == 1
    assert Month(2026, 8) in remaining
    assert Month(2026, 7) not in remaining
    assert (
        _count(
            store,
            "SELECT count(*) FROM audit_events WHERE occurred_at < %s",
            datetime(2026, 8, 1, tzinfo=UTC),
        )
        == 0
    )
    assert _count(store, "SELECT count(*) FROM audit_events") == 4 * 2
    assert _count(store, "SELECT count(*) FROM audit_event_keys") == 4 * 2
    assert _count(store, "SELECT count(*) FROM remediation_summaries") == 4


def test_migrations_are_idempotent(store: AuditStore) -> None:
    with store.connection() as conn:
        assert migrations.migrate(conn) == []
        assert migrations.current_version(conn) == migrations.latest_version()
    assert _count(store, "SELECT count(*) FROM audit_schema_migrations") == 1


def test_concurrent_starters_apply_each_migration_once(postgres_dsn: str) -> None:
    errors: list[BaseException] = []
    applied: list[list[int]] = []

    def start() -> None:
        try:
            with psycopg.connect(postgres_dsn, autocommit=True) as conn:
                applied.append(migrations.migrate(conn))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(applied, key=len) == [[], [], [], [1]]


def test_newer_schema_is_refused(store: AuditStore) -> None:
    with store.connection() as conn:
        conn.execute("INSERT INTO audit_schema_migrations (version, name) VALUES (99, 'future')")
        with pytest.raises(SchemaTooNewError, match="version 99"):
            migrations.migrate(conn)


def test_summary_upsert_never_goes_back_in_time(store: AuditStore, make_object: Any) -> None:
    phases = ["Pending", "Processing", "Analyzing", "Executing", "Completed"]
    final = make_object(
        "RemediationRequest", "rr-1", uid="u", remediation="rr-1", start=NOW, phases=phases
    )
    earlier = make_object(
        "RemediationRequest", "rr-1", uid="u", remediation="rr-1", start=NOW, phases=phases[:2]
    )
    store.write([], [summary_of(final)])  # type: ignore[list-item]
    store.write([], [summary_of(earlier)])  # type: ignore[list-item]
    with store.connection() as conn:
        rows = queries.search_remediations(conn, fingerprint="c" * 64)
    assert [(row["name"], row["outcome"], row["phase"]) for row in rows] == [
        ("rr-1", "completed", "Completed")
    ]


def test_bad_input_is_stored_safely(store: AuditStore, make_object: Any) -> None:
    rr = make_object(
        "RemediationRequest",
        "rr-1",
        uid="u",
        remediation="rr-1",
        start=NOW,
        phases=["Pending", "Failed"],
    )
    hostile = "'); DROP TABLE audit_events; -- $1 %s \\x00 \u2603"
    rr["status"]["transitions"][0]["message"] = hostile
    rr["status"]["transitions"][0]["reason"] = "nul\x00here\ud800"
    rr["status"]["transitions"][1]["message"] = "y" * 100_000
    rr["status"]["transitions"][1]["extra"] = {"k\x00": "v\x00"}
    assert store.write(events_from_object(rr)) == 2
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT reason, message, payload FROM audit_events ORDER BY transition_index"
        ).fetchall()
    assert rows[0][1] == hostile
    assert rows[0][0] == "nul\ufffdhere\ufffd"
    assert rows[1][1].endswith("…[truncated 95904 chars]")
    assert rows[1][2]["transition"]["extra"] == {"k\ufffd": "v\ufffd"}
    assert _count(store, "SELECT count(*) FROM audit_events") == 2
