"""A commit-time record of the store's events, for tests and benchmarks.

``EventLog(store, rtypes)`` watches the given types in-process and stamps
every event with ``time.monotonic()`` as the store commits it (an in-process
watch is delivered synchronously inside the commit), so orderings are exact
(resourceVersions) and latencies sub-millisecond, unlike the second-precision
timestamps inside objects::

    log = EventLog(store, [jobs, executions])
    ...
    log.close()
    log.events("jobs") -> [LoggedEvent(at, type, plural, namespace, name, resource_version, object)]

``Store.drop_watches`` closes these watches too: the record of that type ends
there and :attr:`EventLog.complete` turns false.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from devcluster.resources import ResourceType
from devcluster.store import Store
from devcluster.watch import Subscription, SubscriptionClosedError

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class LoggedEvent:
    at: float
    """``time.monotonic()`` when the store committed the change."""
    type: str
    """ADDED, MODIFIED or DELETED."""
    plural: str
    namespace: str
    name: str
    resource_version: int
    object: JsonObject


class EventLog:
    def __init__(self, store: Store, rtypes: Sequence[ResourceType]) -> None:
        self._lock = threading.Lock()
        self._events: list[LoggedEvent] = []
        self._subscriptions: list[Subscription] = []
        self._closing = False
        self.complete = True
        since = str(store.resource_version)
        for rtype in rtypes:
            subscription = store.watch(rtype, resource_version=since)
            subscription.set_notify(functools.partial(self._pull, subscription, rtype.plural))
            self._subscriptions.append(subscription)
            self._pull(subscription, rtype.plural)

    def _pull(self, subscription: Subscription, plural: str) -> None:
        now = time.monotonic()
        with self._lock:
            try:
                events = subscription.drain()
            except SubscriptionClosedError:
                events = []
            for event in events:
                meta = event.object.get("metadata") or {}
                self._events.append(
                    LoggedEvent(
                        now,
                        event.type,
                        plural,
                        str(meta.get("namespace") or ""),
                        str(meta.get("name") or ""),
                        event.resource_version,
                        event.object,
                    )
                )
            if subscription.closed and not self._closing:
                self.complete = False

    def events(self, plural: str | None = None) -> list[LoggedEvent]:
        """Everything recorded so far (of one type), in commit order."""
        with self._lock:
            return [e for e in self._events if plural is None or e.plural == plural]

    def close(self) -> None:
        with self._lock:
            self._closing = True
        for subscription in self._subscriptions:
            subscription.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
