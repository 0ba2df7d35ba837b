"""A tiny controller loop on the store's watch API.

Watches some resource types, maps each event to keys, and hands de-duplicated
keys to ``reconcile`` on one worker thread. ``reconcile`` returns the seconds
after which the key should be looked at again (or ``None``); an error is logged
and the key retried shortly. ``stop`` closes the watches and joins the threads.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from devcluster.errors import ApiError
from devcluster.resources import ResourceType
from devcluster.store import Store
from devcluster.watch import Subscription, SubscriptionClosedError, WatchEvent

_LOG = logging.getLogger("devcluster.controllers")
_ERROR_RETRY = 0.5


@dataclass(frozen=True)
class Source:
    """One watched type and how its events become keys."""

    rtype: ResourceType
    keys: Callable[[WatchEvent], Iterable[Hashable]]


class ControllerLoop:
    def __init__(
        self,
        store: Store,
        name: str,
        sources: list[Source],
        reconcile: Callable[[Hashable], float | None],
    ) -> None:
        self._store = store
        self._name = name
        self._sources = sources
        self._reconcile = reconcile
        self._cond = threading.Condition()
        self._ready: list[Hashable] = []
        self._queued: set[Hashable] = set()
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._counter = 0
        self._stopping = False
        self._subscriptions: list[Subscription] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for source in self._sources:
            subscription = self._subscribe(source)
            assert subscription is not None  # not stopping yet
            thread = threading.Thread(
                target=self._pump,
                args=(subscription, source),
                name=f"{self._name}-watch-{source.rtype.plural}",
                daemon=True,
            )
            self._threads.append(thread)
        self._threads.append(
            threading.Thread(target=self._work, name=f"{self._name}-worker", daemon=True)
        )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close()
        for thread in self._threads:
            thread.join(timeout=10)

    def enqueue(self, key: Hashable, after: float = 0.0) -> None:
        with self._cond:
            if after > 0:
                self._counter += 1
                heapq.heappush(self._delayed, (time.monotonic() + after, self._counter, key))
            elif key not in self._queued:
                self._queued.add(key)
                self._ready.append(key)
            self._cond.notify_all()

    def _subscribe(self, source: Source, closed: Subscription | None = None) -> Subscription | None:
        """Watch ``source`` (current objects arrive first as ADDED); None once stopping."""
        with self._cond:
            if closed is not None and closed in self._subscriptions:
                self._subscriptions.remove(closed)
            if self._stopping:
                return None
            subscription = self._store.watch(source.rtype)
            self._subscriptions.append(subscription)
            return subscription

    def _pump(self, subscription: Subscription, source: Source) -> None:
        current: Subscription | None = subscription
        while current is not None:
            try:
                event = current.next(timeout=1.0)
            except SubscriptionClosedError:
                # Stopped, or the store dropped every watch (``Store.drop_watches``):
                # watch again, as a controller's informer re-lists and re-watches.
                current = self._subscribe(source, closed=current)
                continue
            if event is not None:
                for key in source.keys(event):
                    self.enqueue(key)

    def _next(self) -> Hashable | None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    _when, _n, key = heapq.heappop(self._delayed)
                    if key not in self._queued:
                        self._queued.add(key)
                        self._ready.append(key)
                if self._ready:
                    key = self._ready.pop(0)
                    self._queued.discard(key)
                    return key
                timeout = self._delayed[0][0] - now if self._delayed else None
                self._cond.wait(timeout)
            return None

    def _work(self) -> None:
        while (key := self._next()) is not None:
            try:
                again = self._reconcile(key)
            except ApiError as err:
                if err.code != 409:
                    _LOG.warning(
                        "reconcile failed, retrying",
                        extra={"controller": self._name, "key": str(key), "error": err.message},
                    )
                again = _ERROR_RETRY
            except Exception:
                _LOG.exception(
                    "reconcile crashed, retrying", extra={"controller": self._name, "key": str(key)}
                )
                again = _ERROR_RETRY
            if again is not None:
                self.enqueue(key, again)
