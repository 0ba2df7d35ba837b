from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from reconciler.audit import partitions
from reconciler.audit.events import transition_event
from reconciler.audit.partitions import Month
from reconciler.audit.store import AuditStore
from reconciler.audit.summaries import summary_of
from reconciler.audit.writer import AuditWriter, WriterSettings

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
PHASES = ["Pending", "Processing", "Analyzing", "Executing", "Completed"]
FAST = WriterSettings(batch_size=50, flush_interval=0.02, retry_initial=0.05, retry_max=0.5)


def _wait_until(condition: Callable[[], bool], deadline_seconds: float = 60.0) -> None:
    """Poll until ``condition`` holds; fail (not time) the test when it never does."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached")
        time.sleep(0.02)


def _metric(registry: CollectorRegistry, name: str) -> float:
    value = registry.get_sample_value(name)
    assert value is not None
    return value


def _rows(store: AuditStore) -> list[tuple[Any, ...]]:
    with store.connection() as conn:
        return conn.execute(
            "SELECT object_uid, event_key, transition_index, kind, namespace, name, remediation,"
            " signal_fingerprint, phase_from, phase_to, reason, message, actor, occurred_at,"
            " payload FROM audit_events ORDER BY object_uid, event_key"
        ).fetchall()


def _summaries(store: AuditStore) -> list[tuple[Any, ...]]:
    with store.connection() as conn:
        return conn.execute(
            "SELECT object_uid, outcome, phase, duration_seconds, phase_durations,"
            " transition_count FROM remediation_summaries ORDER BY object_uid"
        ).fetchall()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def writer(store: AuditStore, registry: CollectorRegistry) -> Iterator[AuditWriter]:
    audit_writer = AuditWriter(store, FAST, registry=registry)
    yield audit_writer
    audit_writer.close(timeout=5.0)


def _objects(make_object: Any, count: int, prefix: str = "rr") -> list[dict[str, Any]]:
    return [
        make_object(
            "RemediationRequest",
            f"{prefix}-{index}",
            uid=f"{prefix}-uid-{index}",
            remediation=f"{prefix}-{index}",
            start=START + timedelta(seconds=index),
            phases=PHASES,
        )
        for index in range(count)
    ]


def _record_live(writer: AuditWriter, obj: dict[str, Any]) -> None:
    """What the reconciler does: after each transition, record it and the summary."""
    final = obj["status"]["transitions"]
    for index in range(len(final)):
        snapshot = copy.deepcopy(obj)
        snapshot["status"]["transitions"] = final[: index + 1]
        snapshot["status"]["phase"] = final[index]["phase"]
        writer.record(transition_event(snapshot, index))
        summary = summary_of(snapshot)
        assert summary is not None
        writer.record(summary)


def test_events_survive_a_database_outage_exactly_once(
    writer: AuditWriter,
    store: AuditStore,
    registry: CollectorRegistry,
    postgres_server: Any,
    make_object: Any,
) -> None:
    objects = _objects(make_object, 60)
    for obj in objects[:20]:
        _record_live(writer, obj)
    _wait_until(lambda: writer.pending() == 0)

    postgres_server.halt()
    try:
        for obj in objects[20:40]:
            _record_live(writer, obj)
        # 20 objects x 5 transitions + 5 summaries each are waiting.
        assert _metric(registry, "kubernaut_audit_events_pending") >= 200
        assert writer.pending() >= 200
    finally:
        postgres_server.resume()
    for obj in objects[40:]:
        _record_live(writer, obj)
    _wait_until(lambda: writer.pending() == 0)

    rows = _rows(store)
    assert len(rows) == 60 * len(PHASES)
    assert len({(row[0], row[1]) for row in rows}) == len(rows)
    assert _metric(registry, "kubernaut_audit_events_lost_total") == 0
    assert _metric(registry, "kubernaut_audit_events_written_total") >= 60 * len(PHASES)
    assert _metric(registry, "kubernaut_audit_events_pending") == 0
    assert _metric(registry, "kubernaut_audit_flush_seconds_count") > 0
    assert [row[1] for row in _summaries(store)] == ["completed"] * 60


def test_overflow_during_outage_is_counted_and_rebuilt(
    store: AuditStore, registry: CollectorRegistry, postgres_server: Any, make_object: Any
) -> None:
    bounded = WriterSettings(
        batch_size=10, flush_interval=0.02, max_pending=20, retry_initial=0.05, retry_max=0.5
    )
    writer = AuditWriter(store, bounded, registry=registry)
    objects = {obj["metadata"]["uid"]: obj for obj in _objects(make_object, 8)}
    try:
        postgres_server.halt()
        try:
            for obj in objects.values():
                for index in range(len(PHASES)):
                    writer.record(transition_event(obj, index))
            lost = _metric(registry, "kubernaut_audit_events_lost_total")
            assert lost == 8 * len(PHASES) - 20
            assert writer.pending() == 20
            needing = writer.needs_rebuild()
            # The oldest events went: those of the first objects recorded.
            assert needing == {f"rr-uid-{index}" for index in range(4)}
        finally:
            postgres_server.resume()
        _wait_until(lambda: writer.pending() == 0)
        assert len(_rows(store)) == 20
        assert not any(writer.is_complete(objects[uid]) for uid in needing)

        # One at a time: four objects at once would overflow the tiny bound again.
        for uid in needing:
            writer.rebuild(objects[uid])
            _wait_until(lambda: writer.pending() == 0)
        assert writer.needs_rebuild() == frozenset()
        assert len(_rows(store)) == 8 * len(PHASES)
        assert all(writer.is_complete(obj) for obj in objects.values())
    finally:
        writer.close(timeout=5.0)


def test_rebuild_reproduces_the_live_rows(
    writer: AuditWriter, store: AuditStore, make_object: Any
) -> None:
    objects = _objects(make_object, 5)
    objects.append(
        make_object(
            "WorkflowExecution",
            "rr-0-workflow",
            uid="wfe-0",
            remediation="rr-0",
            start=START,
            phases=["Pending", "Planning", "Executing", "Failed"],
        )
    )
    for obj in objects:
        if obj["kind"] == "RemediationRequest":
            _record_live(writer, obj)
        else:
            for index in range(4):
                writer.record(transition_event(obj, index))
    _wait_until(lambda: writer.pending() == 0)
    live_rows, live_summaries = _rows(store), _summaries(store)

    with store.connection() as conn:
        conn.execute("TRUNCATE audit_events, audit_event_keys, remediation_summaries")
    for obj in objects:
        writer.rebuild(obj)
    _wait_until(lambda: writer.pending() == 0)

    assert len(live_rows) == 5 * len(PHASES) + 4
    assert _rows(store) == live_rows
    assert _summaries(store) == live_summaries


def test_is_complete_tracks_every_transition(
    writer: AuditWriter, store: AuditStore, make_object: Any
) -> None:
    (obj,) = _objects(make_object, 1)
    assert not writer.is_complete(obj)
    assert writer.wait_complete(obj, timeout=30.0)
    assert writer.is_complete(obj)
    with store.connection() as conn:
        conn.execute("DELETE FROM audit_event_keys WHERE event_key = 'transition/2'")
    assert not writer.is_complete(obj)


def test_is_complete_is_false_while_the_database_is_down(
    writer: AuditWriter, postgres_server: Any, make_object: Any
) -> None:
    (obj,) = _objects(make_object, 1)
    assert writer.wait_complete(obj, timeout=30.0)
    postgres_server.halt()
    try:
        assert not writer.is_complete(obj)
        assert not writer.wait_complete(obj, timeout=0.5)
    finally:
        postgres_server.resume()


def test_close_flushes_what_is_pending(
    store: AuditStore, registry: CollectorRegistry, make_object: Any
) -> None:
    lazy = WriterSettings(batch_size=10_000, flush_interval=3600.0)
    writer = AuditWriter(store, lazy, registry=registry)
    for obj in _objects(make_object, 30):
        writer.rebuild(obj)
    writer.close(timeout=30.0)
    assert len(_rows(store)) == 30 * len(PHASES)
    assert _metric(registry, "kubernaut_audit_events_lost_total") == 0


def test_close_counts_what_it_could_not_write(
    store: AuditStore, registry: CollectorRegistry, postgres_server: Any, make_object: Any
) -> None:
    writer = AuditWriter(store, FAST, registry=registry)
    postgres_server.halt()
    try:
        (obj,) = _objects(make_object, 1)
        writer.rebuild(obj)
        writer.close(timeout=0.5)
    finally:
        postgres_server.resume()
    assert _metric(registry, "kubernaut_audit_events_lost_total") == len(PHASES)
    assert writer.needs_rebuild() == {obj["metadata"]["uid"]}


def test_writer_keeps_partitions_ahead_and_applies_retention(
    store: AuditStore, registry: CollectorRegistry, make_object: Any
) -> None:
    today = datetime.now(UTC)
    later = today + timedelta(days=200)
    writer = AuditWriter(store, FAST, registry=registry, clock=lambda: later)
    try:
        (obj,) = _objects(make_object, 1)
        assert writer.wait_complete(obj, timeout=30.0)
    finally:
        writer.close(timeout=5.0)
    with store.connection() as conn:
        months = partitions.existing_partitions(conn)
    assert months == [Month.of(later).shifted(offset) for offset in range(3)]
    # Retention ran before the write: the (by then old) events wait in the
    # default partition for the next prune.
    with store.connection() as conn:
        tables = conn.execute("SELECT DISTINCT tableoid::regclass::text FROM audit_events")
        assert tables.fetchall() == [("audit_events_default",)]
    assert len(_rows(store)) == len(PHASES)


def test_record_after_close_is_counted_lost(
    store: AuditStore, registry: CollectorRegistry, make_object: Any
) -> None:
    writer = AuditWriter(store, FAST, registry=registry)
    writer.close(timeout=5.0)
    (obj,) = _objects(make_object, 1)
    writer.record(transition_event(obj, 0))
    assert _metric(registry, "kubernaut_audit_events_lost_total") == 1
    assert writer.needs_rebuild() == {obj["metadata"]["uid"]}


def test_a_newer_schema_keeps_events_queued_until_resolved(
    store: AuditStore, registry: CollectorRegistry, make_object: Any
) -> None:
    with store.connection() as conn:
        conn.execute("INSERT INTO audit_schema_migrations (version, name) VALUES (99, 'future')")
    writer = AuditWriter(store, FAST, registry=registry)
    try:
        (obj,) = _objects(make_object, 1)
        writer.rebuild(obj)
        assert not writer.wait_complete(obj, timeout=0.5)
        assert writer.pending() == len(PHASES) + 1
        assert _metric(registry, "kubernaut_audit_events_lost_total") == 0
        with store.connection() as conn:
            conn.execute("DELETE FROM audit_schema_migrations WHERE version = 99")
        assert writer.wait_complete(obj, timeout=60.0)
    finally:
        writer.close(timeout=5.0)
