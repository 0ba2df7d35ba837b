"""A small HTTP client of one devcluster, in this process or another: lists and diagnostics.

For benchmarks that must not share a process (and its GIL) with the server::

    api = RemoteCluster("http://127.0.0.1:6443")
    api.list_objects("kubernaut.ai", "v1alpha1", "remediationrequests", "bench") -> [obj, ...]
    api.reset_requests(); api.request_counts() -> {RequestKey: count}
    api.request_latencies() -> {(agent, write): [count per LATENCY_BOUNDS_MS bucket]}
    api.record_events(["batch/v1/jobs"]); api.events() -> ([LoggedEvent, ...], complete)

One keep-alive connection, not shared between threads. Every failure raises
:class:`RemoteError` with the server's message.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from devcluster.auth import ADMIN_TOKEN
from devcluster.debug_api import PREFIX, logged_event_of
from devcluster.event_log import LoggedEvent
from devcluster.request_log import RequestKey

JsonObject = dict[str, Any]


class RemoteError(RuntimeError):
    """A request to devcluster failed (connection, or an answer other than 2xx)."""


class RemoteCluster:
    def __init__(self, url: str, token: str = ADMIN_TOKEN, *, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise RemoteError(f"{url!r} is not an http:// URL of devcluster")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -------------------------------------------------------------- requests

    def _request(self, method: str, path: str, body: JsonObject | None = None) -> Any:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {**self._headers, "Content-Type": "application/json"}
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._timeout
                )
            try:
                self._connection.request(method, path, body=payload, headers=headers)
                response = self._connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                self.close()  # an idle keep-alive connection the server closed: once more
                if attempt == 2:
                    raise RemoteError(f"{method} {path}: {err}") from err
            except (OSError, http.client.HTTPException) as err:
                self.close()
                raise RemoteError(f"{method} {path}: {err}") from err
        if response.status >= 300:
            raise RemoteError(f"{method} {path}: {response.status} {_message(data)}")
        return json.loads(data) if data else None

    # ----------------------------------------------------------------- reads

    def list_objects(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> list[JsonObject]:
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        where = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
        document = self._request("GET", f"{base}{where}/{plural}")
        items: list[JsonObject] = document.get("items") or []
        return items

    # ----------------------------------------------------------- diagnostics

    def request_counts(self) -> dict[RequestKey, int]:
        document = self._request("GET", f"{PREFIX}requests")
        return {
            RequestKey(
                str(row["agent"]),
                str(row["verb"]),
                str(row["resource"]),
                str(row["subresource"]),
                int(row["code"]),
            ): int(row["count"])
            for row in document["requests"]
        }

    def request_latencies(self) -> dict[tuple[str, bool], list[int]]:
        """Per (agent, write?): answered requests per ``LATENCY_BOUNDS_MS`` bucket."""
        document = self._request("GET", f"{PREFIX}requests")
        return {
            (str(row["agent"]), bool(row["write"])): [int(n) for n in row["counts"]]
            for row in document["latencies"]
        }

    def reset_requests(self) -> None:
        self._request("DELETE", f"{PREFIX}requests")

    def record_events(self, resources: Sequence[str]) -> None:
        """Record commits of ``resources`` (``GROUP/VERSION/PLURAL`` or ``VERSION/PLURAL``)."""
        self._request("POST", f"{PREFIX}events", {"resources": list(resources)})

    def events(self) -> tuple[list[LoggedEvent], bool]:
        """The recorded events in commit order, and whether every watch stayed open."""
        document = self._request("GET", f"{PREFIX}events")
        return [logged_event_of(e) for e in document["events"]], bool(document["complete"])

    def stop_events(self) -> None:
        self._request("DELETE", f"{PREFIX}events")


def _message(data: bytes) -> str:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data[:300].decode("utf-8", "replace")
    if isinstance(document, dict) and document.get("message"):
        return str(document["message"])
    return data[:300].decode("utf-8", "replace")


__all__ = ["RemoteCluster", "RemoteError"]
