"""Watch events, the retained history window, and per-watcher subscriptions."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from devcluster.errors import expired
from devcluster.selectors import FieldSelector, LabelSelector

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED (BOOKMARK is made by the HTTP layer)
    resource_version: int
    storage_key: tuple[str, str]
    object: JsonObject
    previous: JsonObject | None = None


class History:
    """The last ``capacity`` events; older resourceVersions are answered with 410 Expired."""

    def __init__(self, capacity: int) -> None:
        self._events: deque[WatchEvent] = deque()
        self._capacity = max(1, capacity)
        self._compacted = 0  # highest resourceVersion no longer retained

    def append(self, event: WatchEvent) -> None:
        self._events.append(event)
        while len(self._events) > self._capacity:
            self._compacted = self._events.popleft().resource_version

    def since(self, resource_version: int, storage_key: tuple[str, str]) -> list[WatchEvent]:
        """Events after ``resource_version``; raises 410 when that part of history is gone."""
        if resource_version < self._compacted:
            raise expired(resource_version, self._compacted + 1)
        return [
            e
            for e in self._events
            if e.resource_version > resource_version and e.storage_key == storage_key
        ]


class SubscriptionClosedError(Exception):
    """The subscription was stopped (client gone, or streams dropped on purpose)."""


@dataclass(frozen=True)
class WatchFilter:
    storage_key: tuple[str, str]
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector

    def _matches(self, obj: JsonObject) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return self.labels.matches(meta.get("labels")) and self.fields.matches(obj)

    def translate(self, event: WatchEvent) -> WatchEvent | None:
        """The event this watcher sees: selector transitions turn MODIFIED into ADDED/DELETED."""
        if event.storage_key != self.storage_key:
            return None
        now = self._matches(event.object)
        if event.type != "MODIFIED" or event.previous is None:
            return event if now else None
        before = self._matches(event.previous)
        if now and before:
            return event
        if now:
            return WatchEvent("ADDED", event.resource_version, event.storage_key, event.object)
        if before:
            return WatchEvent("DELETED", event.resource_version, event.storage_key, event.object)
        return None


class Subscription:
    """A thread-safe queue of one watcher's events, filled by the store."""

    def __init__(self, watch_filter: WatchFilter, on_close: Callable[[Subscription], None]) -> None:
        self.filter = watch_filter
        self._events: deque[WatchEvent] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._on_close = on_close
        self._notify: Callable[[], None] | None = None

    def set_notify(self, notify: Callable[[], None]) -> None:
        """Called (from any thread) whenever an event arrives or the subscription closes."""
        self._notify = notify

    def deliver(self, event: WatchEvent, *, wake: bool = True) -> bool:
        """Queue the event if this watcher sees it; ``wake=False`` leaves the callback to
        :meth:`wake` (the store calls it once its lock is released). True when queued."""
        seen = self.filter.translate(event)
        if seen is None:
            return False
        with self._cond:
            if self._closed:
                return False
            self._events.append(seen)
            self._cond.notify_all()
        if wake:
            self.wake()
        return True

    def wake(self) -> None:
        """Run the notify callback (see :meth:`set_notify`)."""
        if self._notify is not None:
            self._notify()

    def drain(self) -> list[WatchEvent]:
        """Everything queued so far; raises :class:`SubscriptionClosedError` once closed."""
        with self._cond:
            if not self._events and self._closed:
                raise SubscriptionClosedError
            events = list(self._events)
            self._events.clear()
            return events

    def next(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, or ``None`` after ``timeout`` seconds without one."""
        with self._cond:
            if not self._events and not self._closed:
                self._cond.wait(timeout)
            if self._events:
                return self._events.popleft()
            if self._closed:
                raise SubscriptionClosedError
            return None

    def __iter__(self) -> Iterator[WatchEvent]:
        while True:
            try:
                event = self.next()
            except SubscriptionClosedError:
                return
            if event is not None:
                yield event

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._on_close(self)
        if self._notify is not None:
            self._notify()
