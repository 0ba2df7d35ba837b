"""Audit benchmarks: writer throughput and ``audit show`` latency at 1M events.

Run: ``.venv/bin/python tests/bench/audit_bench.py [--events 200000] [--rows 1000000]``.
Starts its own embedded PostgreSQL in a temporary directory and prints numbers.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry

from reconciler.audit import queries
from reconciler.audit.embedded import EmbeddedPostgres
from reconciler.audit.events import AuditEvent
from reconciler.audit.store import AuditStore
from reconciler.audit.writer import AuditWriter, WriterSettings

_PHASES = ["Pending", "Processing", "Analyzing", "Executing", "Completed"]


def _events(count: int, start: datetime) -> list[AuditEvent]:
    events = []
    for index in range(count):
        obj, transition = divmod(index, len(_PHASES))
        events.append(
            AuditEvent(
                object_uid=f"bench-{obj}",
                event_key=f"transition/{transition}",
                transition_index=transition,
                kind="RemediationRequest",
                namespace="bench",
                name=f"rr-{obj}",
                remediation=f"rr-{obj}",
                signal_fingerprint="e" * 64,
                phase_from=_PHASES[transition - 1] if transition else None,
                phase_to=_PHASES[transition],
                reason=f"To{_PHASES[transition]}",
                message="moved on",
                actor="kubernaut-reconciler",
                occurred_at=start + timedelta(seconds=index),
                payload={"transition": {"phase": _PHASES[transition]}},
            )
        )
    return events


def bench_writer(store: AuditStore, count: int) -> None:
    events = _events(count, datetime.now(UTC) - timedelta(days=1))
    settings = WriterSettings(batch_size=5000, flush_interval=0.05, max_pending=count + 1)
    writer = AuditWriter(store, settings, registry=CollectorRegistry())
    writer.flush_soon()
    time.sleep(0.5)  # let the writer prepare the schema before timing
    started = time.perf_counter()
    for event in events:
        writer.record(event)
    enqueued = time.perf_counter() - started
    while writer.pending():
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    writer.close()
    print(
        f"writer: {count} events in {elapsed:.2f}s = {count / elapsed:,.0f} events/s end to end"
        f" (record() calls took {enqueued * 1e6 / count:.1f} us each)"
    )


def bench_show(store: AuditStore, rows: int, samples: int) -> None:
    per_remediation = 20
    remediations = rows // per_remediation
    now = datetime.now(UTC)
    started = time.perf_counter()
    with store.connection() as conn:
        # Spread over the last 60 days: several monthly partitions plus the default one.
        conn.execute(
            "INSERT INTO audit_events (object_uid, event_key, transition_index, kind, namespace,"
            " name, remediation, signal_fingerprint, phase_from, phase_to, reason, message,"
            " actor, occurred_at, payload)"
            " SELECT 'uid-' || (g / %(per)s) || '-' || (g %% 4), 'transition/' || (g %% %(per)s),"
            " g %% %(per)s, 'RemediationRequest', 'ns-' || (g / %(per)s %% 50),"
            " 'rr-' || (g / %(per)s), 'rr-' || (g / %(per)s), md5((g / %(per)s)::text),"
            " 'Processing', 'Executing', 'Seeded', repeat('m', 80), 'kubernaut-reconciler',"
            " %(now)s - make_interval(secs => (%(rows)s - g) * 5.0), '{}'::jsonb"
            " FROM generate_series(0, %(rows)s - 1) AS g",
            {"per": per_remediation, "rows": rows, "now": now},
        )
        conn.execute("ANALYZE audit_events")
        total = conn.execute("SELECT count(*) FROM audit_events").fetchone()
    print(f"seeded {total[0] if total else 0:,} events in {time.perf_counter() - started:.1f}s")

    rng = random.Random(7)
    timings = []
    with store.connection() as conn:
        for _ in range(samples):
            remediation = rng.randrange(remediations)
            t0 = time.perf_counter()
            trail = queries.remediation_trail(conn, f"ns-{remediation % 50}", f"rr-{remediation}")
            timings.append((time.perf_counter() - t0) * 1000)
            assert len(trail.events) == per_remediation
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"audit show over {total[0] if total else 0:,} events: {samples} queries,"
        f" p50 {statistics.median(timings):.2f} ms, p95 {p95:.2f} ms, max {timings[-1]:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kubernaut-bench-pg-"))
    try:
        with EmbeddedPostgres(root / "data") as server:
            store = AuditStore(server.dsn)
            store.prepare(datetime.now(UTC))
            bench_writer(store, args.events)
            with store.connection() as conn:
                conn.execute("TRUNCATE audit_events, audit_event_keys")
            bench_show(store, args.rows, args.samples)
            store.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
