"""devcluster's own diagnostics over HTTP, for benchmarks driving it from another process.

Not part of the Kubernetes API: paths under ``/debug/devcluster/``, allowed to
``system:masters`` only (the ``dev-admin`` token of the kubeconfig)::

    GET    /debug/devcluster/requests  -> {"requests": [{agent, verb, resource, subresource,
                                           code, count}, ...],
                                           "latencies": [{agent, write, counts}, ...],
                                           "boundsMs": [1, 2, 5, ...]}
    DELETE /debug/devcluster/requests  -> counts start again from zero
    POST   /debug/devcluster/events    {"resources": ["batch/v1/jobs", "v1/pods", ...]}
                                       -> record commits of those types from now on
    GET    /debug/devcluster/events    -> {"complete": bool, "events": [{at, type, plural,
                                           namespace, name, resourceVersion, object}, ...]}
    DELETE /debug/devcluster/events    -> stop recording, forget the events

``at`` is ``time.monotonic()`` of the devcluster process when the store
committed the change; on Linux that clock is shared by every process of the
machine, so a client can compare it with its own ``time.monotonic()``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from devcluster import errors
from devcluster.admission import UserInfo
from devcluster.errors import ApiError
from devcluster.event_log import EventLog, LoggedEvent
from devcluster.request_log import LATENCY_BOUNDS_MS, RequestLog
from devcluster.resources import ResourceType
from devcluster.store import Store

JsonObject = dict[str, Any]
PREFIX = "/debug/devcluster/"
_ADMIN_GROUP = "system:masters"


@dataclass(frozen=True)
class DebugResponse:
    status: int
    body: bytes


def _encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def logged_event_json(event: LoggedEvent) -> JsonObject:
    return {
        "at": event.at,
        "type": event.type,
        "plural": event.plural,
        "namespace": event.namespace,
        "name": event.name,
        "resourceVersion": event.resource_version,
        "object": event.object,
    }


def logged_event_of(document: JsonObject) -> LoggedEvent:
    """The inverse of :func:`logged_event_json` (for clients of the events route)."""
    return LoggedEvent(
        float(document["at"]),
        str(document["type"]),
        str(document["plural"]),
        str(document["namespace"]),
        str(document["name"]),
        int(document["resourceVersion"]),
        document["object"],
    )


class DebugApi:
    """Serves the ``/debug/devcluster/`` routes of one store and its request log."""

    def __init__(self, store: Store, requests: RequestLog) -> None:
        self._store = store
        self._requests = requests
        self._lock = threading.Lock()
        self._events: EventLog | None = None

    def serve(self, method: str, path: str, body: bytes, user: UserInfo) -> DebugResponse:
        if _ADMIN_GROUP not in user.groups:
            raise ApiError(
                403, "Forbidden", f'User "{user.username}" cannot use devcluster diagnostics'
            )
        topic = path[len(PREFIX) :].strip("/")
        if topic == "requests":
            return self._serve_requests(method)
        if topic == "events":
            return self._serve_events(method, body)
        raise errors.path_not_found()

    def close(self) -> None:
        with self._lock:
            log, self._events = self._events, None
        if log is not None:
            log.close()

    def _serve_requests(self, method: str) -> DebugResponse:
        if method == "GET":
            counts = [
                {
                    "agent": key.agent,
                    "verb": key.verb,
                    "resource": key.resource,
                    "subresource": key.subresource,
                    "code": key.code,
                    "count": count,
                }
                for key, count in sorted(self._requests.snapshot().items())
            ]
            latencies = [
                {"agent": agent, "write": write, "counts": buckets}
                for (agent, write), buckets in sorted(self._requests.latencies().items())
            ]
            return DebugResponse(
                200,
                _encode(
                    {
                        "requests": counts,
                        "latencies": latencies,
                        "boundsMs": list(LATENCY_BOUNDS_MS),
                    }
                ),
            )
        if method == "DELETE":
            self._requests.reset()
            return DebugResponse(200, _encode({}))
        raise errors.method_not_allowed(method)

    def _serve_events(self, method: str, body: bytes) -> DebugResponse:
        if method == "GET":
            with self._lock:
                log = self._events
            if log is None:
                return DebugResponse(200, _encode({"complete": True, "events": []}))
            events = [logged_event_json(event) for event in log.events()]
            return DebugResponse(200, _encode({"complete": log.complete, "events": events}))
        if method == "POST":
            log = EventLog(self._store, self._resources(body))
            with self._lock:
                previous, self._events = self._events, log
            if previous is not None:
                previous.close()
            return DebugResponse(201, _encode({}))
        if method == "DELETE":
            self.close()
            return DebugResponse(200, _encode({}))
        raise errors.method_not_allowed(method)

    def _resources(self, body: bytes) -> list[ResourceType]:
        try:
            document = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as err:
            raise errors.bad_request(f"the request body is not valid JSON: {err}") from err
        names = document.get("resources") if isinstance(document, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise errors.bad_request(
                'the body must be {"resources": ["GROUP/VERSION/PLURAL" or "VERSION/PLURAL", ...]}'
            )
        rtypes = []
        for name in names:
            parts = name.split("/")
            if len(parts) == 2:
                parts.insert(0, "")
            rtype = self._store.registry.lookup(*parts) if len(parts) == 3 else None
            if rtype is None:
                raise errors.bad_request(f"devcluster does not serve the resource {name!r}")
            rtypes.append(rtype)
        return rtypes


__all__ = ["PREFIX", "DebugApi", "DebugResponse", "logged_event_json", "logged_event_of"]
