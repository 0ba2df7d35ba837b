"""A rate-limited, de-duplicating work queue, with the semantics of client-go's workqueue.

* A key added while it is queued is queued once (de-duplication).
* A key is never handed to two workers at once: a key added while a worker
  holds it is queued again when that worker calls :meth:`WorkQueue.done`.
* :meth:`WorkQueue.add_rate_limited` delays a key by its own exponential
  backoff (``base * 2**failures``, capped); :meth:`WorkQueue.forget` resets it.
* :meth:`WorkQueue.add_after` delays a key by a fixed time (``requeue_after``);
  of several pending delays for one key the earliest wins.

Thread-safe; the clock is injectable so the timing logic is testable without
sleeping.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Backoff:
    """Per-key exponential backoff: ``base`` doubled per failure, never above ``cap`` (seconds)."""

    base: float = 0.005
    cap: float = 300.0

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        # 2**exponent overflows float for large counts; the cap is reached long before.
        exponent = min(failures - 1, 64)
        return float(min(self.cap, self.base * 2**exponent))


@dataclass(order=True)
class _Delayed(Generic[K]):
    ready_at: float
    sequence: int
    key: K = field(compare=False)


class ShutDownError(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down and drained of waiters."""


class WorkQueue(Generic[K]):
    def __init__(
        self,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._condition = threading.Condition()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._failures: dict[K, int] = {}
        self._delayed: list[_Delayed[K]] = []
        self._delayed_at: dict[K, float] = {}
        self._sequence = 0
        self._shutting_down = False

    # ----------------------------------------------------------------- adding

    def add(self, key: K) -> None:
        with self._condition:
            self._add_locked(key)

    def _add_locked(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._condition.notify()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds (immediately when ``delay <= 0``)."""
        if delay <= 0:
            self.add(key)
            return
        with self._condition:
            if self._shutting_down:
                return
            ready_at = self._clock() + delay
            current = self._delayed_at.get(key)
            if current is not None and current <= ready_at:
                return
            self._delayed_at[key] = ready_at
            self._sequence += 1
            heapq.heappush(self._delayed, _Delayed(ready_at, self._sequence, key))
            self._condition.notify()

    def add_rate_limited(self, key: K) -> float:
        """Queue ``key`` after its backoff; returns the delay chosen."""
        with self._condition:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
        delay = self._backoff.delay(failures)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset the backoff of ``key`` (after a successful reconcile)."""
        with self._condition:
            self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        with self._condition:
            return self._failures.get(key, 0)

    # ---------------------------------------------------------------- taking

    def _promote_due_locked(self) -> float | None:
        """Move due delayed keys to the queue; return seconds until the next one is due."""
        now = self._clock()
        while self._delayed:
            head = self._delayed[0]
            if self._delayed_at.get(head.key) != head.ready_at:
                heapq.heappop(self._delayed)  # superseded by an earlier delay
                continue
            if head.ready_at > now:
                return head.ready_at - now
            heapq.heappop(self._delayed)
            del self._delayed_at[head.key]
            self._add_locked(head.key)
        return None

    def get(self, timeout: float | None = None) -> K | None:
        """Take the next key, waiting up to ``timeout`` seconds (None: until one comes).

        Returns None on timeout. Raises :class:`ShutDownError` after :meth:`shutdown`.
        The caller must call :meth:`done` with the key when finished with it.
        """
        deadline = None if timeout is None else self._clock() + timeout
        with self._condition:
            while True:
                if self._shutting_down:
                    raise ShutDownError
                next_due = self._promote_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    return key
                wait = next_due
                if deadline is not None:
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        return None
                    wait = remaining if wait is None else min(wait, remaining)
                self._condition.wait(wait)

    def done(self, key: K) -> None:
        with self._condition:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._condition.notify()

    # ------------------------------------------------------------- lifecycle

    def shutdown(self) -> None:
        with self._condition:
            self._shutting_down = True
            self._condition.notify_all()

    @property
    def shutting_down(self) -> bool:
        with self._condition:
            return self._shutting_down

    def __len__(self) -> int:
        """Keys ready to be taken (the depth metric); delayed keys are not counted."""
        with self._condition:
            self._promote_due_locked()
            return len(self._queue)

    def delayed(self) -> int:
        with self._condition:
            return len(self._delayed_at)
