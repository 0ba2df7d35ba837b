"""The HTTP face of the store: a plain ASGI application speaking the Kubernetes REST API.

Routing follows the API server's URL layout (``/api/v1/...``, ``/apis/{g}/{v}/...``,
``namespaces/{ns}/{resource}/{name}/{subresource}``). Every failure is a ``Status``
body with the code, reason and details clients parse; there is no route that
answers with a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import yaml

from devcluster import debug_api, discovery, errors, openapi, tables
from devcluster.admission import UserInfo
from devcluster.auth import AuthConfig, RequestAttributes
from devcluster.disruption import check_eviction
from devcluster.errors import ApiError
from devcluster.patching import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_patch,
    unsupported_patch,
)
from devcluster.request_log import RequestKey, RequestLog, user_agent_product
from devcluster.resources import ResourceType
from devcluster.store import Store
from devcluster.subresources import scale_of, with_replicas
from devcluster.watch import Subscription, SubscriptionClosedError, WatchEvent

JsonObject = dict[str, Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_LOG = logging.getLogger("devcluster.http")
_JSON = b"application/json"
_DEFAULT_WATCH_TIMEOUT = 1800.0
_PATCH_TYPES = frozenset({JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH})
WRITE_THREADS = 32
"""Writes served at once while admission webhooks are called. A write holds its thread
for its webhook round trips; asyncio's default pool (CPU count + 4 threads) queued
writes behind each other while the process sat mostly idle. The real API server
admits hundreds of concurrent mutating requests."""


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, list[str]]
    body: bytes
    user: UserInfo

    def param(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def header(self, name: str) -> str:
        values = self.headers.get(name)
        return values[-1] if values else ""

    def flag(self, name: str) -> bool:
        return self.param(name).lower() in ("1", "true")


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: bytes = _JSON
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Target:
    rtype: ResourceType
    namespace: str | None  # None: across all namespaces (or cluster-scoped)
    name: str
    subresource: str


def _encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _status_success(code: int, details: JsonObject | None = None) -> JsonObject:
    body: JsonObject = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class DevClusterApp:
    """ASGI application; ``bookmark_interval`` is how often watches with bookmarks get one."""

    def __init__(
        self, store: Store, auth: AuthConfig | None = None, *, bookmark_interval: float = 10.0
    ) -> None:
        self.store = store
        self.auth = auth or AuthConfig()
        self.bookmark_interval = bookmark_interval
        self.requests = RequestLog()
        self._writers = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="devcluster-write")
        self.debug = debug_api.DebugApi(store, self.requests)

    # ------------------------------------------------------------ ASGI entry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers: dict[str, list[str]] = {}
        for raw_name, raw_value in scope["headers"]:
            headers.setdefault(raw_name.decode("latin-1").lower(), []).append(
                raw_value.decode("latin-1")
            )
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        try:
            body = await _read_body(receive)
            user = self.auth.impersonate(
                self.auth.authenticate(_last(headers.get("authorization"))), headers
            )
            request = _Request(scope["method"], scope["path"], query, headers, body, user)
            response = await self._dispatch(request, receive, send)
        except ApiError as err:
            response = _Response(
                err.code, _encode(err.status()), warnings=tuple(getattr(err, "warnings", ()))
            )
        except Exception:
            _LOG.exception("internal error serving request", extra={"path": scope.get("path")})
            internal = ApiError(
                500,
                "InternalError",
                "an error on the server has prevented the request from succeeding",
            )
            response = _Response(500, _encode(internal.status()))
        if response is not None:
            await _send_response(send, response)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.debug.close()
                self.store.drop_watches()
                self._writers.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -------------------------------------------------------------- routing

    async def _dispatch(self, request: _Request, receive: Receive, send: Send) -> _Response | None:
        path = request.path.rstrip("/") or "/"
        if path.startswith(debug_api.PREFIX):
            answer = self.debug.serve(request.method, path, request.body, request.user)
            return _Response(answer.status, answer.body)
        segments = [unquote(s) for s in path.split("/") if s]
        static = self._static(path, segments)
        if static is not None:
            if request.method not in ("GET", "HEAD"):
                raise errors.method_not_allowed(request.method)
            return static
        target = self._resolve(segments)
        if target is None:
            raise errors.path_not_found()
        code = 500
        started = time.monotonic()
        streamed = False
        try:
            response = await self._serve(request, target, receive, send)
            streamed = response is None  # a watch stream: its duration is the client's choice
            code = 200 if response is None else response.status
            return response
        except ApiError as err:
            code = err.code
            raise
        finally:
            self._count(request, target, code, None if streamed else time.monotonic() - started)

    def _count(self, request: _Request, target: _Target, code: int, seconds: float | None) -> None:
        try:
            verb = _verb(request.method, target, request)
        except ApiError:
            verb = request.method.lower()
        rtype = target.rtype
        self.requests.record(
            RequestKey(
                user_agent_product(request.header("user-agent")),
                verb,
                f"{rtype.group}/{rtype.plural}" if rtype.group else rtype.plural,
                target.subresource,
                code,
            ),
            seconds,
        )

    def _static(self, path: str, segments: list[str]) -> _Response | None:
        if path in ("/healthz", "/livez", "/readyz"):
            return _Response(200, b"ok", b"text/plain; charset=utf-8")
        registry = self.store.registry
        document: JsonObject | None = None
        if path == "/version":
            document = discovery.VERSION_INFO
        elif path == "/api":
            document = discovery.api_versions()
        elif path == "/api/v1":
            document = discovery.api_resource_list(registry, "", "v1")
        elif path == "/apis":
            document = discovery.api_group_list(registry)
        elif segments[:1] == ["apis"] and len(segments) == 2:
            document = discovery.api_group(registry, segments[1])
            if document is None:
                raise errors.path_not_found()
        elif segments[:1] == ["apis"] and len(segments) == 3:
            document = discovery.api_resource_list(registry, segments[1], segments[2])
            if document is None:
                raise errors.path_not_found()
        elif segments[:2] == ["openapi", "v3"]:
            document = self._openapi(segments[2:])
        if document is None:
            return None
        return _Response(200, _encode(document))

    def _openapi(self, rest: list[str]) -> JsonObject:
        registry = self.store.registry
        if not rest:
            return openapi.root_document(registry)
        if rest[0] == "api" and len(rest) == 2:
            document = openapi.group_version_document(registry, "", rest[1])
        elif rest[0] == "apis" and len(rest) == 3:
            document = openapi.group_version_document(registry, rest[1], rest[2])
        else:
            document = None
        if document is None:
            raise errors.path_not_found()
        return document

    def _resolve(self, segments: list[str]) -> _Target | None:
        if segments[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", segments[2:]
        elif segments[:1] == ["apis"] and len(segments) >= 4:
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            return None
        registry = self.store.registry
        namespace: str | None = None
        if (
            len(rest) >= 3
            and rest[0] == "namespaces"
            and not (group == "" and rest[2] in ("status", "finalize") and len(rest) == 3)
        ):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            return None
        rtype = registry.lookup(group, version, rest[0])
        if rtype is None:
            return None
        if namespace is not None and not rtype.namespaced:
            return None
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        if subresource and not _has_subresource(rtype, subresource):
            return None
        if rtype.namespaced and name and namespace is None:
            return None
        return _Target(rtype, namespace, name, subresource)

    # ------------------------------------------------------------- serving

    async def _serve(
        self, request: _Request, target: _Target, receive: Receive, send: Send
    ) -> _Response | None:
        method = request.method
        verb = _verb(method, target, request)
        rtype = target.rtype
        if verb not in rtype.verbs and not (
            target.subresource and verb in ("get", "update", "patch", "create")
        ):
            raise errors.method_not_allowed(method)
        self.auth.authorize(
            request.user,
            RequestAttributes(
                verb,
                rtype.group,
                rtype.plural,
                target.subresource,
                target.namespace or "",
                target.name,
            ),
        )
        if verb == "watch":
            await self._watch(request, target, receive, send)
            return None
        if verb == "list":
            return self._list(request, target)
        if verb == "get":
            return self._get(request, target)
        if verb == "create" and rtype.is_review:
            return self._review(request, target)
        handler = {
            "create": self._create,
            "update": self._update,
            "patch": self._patch,
            "delete": self._delete,
            "deletecollection": self._delete_collection,
        }.get(verb)
        if handler is None:
            raise errors.method_not_allowed(method)
        if self.store.admission.active:
            return await asyncio.get_running_loop().run_in_executor(
                self._writers, handler, request, target
            )
        return handler(request, target)

    def _render(
        self,
        request: _Request,
        target: _Target,
        obj: JsonObject,
        code: int = 200,
        warnings: tuple[str, ...] = (),
    ) -> _Response:
        if _wants_table(request):
            document = tables.table(
                target.rtype,
                [obj],
                resource_version=str(obj.get("metadata", {}).get("resourceVersion", "")),
                include_object=request.param("includeObject", "Metadata"),
            )
            return _Response(code, _encode(document), warnings=warnings)
        return _Response(code, _encode(obj), warnings=warnings)

    def _get(self, request: _Request, target: _Target) -> _Response:
        rtype = target.rtype
        namespace = target.namespace or ""
        if target.subresource == "scale":
            return _Response(
                200, _encode(scale_of(rtype, self.store.get(rtype, namespace, target.name)))
            )
        if target.subresource == "log":
            self.store.get(rtype, namespace, target.name)
            text = self.store.pod_logs.get((namespace, target.name), "")
            return _Response(200, text.encode(), b"text/plain")
        if _wants_table(request):
            return self._render(request, target, self.store.get(rtype, namespace, target.name))
        return _Response(200, self.store.get_raw(rtype, namespace, target.name))

    def _list(self, request: _Request, target: _Target) -> _Response:
        rtype = target.rtype
        entries, rv = self.store.list_entries(
            rtype,
            target.namespace,
            label_selector=request.param("labelSelector"),
            field_selector=request.param("fieldSelector"),
        )
        continue_token = request.param("continue")
        if continue_token:
            start, rv = _decode_continue(continue_token)
            entries = [entry for entry in entries if list(entry[0]) > start]
        limit = int(request.param("limit", "0") or 0)
        next_token = ""
        remaining = 0
        if limit > 0 and len(entries) > limit:
            remaining = len(entries) - limit
            entries = entries[:limit]
            next_token = _encode_continue(list(entries[-1][0]), rv)
        if _wants_table(request):
            objects = [_versioned(obj, rtype) for _, _, obj in entries]
            document = tables.table(
                rtype,
                objects,
                resource_version=str(rv),
                include_object=request.param("includeObject", "Metadata"),
                continue_token=next_token,
            )
            return _Response(200, _encode(document))
        metadata: JsonObject = {"resourceVersion": str(rv)}
        if next_token:
            metadata["continue"] = next_token
            metadata["remainingItemCount"] = remaining
        items = b",".join(
            raw if obj.get("apiVersion") == rtype.api_version else _encode(_versioned(obj, rtype))
            for _, raw, obj in entries
        )
        head = _encode(
            {"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": metadata}
        )
        return _Response(200, head[:-1] + b',"items":[' + items + b"]}")

    def _create(self, request: _Request, target: _Target) -> _Response:
        rtype = target.rtype
        if target.subresource == "eviction":
            return self._evict(request, target)
        if target.name or target.subresource:
            raise errors.method_not_allowed(request.method)
        body = _decode_body(request)
        result = self.store.create(
            rtype,
            target.namespace or "",
            body,
            user=request.user,
            dry_run=_dry_run(request),
            field_validation=request.param("fieldValidation", "Warn"),
        )
        return self._render(request, target, result.object, 201, tuple(result.warnings))

    def _update(self, request: _Request, target: _Target) -> _Response:
        rtype = target.rtype
        namespace = target.namespace or ""
        body = _decode_body(request)
        if target.subresource == "scale":
            return self._write_scale(request, target, body)
        result = self.store.update(
            rtype,
            namespace,
            target.name,
            body,
            subresource=target.subresource,
            user=request.user,
            dry_run=_dry_run(request),
            field_validation=request.param("fieldValidation", "Warn"),
        )
        return self._render(request, target, result.object, 200, tuple(result.warnings))

    def _patch(self, request: _Request, target: _Target) -> _Response:
        content_type = request.header("content-type").split(";")[0].strip()
        if content_type not in _PATCH_TYPES or content_type == APPLY_PATCH:
            raise unsupported_patch(content_type, strategic=not target.rtype.custom)
        patch = _parse_json(request.body)
        if target.subresource == "scale":
            current = scale_of(
                target.rtype, self.store.get(target.rtype, target.namespace or "", target.name)
            )
            scale = apply_patch(content_type, current, patch, strategic=True)
            return self._write_scale(request, target, scale)
        result = self.store.patch(
            target.rtype,
            target.namespace or "",
            target.name,
            content_type,
            patch,
            subresource=target.subresource,
            user=request.user,
            dry_run=_dry_run(request),
            field_validation=request.param("fieldValidation", "Warn"),
        )
        return self._render(request, target, result.object, 200, tuple(result.warnings))

    def _write_scale(self, request: _Request, target: _Target, scale: JsonObject) -> _Response:
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(
                "autoscaling",
                "Scale",
                target.name,
                [
                    errors.Cause(
                        "FieldValueInvalid",
                        "spec.replicas",
                        f"Invalid value: {json.dumps(replicas)}: must be greater than or equal "
                        "to 0",
                    )
                ],
            )
        rv = str((scale.get("metadata") or {}).get("resourceVersion") or "")
        result = self.store.modify(
            target.rtype,
            target.namespace or "",
            target.name,
            lambda obj: with_replicas(target.rtype, obj, replicas),
            subresource="scale",
            user=request.user,
            resource_version=rv,
            dry_run=_dry_run(request),
        )
        return _Response(
            200, _encode(scale_of(target.rtype, result.object)), warnings=tuple(result.warnings)
        )

    def _evict(self, request: _Request, target: _Target) -> _Response:
        body = _decode_body(request)
        options = body.get("deleteOptions") or {}
        self._check_disruption_budgets(target)
        self.store.delete(
            target.rtype,
            target.namespace or "",
            target.name,
            preconditions=options.get("preconditions"),
            user=request.user,
            dry_run=_dry_run(request) or "All" in (options.get("dryRun") or []),
        )
        return _Response(201, _encode(_status_success(201)))

    def _check_disruption_budgets(self, target: _Target) -> None:
        namespace = target.namespace or ""
        pod = self.store.get(target.rtype, namespace, target.name)
        pdb_type = self.store.registry.lookup("policy", "v1", "poddisruptionbudgets")
        if pdb_type is None:
            return
        budgets = self.store.list_objects(pdb_type, namespace).items
        if budgets:
            pods = self.store.list_objects(target.rtype, namespace).items
            check_eviction(pod, budgets, pods)

    def _delete_options(self, request: _Request) -> tuple[str | None, JsonObject | None, bool]:
        options = _parse_json(request.body) if request.body.strip() else {}
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        propagation = options.get("propagationPolicy") or request.param("propagationPolicy") or None
        orphan = options.get("orphanDependents")
        if orphan is None and request.param("orphanDependents"):
            orphan = request.flag("orphanDependents")
        if propagation is None and orphan is not None:
            propagation = "Orphan" if orphan else "Background"
        dry_run = _dry_run(request) or "All" in (options.get("dryRun") or [])
        return propagation, options.get("preconditions"), dry_run

    def _delete(self, request: _Request, target: _Target) -> _Response:
        propagation, preconditions, dry_run = self._delete_options(request)
        result = self.store.delete(
            target.rtype,
            target.namespace or "",
            target.name,
            propagation=propagation,
            preconditions=preconditions,
            user=request.user,
            dry_run=dry_run,
        )
        if not result.deleted:
            code = 202 if propagation == "Foreground" else 200
            return _Response(code, _encode(result.object), warnings=tuple(result.warnings))
        meta = result.object["metadata"]
        details = {
            "name": meta["name"],
            "group": target.rtype.group,
            "kind": target.rtype.plural,
            "uid": meta["uid"],
        }
        if target.rtype.plural == "pods" or target.rtype.custom:
            return _Response(200, _encode(result.object), warnings=tuple(result.warnings))
        return _Response(
            200, _encode(_status_success(200, details)), warnings=tuple(result.warnings)
        )

    def _delete_collection(self, request: _Request, target: _Target) -> _Response:
        propagation, _preconditions, dry_run = self._delete_options(request)
        entries, _rv = self.store.list_entries(
            target.rtype,
            target.namespace,
            label_selector=request.param("labelSelector"),
            field_selector=request.param("fieldSelector"),
        )
        deleted = []
        for key, _raw, _obj in entries:
            try:
                deleted.append(
                    self.store.delete(
                        target.rtype,
                        key[0],
                        key[1],
                        propagation=propagation,
                        user=request.user,
                        dry_run=dry_run,
                    ).object
                )
            except ApiError as err:
                if err.code != 404:
                    raise
        document = {
            "kind": target.rtype.list_kind,
            "apiVersion": target.rtype.api_version,
            "metadata": {"resourceVersion": str(self.store.resource_version)},
            "items": deleted,
        }
        return _Response(200, _encode(document))

    def _review(self, request: _Request, target: _Target) -> _Response:
        body = _decode_body(request)
        spec = body.get("spec") or {}
        kind = target.rtype.kind
        status: JsonObject
        if kind == "TokenReview":
            user = self.auth.review_token(str(spec.get("token", "")))
            status = (
                {"authenticated": True, "user": user.to_json()}
                if user
                else {"authenticated": False, "error": "invalid bearer token"}
            )
            if spec.get("audiences"):
                status["audiences"] = spec["audiences"]
        elif kind == "SelfSubjectReview":
            status = {"userInfo": request.user.to_json()}
        else:
            if kind == "SubjectAccessReview":
                subject = UserInfo(
                    str(spec.get("user", "")),
                    tuple(spec.get("groups") or ()),
                    str(spec.get("uid", "")),
                )
            else:
                subject = request.user
            resource = spec.get("resourceAttributes")
            non_resource = spec.get("nonResourceAttributes")
            if resource:
                attributes = RequestAttributes(
                    str(resource.get("verb", "")),
                    str(resource.get("group", "")),
                    str(resource.get("resource", "")),
                    str(resource.get("subresource", "")),
                    str(resource.get("namespace", "")),
                    str(resource.get("name", "")),
                )
                allowed = self.auth.allowed(subject, attributes)
            elif non_resource:
                allowed = True
            else:
                raise errors.invalid(
                    target.rtype.group,
                    kind,
                    "",
                    [
                        errors.Cause(
                            "FieldValueRequired",
                            "spec.resourceAttributes",
                            "Required value: exactly one of nonResourceAttributes or "
                            "resourceAttributes must be specified",
                        )
                    ],
                )
            status = {"allowed": allowed}
            if not allowed:
                status["reason"] = "no rule of the devcluster authorizer allows this request"
        document = {
            "kind": kind,
            "apiVersion": target.rtype.api_version,
            "metadata": body.get("metadata") or {},
            "spec": spec,
            "status": status,
        }
        return _Response(201, _encode(document))

    # ---------------------------------------------------------------- watch

    async def _watch(
        self, request: _Request, target: _Target, receive: Receive, send: Send
    ) -> None:
        rtype = target.rtype
        initial = request.flag("sendInitialEvents")
        bookmarks = request.flag("allowWatchBookmarks")
        timeout = float(request.param("timeoutSeconds") or _DEFAULT_WATCH_TIMEOUT)
        table = _wants_table(request)
        include = request.param("includeObject", "Metadata")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", _JSON), (b"cache-control", b"no-cache, private")],
            }
        )
        try:
            subscription = self.store.watch(
                rtype,
                target.namespace,
                label_selector=request.param("labelSelector"),
                field_selector=_watch_field_selector(request, target),
                resource_version=None if initial else request.param("resourceVersion"),
            )
        except ApiError as err:
            await send(
                {
                    "type": "http.response.body",
                    "body": _encode({"type": "ERROR", "object": err.status()}) + b"\n",
                    "more_body": False,
                }
            )
            return
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        scheduled = threading.Event()  # a wake-up is on its way: later events ride with it

        def woken() -> None:
            scheduled.clear()
            wake.set()

        def notify() -> None:
            # Called inside the writer's commit: one wake-up per burst, not one
            # cross-thread call (a system call) per event.
            if not scheduled.is_set():
                scheduled.set()
                loop.call_soon_threadsafe(woken)

        subscription.set_notify(notify)
        disconnect = asyncio.ensure_future(_wait_disconnect(receive))
        disconnect.add_done_callback(lambda _task: subscription.close())
        deadline = loop.time() + timeout
        first_table = True
        try:
            if initial and bookmarks:
                pending = subscription.drain()
                first_table = await self._send_events(
                    send, pending, rtype, table=table, include=include, first_table=first_table
                )
                await _send_chunk(
                    send, self._bookmark(rtype, {"k8s.io/initial-events-end": "true"})
                )
            next_bookmark = loop.time() + self.bookmark_interval
            while True:
                wake.clear()  # before draining: a wake-up from here on is never lost
                events = subscription.drain()
                if events:
                    first_table = await self._send_events(
                        send, events, rtype, table=table, include=include, first_table=first_table
                    )
                    continue
                now = loop.time()
                if now >= deadline:
                    break
                if bookmarks and now >= next_bookmark:
                    await _send_chunk(send, self._bookmark(rtype))
                    next_bookmark = now + self.bookmark_interval
                    continue
                if subscription.closed:
                    continue
                wait_until = min(deadline, next_bookmark) if bookmarks else deadline
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), max(0.0, wait_until - loop.time()))
        except (SubscriptionClosedError, OSError):
            pass
        finally:
            subscription.close()
            disconnect.cancel()
        with contextlib.suppress(OSError, RuntimeError):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_events(
        self,
        send: Send,
        events: list[WatchEvent],
        rtype: ResourceType,
        *,
        table: bool,
        include: str,
        first_table: bool,
    ) -> bool:
        chunks = []
        for event in events:
            obj = _versioned(event.object, rtype)
            if table:
                obj = tables.table(
                    rtype,
                    [obj],
                    resource_version=str(event.resource_version),
                    include_object=include,
                    headers=first_table,
                )
                first_table = False
            chunks.append(_encode({"type": event.type, "object": obj}) + b"\n")
        await _send_chunk(send, b"".join(chunks))
        return first_table

    def _bookmark(self, rtype: ResourceType, annotations: dict[str, str] | None = None) -> bytes:
        metadata: JsonObject = {"resourceVersion": str(self.store.resource_version)}
        if annotations:
            metadata["annotations"] = annotations
        return (
            _encode(
                {
                    "type": "BOOKMARK",
                    "object": {
                        "kind": rtype.kind,
                        "apiVersion": rtype.api_version,
                        "metadata": metadata,
                    },
                }
            )
            + b"\n"
        )


# ------------------------------------------------------------------ helpers


def _last(values: list[str] | None) -> str | None:
    return values[-1] if values else None


def _has_subresource(rtype: ResourceType, subresource: str) -> bool:
    if subresource == "status":
        return rtype.status_subresource
    if subresource == "scale":
        return rtype.scale is not None
    return subresource in rtype.extra_subresources


def _verb(method: str, target: _Target, request: _Request) -> str:
    if method in ("GET", "HEAD"):
        if target.name:
            return "get"
        return "watch" if request.flag("watch") else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if target.name else "deletecollection"
    raise errors.method_not_allowed(method)


def _wants_table(request: _Request) -> bool:
    accept = request.header("accept")
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def _dry_run(request: _Request) -> bool:
    values = request.query.get("dryRun") or []
    for value in values:
        if value != "All":
            raise errors.bad_request(
                f'dryRun: Unsupported value: "{value}": supported values: "All"'
            )
    return bool(values)


def _watch_field_selector(request: _Request, target: _Target) -> str:
    selector = request.param("fieldSelector")
    if target.name:
        name_selector = f"metadata.name={target.name}"
        return f"{selector},{name_selector}" if selector else name_selector
    return selector


def _versioned(obj: JsonObject, rtype: ResourceType) -> JsonObject:
    if obj.get("apiVersion") == rtype.api_version:
        return obj
    return {**obj, "apiVersion": rtype.api_version}


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise errors.bad_request(f"the request body is not valid JSON: {err}") from err


def _decode_body(request: _Request) -> JsonObject:
    content_type = request.header("content-type").split(";")[0].strip() or "application/json"
    if content_type == "application/json":
        document = _parse_json(request.body)
    elif content_type in ("application/yaml", "application/x-yaml"):
        try:
            document = yaml.safe_load(request.body)
        except yaml.YAMLError as err:
            raise errors.bad_request(f"the request body is not valid YAML: {err}") from err
    else:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            f"application/json, application/yaml (got {content_type})",
        )
    if not isinstance(document, dict):
        raise errors.bad_request("the request body must be a JSON object")
    return document


def _encode_continue(start: list[str], rv: int) -> str:
    return base64.urlsafe_b64encode(_encode({"start": start, "rv": rv})).decode()


def _decode_continue(token: str) -> tuple[list[str], int]:
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
        return [str(part) for part in document["start"]], int(document["rv"])
    except (ValueError, KeyError, TypeError) as err:
        raise errors.bad_request(f"invalid continue token: {token!r}") from err


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        continue


async def _send_chunk(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _send_response(send: Send, response: _Response) -> None:
    headers = [
        (b"content-type", response.content_type),
        (b"content-length", str(len(response.body)).encode()),
    ]
    headers.extend((b"warning", f'299 - "{warning}"'.encode()) for warning in response.warnings)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


__all__ = ["DevClusterApp", "Subscription"]
