"""A small generic client for any resource, on top of the `kubernetes` package's ApiClient.

Controllers work on plain JSON documents (dicts) of any kind, built-in or
custom, so this wraps the generated client's transport (authentication, TLS,
kubeconfig handling, connection pooling) rather than its typed models:
requests are built with :meth:`ApiClient.param_serialize` and sent with
:meth:`ApiClient.call_api`; JSON is decoded here. Every non-2xx answer becomes
an :class:`ApiError` carrying the Kubernetes ``Status`` reason, so callers
branch on ``err.conflict`` or ``err.not_found`` instead of on numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s

JSON = dict[str, Any]
PatchType = Literal["merge", "json", "strategic"]

_PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
# (connect, read) seconds for ordinary requests.
DEFAULT_TIMEOUT = (5.0, 30.0)


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API: group, version, plural and scope."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str = ""
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base


class ApiError(Exception):
    """A non-2xx answer of the API server, or a transport failure (status 0)."""

    def __init__(self, status: int, reason: str, message: str, body: JSON | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}" if status else message)
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body or {}

    @property
    def conflict(self) -> bool:
        return self.status == 409 and self.reason != "AlreadyExists"

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def gone(self) -> bool:
        return self.status == 410

    @property
    def retriable(self) -> bool:
        """Worth retrying with backoff: transport errors, throttling, server-side trouble."""
        return self.status in {0, 429} or self.status >= 500


def _error_from(status: int, reason: str, raw: bytes) -> ApiError:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("kind") == "Status":
        return ApiError(
            status, str(body.get("reason") or reason), str(body.get("message", "")), body
        )
    return ApiError(status, reason, raw.decode("utf-8", "replace")[:500])


def _dry_run_query(dry_run: bool) -> dict[str, str] | None:
    """Server-side dry run: every admission and validation stage runs, nothing is stored."""
    return {"dryRun": "All"} if dry_run else None


class KubeClient:
    """Generic CRUD, patch and watch for any :class:`Resource`, returning JSON documents."""

    def __init__(self, api_client: k8s.ApiClient, user_agent: str = "kubernaut") -> None:
        self._api = api_client
        self._api.user_agent = user_agent

    # ------------------------------------------------------------ transport

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> k8s.rest.RESTResponse:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        query_params = [(key, value) for key, value in (query or {}).items() if value is not None]
        method, url, headers, body, _ = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query_params or None,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            return self._api.call_api(method, url, headers, body, _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ApiError(0, "TransportError", f"{method} {path}: {err}") from err

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> JSON:
        response = self._send(method, path, query=query, body=body, content_type=content_type)
        try:
            raw = response.read()  # type: ignore[no-untyped-call]
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ApiError(0, "TransportError", f"{method} {path}: {err}") from err
        if not 200 <= response.status < 300:
            raise _error_from(response.status, response.reason or "", raw)
        document: JSON = json.loads(raw) if raw else {}
        return document

    # ----------------------------------------------------------------- verbs

    def get(self, resource: Resource, namespace: str | None, name: str) -> JSON:
        return self._request("GET", resource.path(namespace, name))

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
    ) -> JSON:
        query = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "resourceVersion": resource_version,
        }
        return self._request("GET", resource.path(namespace), query=query)

    def create(
        self, resource: Resource, namespace: str | None, body: JSON, *, dry_run: bool = False
    ) -> JSON:
        return self._request(
            "POST", resource.path(namespace), query=_dry_run_query(dry_run), body=body
        )

    def replace(
        self, resource: Resource, body: JSON, *, subresource: str = "", dry_run: bool = False
    ) -> JSON:
        """PUT the whole object; ``metadata.resourceVersion`` in ``body`` is the precondition."""
        metadata = body["metadata"]
        path = resource.path(metadata.get("namespace"), metadata["name"], subresource)
        return self._request("PUT", path, query=_dry_run_query(dry_run), body=body)

    def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        patch_type: PatchType = "merge",
        subresource: str = "",
        dry_run: bool = False,
    ) -> JSON:
        return self._request(
            "PATCH",
            resource.path(namespace, name, subresource),
            query=_dry_run_query(dry_run),
            body=patch,
            content_type=_PATCH_CONTENT_TYPES[patch_type],
        )

    def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        *,
        propagation: Literal["Background", "Foreground", "Orphan"] = "Background",
        uid: str | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> JSON:
        options: JSON = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": propagation,
        }
        if uid:
            options["preconditions"] = {"uid": uid}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        return self._request(
            "DELETE", resource.path(namespace, name), query=_dry_run_query(dry_run), body=options
        )

    def watch(
        self,
        resource: Resource,
        namespace: str | None,
        resource_version: str,
        *,
        timeout_seconds: int = 300,
        read_timeout: float = 60.0,
        label_selector: str | None = None,
    ) -> Iterator[JSON]:
        """Stream watch events from ``resource_version`` until the server ends the stream.

        ``read_timeout`` bounds the silence between two lines: with bookmarks on,
        the server speaks at least once a minute, so a longer silence means a
        dead stream and raises an :class:`ApiError` (status 0). An ERROR event
        (e.g. 410 Gone) is raised as :class:`ApiError` too.
        """
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
            "labelSelector": label_selector,
        }
        response = self._send(
            "GET",
            resource.path(namespace),
            query=query,
            timeout=(DEFAULT_TIMEOUT[0], read_timeout),
        )
        raw_response = response.response
        try:
            if not 200 <= response.status < 300:
                raise _error_from(response.status, response.reason or "", raw_response.data)
            yield from self._events(raw_response, resource)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ApiError(0, "TransportError", f"watch {resource.plural}: {err}") from err
        finally:
            raw_response.release_conn()

    @staticmethod
    def _events(raw_response: urllib3.BaseHTTPResponse, resource: Resource) -> Iterator[JSON]:
        pending = b""
        for chunk in raw_response.stream(amt=None, decode_content=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event: JSON = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise ApiError(
                        int(status.get("code", 500)),
                        str(status.get("reason", "")),
                        str(status.get("message", f"watch {resource.plural} failed")),
                        status,
                    )
                yield event
