"""Kubernetes Events about reconciled objects, sent off the reconcile path.

Events are telemetry: a failure to write one is logged and never fails a
reconcile. A bounded queue drained by one thread keeps the reconcile path free
of the extra round trip; when the queue is full the newest Event is dropped
and counted (a flood of Events must not grow memory).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from reconciler.kube import ApiError, KubeClient, Resource

JSON = dict[str, Any]
EVENTS = Resource("", "v1", "events", "Event")

_log = logging.getLogger(__name__)


def event_body(
    obj: JSON,
    event_type: Literal["Normal", "Warning"],
    reason: str,
    message: str,
    *,
    component: str,
    now: datetime,
) -> JSON:
    """A core/v1 Event about ``obj`` (pure)."""
    metadata = obj.get("metadata") or {}
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "generateName": f"{metadata.get('name', 'object')}.",
            "namespace": metadata.get("namespace") or "default",
        },
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "name": metadata.get("name", ""),
            "namespace": metadata.get("namespace", ""),
            "uid": metadata.get("uid", ""),
            "resourceVersion": metadata.get("resourceVersion", ""),
        },
        "type": event_type,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": component},
        "reportingComponent": component,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class EventRecorder:
    def __init__(
        self,
        client: KubeClient,
        component: str = "kubernaut-reconciler",
        *,
        capacity: int = 10_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_write: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self._component = component
        self._clock = clock
        self._on_write = on_write
        self._queue: queue.Queue[JSON | None] = queue.Queue(maxsize=capacity)
        self.dropped = 0
        self._thread = threading.Thread(target=self._drain, name="event-recorder", daemon=True)
        self._thread.start()

    def record(
        self, obj: JSON, event_type: Literal["Normal", "Warning"], reason: str, message: str
    ) -> None:
        body = event_body(
            obj, event_type, reason, message, component=self._component, now=self._clock()
        )
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self.dropped += 1

    def _drain(self) -> None:
        while (body := self._queue.get()) is not None:
            try:
                self._client.create(EVENTS, body["metadata"]["namespace"], body)
                if self._on_write is not None:
                    self._on_write()
            except ApiError as err:
                _log.warning("event not recorded: %s", err, extra={"reason": body["reason"]})
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until queued Events are sent (or ``timeout``); True when all were."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout)
