"""List-then-watch of one kind into a :class:`~reconciler.cache.Cache`, with event callbacks.

The loop, as client-go's reflector does it:

1. list, replace the cache (objects that vanished are reported as deleted),
   remember the list's resourceVersion;
2. watch from that resourceVersion with bookmarks, applying each event to the
   cache and advancing the resourceVersion (bookmarks advance it too);
3. when the server ends the stream (its ``timeoutSeconds``), watch again from
   the last resourceVersion; when the stream is silent for longer than the
   read timeout or the connection fails, wait a backoff and watch again;
4. on 410 Gone (our resourceVersion fell out of the server's history), go
   back to 1.

:meth:`Informer.resync` reports every cached object again (``SYNC``); the
manager calls it periodically so a controller re-checks what it could have
missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.cache import Cache
from reconciler.kube import ApiError, KubeClient, Resource
from reconciler.workqueue import Backoff

JSON = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED", "SYNC"]
Handler = Callable[[EventType, JSON], None]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InformerSettings:
    watch_timeout_seconds: int = 300
    # Bookmarks arrive about once a minute on a real server: twice that is a dead stream.
    read_timeout: float = 120.0
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.2, cap=30.0))


class Informer:
    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        namespace: str | None = None,
        *,
        settings: InformerSettings | None = None,
        label_selector: str | None = None,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.settings = settings or InformerSettings()
        self.label_selector = label_selector
        self.cache = Cache()
        self.synced = threading.Event()
        self._handlers: list[Handler] = []
        self.relists = 0
        self.rewatches = 0

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def _emit(self, event_type: EventType, obj: JSON) -> None:
        for handler in self._handlers:
            try:
                handler(event_type, obj)
            except Exception:
                _log.exception("informer handler failed", extra={"kind": self.resource.kind})

    # ------------------------------------------------------------------ list

    def _list(self) -> str:
        listing = self.client.list(
            self.resource, self.namespace, label_selector=self.label_selector
        )
        version = str((listing.get("metadata") or {}).get("resourceVersion", ""))
        items = listing.get("items") or []
        for item in items:
            # List items carry no kind/apiVersion; the watch events do. Make them alike.
            item.setdefault("kind", self.resource.kind)
            item.setdefault("apiVersion", self.resource.api_version)
        gone = self.cache.replace(items, version)
        for obj in gone:
            self._emit("DELETED", obj)
        for obj in items:
            self._emit("ADDED", obj)
        self.relists += 1
        self.synced.set()
        return version

    # ----------------------------------------------------------------- watch

    def _apply(self, event: JSON) -> None:
        event_type = event.get("type")
        obj = event.get("object") or {}
        version = str((obj.get("metadata") or {}).get("resourceVersion", ""))
        if event_type == "BOOKMARK":
            self.cache.resource_version = version
            return
        if event_type in ("ADDED", "MODIFIED"):
            self.cache.upsert(obj)
            self.cache.resource_version = version
            self._emit(event_type, obj)
        elif event_type == "DELETED":
            self.cache.delete(obj)
            self.cache.resource_version = version
            self._emit("DELETED", obj)

    def _watch(self, stop: threading.Event) -> None:
        for event in self.client.watch(
            self.resource,
            self.namespace,
            self.cache.resource_version,
            timeout_seconds=self.settings.watch_timeout_seconds,
            read_timeout=self.settings.read_timeout,
            label_selector=self.label_selector,
        ):
            self._apply(event)
            if stop.is_set():
                return

    def resync(self) -> None:
        for obj in self.cache.list():
            self._emit("SYNC", obj)

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> None:
        """List and watch until ``stop`` is set. Never raises; errors are retried."""
        failures = 0
        must_list = True
        while not stop.is_set():
            try:
                if must_list:
                    self._list()
                    must_list = False
                self._watch(stop)
                failures = 0
                self.rewatches += 1
            except ApiError as err:
                if err.gone:
                    _log.info(
                        "watch history expired, listing again",
                        extra={"kind": self.resource.kind},
                    )
                    must_list = True
                    continue
                failures += 1
                delay = self.settings.backoff.delay(failures)
                _log.warning(
                    "list/watch failed, retrying in %.2fs: %s",
                    delay,
                    err,
                    extra={"kind": self.resource.kind},
                )
                # A rejected list (e.g. 403, 500) must be retried as a list.
                must_list = must_list or not self.synced.is_set()
                stop.wait(delay)
