"""The audit writer: batched, off the caller's path, and losing nothing silently.

``record()`` only appends to a bounded in-memory queue and returns; a
background thread writes batches to the :class:`AuditStore`. While the
database is unreachable the events stay queued and the thread retries with
exponential backoff. When the queue is full the oldest event is dropped: the
drop is counted (``kubernaut_audit_events_lost_total``), logged as an error,
and the object's uid is remembered in :meth:`AuditWriter.needs_rebuild`, so
the caller re-derives its trail from ``status.transitions`` with
:meth:`AuditWriter.rebuild` once the database is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

import psycopg
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from reconciler.audit import events as audit_events
from reconciler.audit.events import AuditEvent
from reconciler.audit.partitions import DEFAULT_RETENTION_DAYS
from reconciler.audit.store import AuditStore, StoreUnavailableError
from reconciler.audit.summaries import RemediationSummary, Summary, WorkflowSummary, summary_of

_log = logging.getLogger(__name__)

Item = AuditEvent | Summary
# Trouble that waiting can cure: the items stay queued and the write is retried.
_RETRYABLE = (
    StoreUnavailableError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WriterSettings:
    batch_size: int = 500
    flush_interval: float = 0.2
    max_pending: int = 100_000
    retry_initial: float = 0.1
    retry_max: float = 30.0
    # Daily, the writer drops the monthly partitions older than this (None: never).
    retention_days: int | None = DEFAULT_RETENTION_DAYS

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_pending < 1:
            raise ValueError("batch_size and max_pending must be at least 1")
        if self.flush_interval <= 0 or self.retry_initial <= 0 or self.retry_max <= 0:
            raise ValueError("flush_interval and retry delays must be positive")
        if self.retention_days is not None and self.retention_days < 1:
            raise ValueError("retention_days must be at least 1")


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.written = Counter(
            "kubernaut_audit_events_written_total",
            "Audit events acknowledged by the database (new or already stored).",
            registry=registry,
        )
        self.pending = Gauge(
            "kubernaut_audit_events_pending",
            "Audit events and summaries queued, not yet written.",
            registry=registry,
        )
        self.lost = Counter(
            "kubernaut_audit_events_lost_total",
            "Audit events dropped before reaching the database.",
            registry=registry,
        )
        self.flush_seconds = Histogram(
            "kubernaut_audit_flush_seconds",
            "Time to write one batch to the database.",
            registry=registry,
        )


@dataclass(slots=True)
class _Entry:
    seq: int
    item: Item


class AuditWriter:
    """Queue audit events and write them in the background. Thread-safe."""

    def __init__(
        self,
        store: AuditStore,
        settings: WriterSettings | None = None,
        *,
        registry: CollectorRegistry = REGISTRY,
        clock: Clock = _utc_now,
    ) -> None:
        self._store = store
        self._settings = settings or WriterSettings()
        self._clock = clock
        self._metrics = _Metrics(registry)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: deque[_Entry] = deque()
        self._next_seq = 0
        self._needs_rebuild: set[str] = set()
        self._dropped_unlogged: dict[str, int] = {}
        self._stopping = False
        self._shutdown_deadline = float("inf")
        self._flush_requested = False
        self._maintained_on: date | None = None
        self._thread = threading.Thread(
            target=self._run, name="kubernaut-audit-writer", daemon=True
        )
        self._thread.start()

    # -- the caller's side: never blocks on the database, never raises on it --

    def record(self, item: Item) -> None:
        """Queue an event or a summary for writing (after :meth:`close`: counted as lost)."""
        with self._lock:
            if self._stopping:
                self._count_lost(item)
                return
            self._append(item)
            if len(self._pending) >= self._settings.batch_size:
                self._wake.notify()

    def rebuild(self, obj: Mapping[str, Any]) -> int:
        """Queue every transition event and the summary derived from ``obj``'s status.

        Idempotent: events already stored are stored once, items already
        queued are not queued again. Returns the number of items queued.
        Raises :class:`~reconciler.audit.events.InvalidObjectError` for an
        object without uid, kind or name, or with a malformed transition.
        """
        derived: list[Item] = list(audit_events.events_from_object(obj))
        summary = summary_of(obj)
        if summary is not None:
            derived.append(summary)
        uid = audit_events.object_uid(obj)
        with self._lock:
            self._needs_rebuild.discard(uid)
            queued = [entry.item for entry in self._pending if entry.item.object_uid == uid]
            fresh = [item for item in derived if item not in queued]
            for item in fresh:
                self._append(item)
            self._wake.notify()
        return len(fresh)

    def needs_rebuild(self) -> frozenset[str]:
        """Uids of objects some of whose events were dropped; pass each to :meth:`rebuild`."""
        with self._lock:
            return frozenset(self._needs_rebuild)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def is_complete(self, obj: Mapping[str, Any], timeout: float = 1.0) -> bool:
        """Whether every transition of ``obj`` is persisted.

        False while unsure: events still queued, or the database not answering
        within ``timeout`` seconds.
        """
        uid = audit_events.object_uid(obj)
        with self._lock:
            if uid in self._needs_rebuild:
                return False
            if any(_uid_of(entry.item) == uid for entry in self._pending):
                return False
        try:
            stored = self._store.persisted_keys(uid, timeout=max(timeout, 0.01))
        except (StoreUnavailableError, psycopg.Error):
            return False
        return audit_events.expected_event_keys(obj) <= stored

    def wait_complete(self, obj: Mapping[str, Any], timeout: float) -> bool:
        """Rebuild ``obj``'s trail and wait at most ``timeout`` seconds for it to be stored."""
        deadline = time.monotonic() + timeout
        if self.is_complete(obj, min(timeout, 1.0)):
            return True
        self.rebuild(obj)
        while True:
            self.flush_soon()
            remaining = deadline - time.monotonic()
            if remaining > 0 and self.is_complete(obj, remaining):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.05, remaining))

    def flush_soon(self) -> None:
        """Ask the background thread to write what is queued without waiting for a full batch."""
        with self._lock:
            self._flush_requested = True
            self._wake.notify()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued within ``timeout`` seconds, then stop.

        Whatever could not be written by then is counted as lost and logged.
        """
        with self._lock:
            self._stopping = True
            self._shutdown_deadline = time.monotonic() + timeout
            self._wake.notify()
        self._thread.join(timeout + 1.0)
        with self._lock:
            leftover = list(self._pending)
            self._pending.clear()
            for entry in leftover:
                self._count_lost(entry.item)
            self._metrics.pending.set(0)
        self._log_drops()

    # -- queue internals (called with the lock held) --

    def _append(self, item: Item) -> None:
        if len(self._pending) >= self._settings.max_pending:
            self._count_lost(self._pending.popleft().item)
        self._pending.append(_Entry(self._next_seq, item))
        self._next_seq += 1
        self._metrics.pending.set(len(self._pending))

    def _count_lost(self, item: Item) -> None:
        uid = _uid_of(item)
        if isinstance(item, AuditEvent):
            self._metrics.lost.inc()
        self._needs_rebuild.add(uid)
        self._dropped_unlogged[uid] = self._dropped_unlogged.get(uid, 0) + 1

    # -- the background thread --

    def _run(self) -> None:
        delay = self._settings.retry_initial
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._log_drops()
            if not batch:
                continue
            try:
                # Unreachable, or the schema cannot be prepared: keep everything, retry.
                self._ensure_prepared()
            except Exception as err:
                if not self._back_off(err, delay):
                    return
                delay = min(delay * 2, self._settings.retry_max)
                continue
            try:
                self._write(batch)
            except _RETRYABLE as err:
                if not self._back_off(err, delay):
                    return
                delay = min(delay * 2, self._settings.retry_max)
                continue
            except Exception:
                # The database is there but refuses this batch: isolate the culprit.
                _log.exception("audit batch rejected; writing its items one by one")
                self._write_one_by_one(batch)
            delay = self._settings.retry_initial

    def _back_off(self, err: Exception, delay: float) -> bool:
        """Log why nothing was written and wait; False when shutdown's deadline passed."""
        outage = isinstance(
            err, StoreUnavailableError | psycopg.OperationalError | psycopg.InterfaceError
        )
        _log.log(
            logging.WARNING if outage else logging.ERROR,
            "audit events not written; %d items pending, retrying in %.1fs: %s",
            self.pending(),
            delay,
            err,
        )
        return self._sleep(delay)

    def _next_batch(self) -> list[_Entry] | None:
        """Wait for a full batch, the flush interval or shutdown; None means stop now."""
        size = self._settings.batch_size
        with self._lock:
            if not self._stopping and len(self._pending) < size and not self._flush_requested:
                self._wake.wait(self._settings.flush_interval)
            self._flush_requested = False
            if self._stopping and (not self._pending or self._past_deadline()):
                return None
            return list(islice(self._pending, size))

    def _write(self, batch: Sequence[_Entry]) -> None:
        items = [entry.item for entry in batch]
        written_events = [item for item in items if isinstance(item, AuditEvent)]
        summaries = [
            item for item in items if isinstance(item, RemediationSummary | WorkflowSummary)
        ]
        started = time.perf_counter()
        self._store.write(written_events, summaries)
        self._metrics.flush_seconds.observe(time.perf_counter() - started)
        self._metrics.written.inc(len(written_events))
        self._acknowledge(batch[-1].seq)

    def _write_one_by_one(self, batch: Sequence[_Entry]) -> None:
        for entry in batch:
            try:
                self._write([entry])
            except _RETRYABLE:
                return  # the outer loop retries from this entry on
            except Exception:
                _log.exception(
                    "audit item of object %s cannot be stored; dropped", _uid_of(entry.item)
                )
                with self._lock:
                    self._count_lost(entry.item)
                    self._acknowledge_locked(entry.seq)

    def _ensure_prepared(self) -> None:
        """Once a day: migrations, partitions ahead, retention."""
        now = self._clock()
        if self._maintained_on == now.date():
            return
        self._store.prepare(now)
        retention = self._settings.retention_days
        if retention is not None:
            try:
                result = self._store.prune(now, retention)
            except _RETRYABLE:
                raise
            except Exception:
                _log.exception("audit retention failed; events are still written")
            else:
                if result.dropped_partitions:
                    _log.info(
                        "audit retention dropped partitions %s",
                        ", ".join(result.dropped_partitions),
                    )
        self._maintained_on = now.date()

    def _acknowledge(self, last_seq: int) -> None:
        with self._lock:
            self._acknowledge_locked(last_seq)

    def _acknowledge_locked(self, last_seq: int) -> None:
        # Entries dropped meanwhile are gone from the front already; everything
        # at or before last_seq that is still queued was just written.
        while self._pending and self._pending[0].seq <= last_seq:
            self._pending.popleft()
        self._metrics.pending.set(len(self._pending))

    def _sleep(self, seconds: float) -> bool:
        """Back off (new events do not cut it short, shutdown does).

        Returns False when shutdown's deadline has passed meanwhile.
        """
        end = time.monotonic() + seconds
        with self._lock:
            while True:
                if self._stopping:
                    end = min(end, self._shutdown_deadline)
                remaining = end - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.wait(remaining)
            return not (self._stopping and self._past_deadline())

    def _past_deadline(self) -> bool:
        return time.monotonic() >= self._shutdown_deadline

    def _log_drops(self) -> None:
        with self._lock:
            dropped, self._dropped_unlogged = self._dropped_unlogged, {}
        for uid, count in dropped.items():
            _log.error(
                "dropped %d audit items of object %s; its trail must be rebuilt from status",
                count,
                uid,
                extra={"object_uid": uid, "dropped": count},
            )


def _uid_of(item: Item) -> str:
    return item.object_uid
