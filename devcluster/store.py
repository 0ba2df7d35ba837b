"""The thread-safe in-memory object store and its write path.

This is the in-process API (the HTTP layer is a thin translation of it), usable
from controller threads too::

    store.create(rtype, "default", obj, user=user) -> WriteResult
    store.update / store.patch / store.modify / store.delete / store.get / store.list
    store.watch(rtype, namespace, resource_version=...) -> Subscription

Write path of every create/update/patch, in the real server's order: prepare
(server-owned metadata, generation, status rules) -> mutating admission ->
custom-resource defaulting, pruning and schema/rule validation -> validating
admission -> compare-and-swap commit under the lock (a changed object is retried
unless the client gave a resourceVersion precondition, which then yields 409).

Deletion honours finalizers, propagation policies (Background, Foreground,
Orphan) and runs the garbage collector synchronously after each write.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devcluster import errors, gc, schema, semantics
from devcluster.admission import (
    GC_USER,
    SYSTEM_USER,
    AdmissionAttributes,
    AdmissionChain,
    Operation,
    UserInfo,
)
from devcluster.crds import established_status, ignored_rules, types_for_crd, validate_crd
from devcluster.errors import ApiError, Cause
from devcluster.ids import new_uid
from devcluster.patching import apply_patch
from devcluster.resources import Registry, ResourceType
from devcluster.selectors import SelectorError, parse_field_selector, parse_label_selector
from devcluster.watch import History, Subscription, WatchEvent, WatchFilter

JsonObject = dict[str, Any]
ObjectKey = tuple[str, str]  # namespace ("" if cluster-scoped), name
Location = tuple[tuple[str, str], str, str]  # storage key, namespace, name

_LOG = logging.getLogger("devcluster.store")
_MAX_RETRIES = 20
_CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
_NAMESPACE_KEY = ("", "namespaces")
_CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_UNDELETABLE_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class WriteResult:
    object: JsonObject
    warnings: list[str] = field(default_factory=list)


@dataclass
class DeleteResult:
    object: JsonObject
    deleted: bool
    warnings: list[str] = field(default_factory=list)


@dataclass
class ListResult:
    items: list[JsonObject]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


class _Entry:
    __slots__ = ("obj", "raw", "rv")

    def __init__(self, obj: JsonObject, rv: int) -> None:
        self.obj = obj
        self.rv = rv
        self.raw = json.dumps(obj, separators=(",", ":")).encode()


class Store:
    def __init__(
        self,
        *,
        registry: Registry | None = None,
        admission: AdmissionChain | None = None,
        watch_history: int = 10_000,
        clock: Callable[[], str] = _now,
    ) -> None:
        self.registry = registry or Registry()
        self.pod_logs: dict[tuple[str, str], str] = {}
        self.admission = admission or AdmissionChain()
        self._clock = clock
        self._lock = threading.RLock()
        self._buckets: dict[tuple[str, str], dict[ObjectKey, _Entry]] = {}
        self._by_uid: dict[str, Location] = {}
        self._dependents: dict[str, set[Location]] = {}
        self._rv = 0
        self._history = History(watch_history)
        self._subscriptions: set[Subscription] = set()
        self._gc_queue: deque[tuple[str, str]] = deque()
        self._gc_local = threading.local()
        self._local = threading.local()  # per thread: lock depth, watchers to wake
        self._changes = 0
        self._changed: dict[tuple[str, str], int] = {}
        for name in DEFAULT_NAMESPACES:
            self._commit_new(
                self._namespace_type(),
                semantics.prepare_create(
                    self._namespace_type(),
                    {"metadata": {"name": name}},
                    "",
                    new_uid(),
                    self._clock(),
                ),
            )

    # ------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The store lock; watchers that got events meanwhile are woken once it is released.

        Waking a watcher served over HTTP is a system call, and a system call made
        while holding the lock lets other threads take the interpreter lock and keeps
        every writer waiting for far longer than the commit itself.
        """
        local = self._local
        try:
            with self._lock:
                local.depth = getattr(local, "depth", 0) + 1
                try:
                    yield
                finally:
                    local.depth -= 1
        finally:
            waking: list[Subscription] | None = getattr(local, "waking", None)
            if local.depth == 0 and waking:
                local.waking = []
                for subscription in waking:
                    subscription.wake()

    def changed_at(self, rtype: ResourceType) -> int:
        """A number that changes whenever an object of ``rtype`` does (0: none yet).

        Read without the lock: a cheap check whether something derived from these
        objects must be computed again.
        """
        return self._changed.get(rtype.storage_key, 0)

    def _mark_changed(self, storage_key: tuple[str, str]) -> None:
        self._changes += 1
        self._changed[storage_key] = self._changes

    # ------------------------------------------------------------------ reads

    @property
    def resource_version(self) -> int:
        return self._rv

    def _namespace_type(self) -> ResourceType:
        rtype = self.registry.lookup("", "v1", "namespaces")
        assert rtype is not None
        return rtype

    def _entry(self, rtype: ResourceType, namespace: str, name: str) -> _Entry:
        entry = self._buckets.get(rtype.storage_key, {}).get(
            (namespace if rtype.namespaced else "", name)
        )
        if entry is None:
            raise errors.not_found(rtype.group, rtype.plural, name)
        return entry

    def get(self, rtype: ResourceType, namespace: str, name: str) -> JsonObject:
        """A private copy of the stored object (apiVersion as ``rtype`` serves it)."""
        obj: JsonObject = json.loads(self._entry(rtype, namespace, name).raw)
        obj["apiVersion"] = rtype.api_version
        return obj

    def get_raw(self, rtype: ResourceType, namespace: str, name: str) -> bytes:
        """The stored JSON encoding (fast path of ``GET``); re-encoded only for another version."""
        entry = self._entry(rtype, namespace, name)
        if entry.obj.get("apiVersion") == rtype.api_version:
            return entry.raw
        return json.dumps(
            {**entry.obj, "apiVersion": rtype.api_version}, separators=(",", ":")
        ).encode()

    def list_entries(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[tuple[ObjectKey, bytes, JsonObject]], int]:
        labels, fields = self._selectors(rtype, label_selector, field_selector)
        with self._locked():
            snapshot = list(self._buckets.get(rtype.storage_key, {}).items())
            rv = self._rv
        snapshot.sort(key=_by_key)  # outside the lock: writers wait for no sort
        result = []
        for key, entry in snapshot:
            if namespace is not None and rtype.namespaced and key[0] != namespace:
                continue
            meta = entry.obj.get("metadata") or {}
            labels_match = labels.empty or labels.matches(meta.get("labels"))
            if labels_match and (fields.empty or fields.matches(entry.obj)):
                result.append((key, entry.raw, entry.obj))
        return result, rv

    def list_objects(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> ListResult:
        entries, rv = self.list_entries(
            rtype, namespace, label_selector=label_selector, field_selector=field_selector
        )
        items = []
        for _, raw, _obj in entries:
            item = json.loads(raw)
            item["apiVersion"] = rtype.api_version
            items.append(item)
        return ListResult(items, rv)

    def dependents(self, rtype: ResourceType, namespace: str, owner_uid: str) -> list[JsonObject]:
        """Private copies of the objects of ``rtype`` in ``namespace`` naming ``owner_uid``.

        Those whose ``ownerReferences`` hold that uid, in name order, found through
        the owner index (a controller need not decode the whole namespace).
        """
        with self._locked():
            bucket = self._buckets.get(rtype.storage_key, {})
            raws = [
                entry.raw
                for storage_key, ns, name in sorted(self._dependents.get(owner_uid, ()))
                if storage_key == rtype.storage_key and ns == namespace
                for entry in (bucket.get((ns, name)),)
                if entry is not None
            ]
        items = []
        for raw in raws:
            item = json.loads(raw)
            item["apiVersion"] = rtype.api_version
            items.append(item)
        return items

    @staticmethod
    def _selectors(
        rtype: ResourceType, label_selector: str, field_selector: str
    ) -> tuple[Any, Any]:
        try:
            return parse_label_selector(label_selector), parse_field_selector(
                field_selector, rtype.field_selectors
            )
        except SelectorError as err:
            raise errors.bad_request(str(err)) from err

    # ------------------------------------------------------------------ watch

    def watch(
        self,
        rtype: ResourceType,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str | None = None,
    ) -> Subscription:
        """Subscribe to changes.

        Without a resourceVersion (or with "0") current objects come first as ADDED.
        """
        labels, fields = self._selectors(rtype, label_selector, field_selector)
        watch_filter = WatchFilter(
            rtype.storage_key, namespace if rtype.namespaced else None, labels, fields
        )
        subscription = Subscription(watch_filter, self._unsubscribe)
        with self._locked():
            if resource_version in (None, "", "0"):
                for entry in sorted(self._buckets.get(rtype.storage_key, {}).items()):
                    subscription.deliver(
                        WatchEvent("ADDED", entry[1].rv, rtype.storage_key, entry[1].obj)
                    )
            else:
                try:
                    since = int(resource_version)
                except ValueError as err:
                    raise errors.bad_request(
                        f"invalid resource version: {resource_version!r}"
                    ) from err
                for event in self._history.since(since, rtype.storage_key):
                    subscription.deliver(event)
            self._subscriptions.add(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._locked():
            self._subscriptions.discard(subscription)

    def drop_watches(self) -> int:
        """Close every open watch (test hook: simulates the server dropping watch streams)."""
        with self._locked():
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close()
        return len(subscriptions)

    @property
    def watch_count(self) -> int:
        return len(self._subscriptions)

    # ---------------------------------------------------------------- commits

    def _index(self, location: Location, old: JsonObject | None, new: JsonObject | None) -> None:
        for obj, add in ((old, False), (new, True)):
            if obj is None:
                continue
            meta = obj.get("metadata") or {}
            uid = str(meta.get("uid", ""))
            if add:
                self._by_uid[uid] = location
            else:
                self._by_uid.pop(uid, None)
            for ref in meta.get("ownerReferences") or []:
                owner_uid = str(ref.get("uid", ""))
                dependents = self._dependents.setdefault(owner_uid, set())
                if add:
                    dependents.add(location)
                else:
                    dependents.discard(location)
                    if not dependents:
                        del self._dependents[owner_uid]

    def _publish(self, event: WatchEvent) -> None:
        """Under the lock: record and queue the event; :meth:`_locked` wakes the watchers."""
        self._history.append(event)
        self._mark_changed(event.storage_key)
        woken = [s for s in self._subscriptions if s.deliver(event, wake=False)]
        if woken:
            waking = getattr(self._local, "waking", None)
            if waking is None:
                self._local.waking = woken
            else:
                waking.extend(woken)

    def _copy_of_committed(
        self, rtype: ResourceType, key: ObjectKey, stored: JsonObject
    ) -> JsonObject:
        """A private copy of what a write committed, decoded from the stored encoding."""
        entry = self._buckets.get(rtype.storage_key, {}).get(key)
        raw = entry.raw if entry is not None and entry.obj is stored else json.dumps(stored)
        result: JsonObject = json.loads(raw)
        result["apiVersion"] = rtype.api_version
        return result

    def _commit_new(self, rtype: ResourceType, obj: JsonObject) -> JsonObject:
        with self._locked():
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
            meta = obj["metadata"]
            key = (str(meta.get("namespace", "")), str(meta["name"]))
            self._buckets.setdefault(rtype.storage_key, {})[key] = _Entry(obj, self._rv)
            self._index((rtype.storage_key, *key), None, obj)
            self._publish(WatchEvent("ADDED", self._rv, rtype.storage_key, obj))
            return obj

    def _commit_update(
        self, rtype: ResourceType, key: ObjectKey, old: _Entry, obj: JsonObject
    ) -> JsonObject:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._buckets[rtype.storage_key][key] = _Entry(obj, self._rv)
        self._index((rtype.storage_key, *key), old.obj, obj)
        self._publish(WatchEvent("MODIFIED", self._rv, rtype.storage_key, obj, old.obj))
        return obj

    def _commit_remove(
        self, rtype: ResourceType, key: ObjectKey, old: _Entry, final: JsonObject
    ) -> JsonObject:
        self._rv += 1
        final["metadata"]["resourceVersion"] = str(self._rv)
        del self._buckets[rtype.storage_key][key]
        self._index((rtype.storage_key, *key), old.obj, None)
        self._publish(WatchEvent("DELETED", self._rv, rtype.storage_key, final))
        self._after_removal(final)
        return final

    def _after_removal(self, obj: JsonObject) -> None:
        """Queue the collectors that may act now that ``obj`` is gone."""
        meta = obj["metadata"]
        self._gc_queue.append(("removed", str(meta["uid"])))
        for ref in meta.get("ownerReferences") or []:
            self._gc_queue.append(("check-foreground", str(ref.get("uid", ""))))
        if meta.get("namespace"):
            self._gc_queue.append(("namespace", str(meta["namespace"])))
        group, _, _version = str(obj.get("apiVersion", "")).rpartition("/")
        self._gc_queue.append(("crd-instances", group))
        if obj.get("kind") == "CustomResourceDefinition":
            self.registry.remove_crd(str(meta["name"]))

    # ----------------------------------------------------------- validation

    def _custom_prepare(
        self, rtype: ResourceType, obj: JsonObject, field_validation: str, *, report: bool
    ) -> list[str]:
        """Default and prune a custom resource; unknown fields per ``fieldValidation``."""
        if not rtype.custom or rtype.schema is None:
            return []
        schema.apply_defaults(rtype.schema, obj)
        pruned = schema.prune(rtype.schema, obj)
        if not report or not pruned or field_validation == "Ignore":
            return []
        if field_validation == "Strict":
            unknown = ", ".join(f'unknown field "{path}"' for path in pruned)
            raise errors.bad_request(
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a '
                f"{rtype.kind}: strict decoding error: {unknown}"
            )
        return [f'unknown field "{path}"' for path in pruned]

    def _validate(self, rtype: ResourceType, obj: JsonObject, old: JsonObject | None) -> None:
        meta = obj.get("metadata") or {}
        causes: list[Cause] = []
        if old is None:
            causes.extend(semantics.validate_name(rtype, str(meta.get("name") or "")))
        causes.extend(semantics.validate_metadata(meta))
        if rtype.custom and rtype.schema is not None:
            causes.extend(schema.validate(rtype.schema, obj))
            if old is not None:
                causes.extend(schema.validate_transition_rules(rtype.schema, obj, old))
        elif rtype.storage_key == _CRD_KEY:
            causes.extend(validate_crd(obj))
        else:
            causes.extend(_builtin_causes(rtype, obj))
        if causes:
            group = rtype.group
            raise errors.invalid(
                group, rtype.kind, str(meta.get("name") or meta.get("generateName") or ""), causes
            )

    def _admit(
        self,
        operation: Operation,
        rtype: ResourceType,
        subresource: str,
        obj: JsonObject,
        old: JsonObject | None,
        *,
        user: UserInfo,
        dry_run: bool,
        field_validation: str,
    ) -> tuple[JsonObject, list[str]]:
        report = subresource == ""
        warnings = self._custom_prepare(rtype, obj, field_validation, report=report)
        meta = obj["metadata"]
        namespace = str(meta.get("namespace", ""))
        name = str(meta.get("name", ""))
        if self.admission.active:
            outcome = self.admission.mutate(
                AdmissionAttributes(
                    operation, rtype, subresource, namespace, name, obj, old, user, dry_run
                )
            )
            warnings.extend(outcome.warnings)
            if outcome.object is not None and outcome.object is not obj:
                obj = copy.deepcopy(outcome.object)
                obj["metadata"] = {
                    **obj.get("metadata", {}),
                    **{
                        k: meta[k]
                        for k in ("uid", "name", "namespace", "creationTimestamp")
                        if k in meta
                    },
                }
                self._custom_prepare(rtype, obj, "Ignore", report=False)
        self._validate(rtype, obj, old)
        if self.admission.active:
            warnings.extend(
                self.admission.validate(
                    AdmissionAttributes(
                        operation, rtype, subresource, namespace, name, obj, old, user, dry_run
                    )
                )
            )
        return obj, warnings

    # ----------------------------------------------------------------- create

    def create(
        self,
        rtype: ResourceType,
        namespace: str,
        body: JsonObject,
        *,
        user: UserInfo = SYSTEM_USER,
        dry_run: bool = False,
        field_validation: str = "Warn",
    ) -> WriteResult:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        _check_kind(rtype, body)
        meta = body.get("metadata") or {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be a JSON object")
        if rtype.namespaced:
            body_namespace = meta.get("namespace")
            if body_namespace and namespace and body_namespace != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            namespace = namespace or str(body_namespace or "")
            self._check_namespace_open(rtype, namespace, str(meta.get("name") or ""))
        obj = semantics.prepare_create(rtype, body, namespace, new_uid(), self._clock())
        if rtype.storage_key == _CRD_KEY:
            obj["metadata"].setdefault("finalizers", [])
            if _CRD_FINALIZER not in obj["metadata"]["finalizers"]:
                obj["metadata"]["finalizers"].append(_CRD_FINALIZER)
        if rtype.plural == "jobs":
            _job_selector(obj)
        obj, warnings = self._admit(
            "CREATE",
            rtype,
            "",
            obj,
            None,
            user=user,
            dry_run=dry_run,
            field_validation=field_validation,
        )
        if rtype.storage_key == _CRD_KEY and not validate_crd(obj):
            obj["status"] = established_status(obj, self._clock())
        if dry_run:
            return WriteResult(obj, warnings)
        key = (namespace if rtype.namespaced else "", str(obj["metadata"]["name"]))
        with self._locked():
            if key in self._buckets.get(rtype.storage_key, {}):
                raise errors.already_exists(rtype.group, rtype.plural, key[1])
            if rtype.namespaced:
                self._check_namespace_open(rtype, namespace, key[1])
            stored = self._commit_new(rtype, obj)
            if rtype.storage_key == _CRD_KEY:
                self._serve_crd(stored)
        result = self._copy_of_committed(rtype, key, stored)
        return WriteResult(result, warnings)

    def _check_namespace_open(self, rtype: ResourceType, namespace: str, name: str) -> None:
        if not namespace:
            raise errors.bad_request("a namespace must be specified for a namespaced resource")
        entry = self._buckets.get(_NAMESPACE_KEY, {}).get(("", namespace))
        if entry is None:
            raise errors.not_found("", "namespaces", namespace)
        if entry.obj["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                rtype.group,
                rtype.plural,
                name,
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
            )

    def _serve_crd(self, crd: JsonObject) -> None:
        types, storage = types_for_crd(crd)
        self.registry.set_crd(str(crd["metadata"]["name"]), types, storage)
        for version, path, rule in ignored_rules(crd):
            _LOG.warning(
                "x-kubernetes-validations rule not supported by devcluster, ignored",
                extra={
                    "crd": crd["metadata"]["name"],
                    "version": version,
                    "field": path,
                    "rule": rule,
                },
            )

    # ----------------------------------------------------------------- update

    def update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: JsonObject,
        *,
        subresource: str = "",
        user: UserInfo = SYSTEM_USER,
        dry_run: bool = False,
        field_validation: str = "Warn",
    ) -> WriteResult:
        """``PUT``: replace the object (or its status); a stale resourceVersion is a 409."""
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            raise errors.bad_request(
                "the body of the request must be a JSON object with object metadata"
            )
        _check_kind(rtype, body)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        body_namespace = (body.get("metadata") or {}).get("namespace")
        if rtype.namespaced and body_namespace and body_namespace != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        return self._update(
            rtype,
            namespace,
            name,
            lambda _current: body,
            subresource=subresource,
            user=user,
            dry_run=dry_run,
            field_validation=field_validation,
        )

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        patch_type: str,
        patch: Any,
        *,
        subresource: str = "",
        user: UserInfo = SYSTEM_USER,
        dry_run: bool = False,
        field_validation: str = "Warn",
    ) -> WriteResult:
        """``PATCH`` with a JSON, merge or (built-in kinds only) strategic merge patch."""
        strategic = not rtype.custom

        def patched(current: JsonObject) -> JsonObject:
            result = apply_patch(patch_type, current, patch, strategic=strategic)
            meta = result.get("metadata")
            if not isinstance(meta, dict):
                raise errors.bad_request("the patched object has no object metadata")
            if meta.get("name") != current["metadata"]["name"]:
                raise errors.bad_request("the name of the object cannot be changed by a patch")
            return result

        return self._update(
            rtype,
            namespace,
            name,
            patched,
            subresource=subresource,
            user=user,
            dry_run=dry_run,
            field_validation=field_validation,
        )

    def modify(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        change: Callable[[JsonObject], JsonObject],
        *,
        subresource: str = "",
        user: UserInfo = SYSTEM_USER,
        resource_version: str = "",
        dry_run: bool = False,
    ) -> WriteResult:
        """Read-modify-write: ``change`` gets a private copy of the stored object.

        Without ``resource_version`` a concurrent change is retried transparently;
        with it, a different stored version is a 409 Conflict.
        """

        def changed(current: JsonObject) -> JsonObject:
            result = change(current)
            result.setdefault("metadata", {})["resourceVersion"] = resource_version
            return result

        return self._update(
            rtype,
            namespace,
            name,
            changed,
            subresource=subresource,
            user=user,
            dry_run=dry_run,
            field_validation="Ignore",
        )

    def _update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        make: Callable[[JsonObject], JsonObject],
        *,
        subresource: str,
        user: UserInfo,
        dry_run: bool,
        field_validation: str,
    ) -> WriteResult:
        key = (namespace if rtype.namespaced else "", name)
        for _attempt in range(_MAX_RETRIES):
            entry = self._entry(rtype, namespace, name)
            current: JsonObject = json.loads(entry.raw)
            incoming = make(json.loads(entry.raw))
            precondition = str((incoming.get("metadata") or {}).get("resourceVersion") or "")
            if precondition and precondition != str(entry.rv):
                raise errors.stale_resource_version(rtype.group, rtype.plural, name)
            updated = semantics.prepare_update(rtype, current, incoming, subresource)
            finalizer_causes = semantics.new_finalizer_causes(current, updated)
            if finalizer_causes:
                raise errors.invalid(rtype.group, rtype.kind, name, finalizer_causes)
            updated, warnings = self._admit(
                "UPDATE",
                rtype,
                subresource,
                updated,
                current,
                user=user,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            if rtype.storage_key == _CRD_KEY and subresource == "":
                updated["status"] = established_status(updated, self._clock())
            if semantics.same_content(updated, current):
                current["apiVersion"] = rtype.api_version
                return WriteResult(current, warnings)
            if dry_run:
                updated["apiVersion"] = rtype.api_version
                return WriteResult(updated, warnings)
            with self._locked():
                latest = self._buckets.get(rtype.storage_key, {}).get(key)
                if latest is None:
                    raise errors.not_found(rtype.group, rtype.plural, name)
                if latest.rv != entry.rv:
                    if precondition:
                        raise errors.stale_resource_version(rtype.group, rtype.plural, name)
                    continue
                if updated["metadata"].get("deletionTimestamp") and not _pending_finalizers(
                    updated
                ):
                    stored = self._commit_remove(rtype, key, latest, updated)
                else:
                    stored = self._commit_update(rtype, key, latest, updated)
                    self._queue_after_update(latest.obj, stored)
                    if rtype.storage_key == _CRD_KEY:
                        self._serve_crd(stored)
            self._drain_gc()
            return WriteResult(self._copy_of_committed(rtype, key, stored), warnings)
        raise errors.stale_resource_version(rtype.group, rtype.plural, name)

    def _queue_after_update(self, old: JsonObject, new: JsonObject) -> None:
        old_owners = {ref.get("uid") for ref in old["metadata"].get("ownerReferences") or []}
        new_owners = {ref.get("uid") for ref in new["metadata"].get("ownerReferences") or []}
        for uid in old_owners - new_owners:
            self._gc_queue.append(("check-foreground", str(uid)))

    # ----------------------------------------------------------------- delete

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: JsonObject | None = None,
        user: UserInfo = SYSTEM_USER,
        dry_run: bool = False,
    ) -> DeleteResult:
        """Delete, or only mark deleting while finalizers remain (``deleted`` is then False)."""
        if propagation not in (None, "Background", "Foreground", "Orphan"):
            raise errors.bad_request(
                f'propagationPolicy: Unsupported value: "{propagation}": supported values: '
                '"Foreground", "Background", "Orphan"'
            )
        if rtype.plural == "namespaces" and name in _UNDELETABLE_NAMESPACES:
            raise errors.forbidden("", "namespaces", name, "this namespace may not be deleted")
        key = (namespace if rtype.namespaced else "", name)
        for _attempt in range(_MAX_RETRIES):
            entry = self._entry(rtype, namespace, name)
            current: JsonObject = json.loads(entry.raw)
            _check_preconditions(rtype, current, preconditions or {})
            warnings: list[str] = []
            if self.admission.active:
                attributes = AdmissionAttributes(
                    "DELETE",
                    rtype,
                    "",
                    key[0],
                    name,
                    None,
                    current,
                    user,
                    dry_run,
                    {"propagationPolicy": propagation} if propagation else {},
                )
                warnings.extend(self.admission.validate(attributes))
            marked = _marked_for_deletion(rtype, current, propagation, self._clock())
            if dry_run:
                return DeleteResult(marked or current, marked is not None, warnings)
            with self._locked():
                latest = self._buckets.get(rtype.storage_key, {}).get(key)
                if latest is None:
                    raise errors.not_found(rtype.group, rtype.plural, name)
                if latest.rv != entry.rv:
                    continue
                if marked is None:
                    stored = self._commit_remove(rtype, key, latest, current)
                    deleted = True
                else:
                    stored = (
                        self._commit_update(rtype, key, latest, marked)
                        if not semantics.same_content(marked, current)
                        else current
                    )
                    deleted = False
                    uid = str(stored["metadata"]["uid"])
                    finalizers = stored["metadata"].get("finalizers") or []
                    if gc.ORPHAN in finalizers:
                        self._gc_queue.append(("orphan", uid))
                    if gc.FOREGROUND in finalizers:
                        self._gc_queue.append(("foreground", uid))
                    if rtype.plural == "namespaces":
                        self._gc_queue.append(("namespace", name))
                    if rtype.storage_key == _CRD_KEY:
                        self._gc_queue.append(("crd", name))
            self._drain_gc()
            result = json.loads(json.dumps(stored))
            result["apiVersion"] = rtype.api_version
            return DeleteResult(result, deleted, warnings)
        raise errors.conflict(
            rtype.group, rtype.plural, name, "the object kept changing during deletion"
        )

    # --------------------------------------------------------------- collectors

    def _drain_gc(self) -> None:
        """Run queued garbage collection in this thread (the outermost caller drains)."""
        if not self._gc_queue or getattr(self._gc_local, "running", False):
            return  # nothing queued (unlocked peek: a writer drains what it queued itself)
        self._gc_local.running = True
        try:
            while True:
                with self._locked():
                    if not self._gc_queue:
                        return
                    task, target = self._gc_queue.popleft()
                try:
                    self._run_gc_task(task, target)
                except ApiError as err:
                    _LOG.warning(
                        "garbage collection step failed",
                        extra={"task": task, "target": target, "error": err.message},
                    )
        finally:
            self._gc_local.running = False

    def _run_gc_task(self, task: str, target: str) -> None:
        if task in ("removed", "foreground"):
            for location in list(self._dependents.get(target, ())):
                self._collect_dependent(location)
            if task == "foreground":
                self._gc_queue.append(("check-foreground", target))
        elif task == "check-foreground":
            self._finish_foreground(target)
        elif task == "orphan":
            for location in list(self._dependents.get(target, ())):
                self._strip_owner(location, frozenset({target}))
            self._remove_finalizer_by_uid(target, gc.ORPHAN)
        elif task == "namespace":
            self._clean_namespace(target)
        elif task == "crd":
            self._clean_crd(target)
        elif task == "crd-instances" and target:
            for crd in list(self._buckets.get(_CRD_KEY, {}).values()):
                if crd.obj["spec"].get("group") == target and crd.obj["metadata"].get(
                    "deletionTimestamp"
                ):
                    self._gc_queue.append(("crd", str(crd.obj["metadata"]["name"])))

    def _type_for(self, storage_key: tuple[str, str]) -> ResourceType | None:
        for rtype in self.registry.storage_types():
            if rtype.storage_key == storage_key:
                return rtype
        return None

    def _object_at(self, location: Location) -> JsonObject | None:
        entry = self._buckets.get(location[0], {}).get((location[1], location[2]))
        return entry.obj if entry else None

    def _object_by_uid(self, uid: str) -> tuple[ResourceType, JsonObject] | None:
        location = self._by_uid.get(uid)
        if location is None:
            return None
        obj = self._object_at(location)
        rtype = self._type_for(location[0])
        if obj is None or rtype is None:
            return None
        return rtype, obj

    def _collect_dependent(self, location: Location) -> None:
        dependent = self._object_at(location)
        rtype = self._type_for(location[0])
        if dependent is None or rtype is None:
            return
        refs = dependent["metadata"].get("ownerReferences") or []
        states = {}
        for ref in refs:
            owner = self._object_by_uid(str(ref.get("uid", "")))
            states[str(ref.get("uid", ""))] = gc.owner_state(owner[1] if owner else None)
        decision = gc.decide_dependent(refs, states)
        if decision.action == "strip":
            self._strip_owner(location, decision.uids)
        elif decision.action == "delete" and not dependent["metadata"].get("deletionTimestamp"):
            self._ignore_missing(
                lambda: self.delete(
                    rtype, location[1], location[2], propagation=decision.propagation, user=GC_USER
                )
            )
        elif decision.action == "delete" and decision.propagation == "Foreground":
            self._gc_queue.append(("foreground", str(dependent["metadata"]["uid"])))

    def _strip_owner(self, location: Location, uids: frozenset[str]) -> None:
        rtype = self._type_for(location[0])
        if rtype is None:
            return
        self._ignore_missing(
            lambda: self.modify(
                rtype,
                location[1],
                location[2],
                lambda obj: gc.without_owner_refs(obj, uids),
                user=GC_USER,
            )
        )

    def _finish_foreground(self, owner_uid: str) -> None:
        found = self._object_by_uid(owner_uid)
        if found is None or gc.owner_state(found[1]) is not gc.OwnerState.WAITING:
            return
        for location in self._dependents.get(owner_uid, set()):
            dependent = self._object_at(location)
            if dependent is not None and gc.blocks_owner(dependent, owner_uid):
                return
        self._remove_finalizer_by_uid(owner_uid, gc.FOREGROUND)

    def _remove_finalizer_by_uid(self, uid: str, finalizer: str) -> None:
        found = self._object_by_uid(uid)
        if found is None:
            return
        rtype, obj = found
        meta = obj["metadata"]

        def without(current: JsonObject) -> JsonObject:
            current["metadata"]["finalizers"] = [
                f for f in current["metadata"].get("finalizers") or [] if f != finalizer
            ]
            return current

        self._ignore_missing(
            lambda: self.modify(
                rtype, str(meta.get("namespace", "")), str(meta["name"]), without, user=GC_USER
            )
        )

    def _clean_namespace(self, namespace: str) -> None:
        ns_entry = self._buckets.get(_NAMESPACE_KEY, {}).get(("", namespace))
        if ns_entry is None or not ns_entry.obj["metadata"].get("deletionTimestamp"):
            return
        for rtype in self.registry.storage_types():
            if not rtype.namespaced:
                continue
            for key, entry in list(self._buckets.get(rtype.storage_key, {}).items()):
                if key[0] == namespace and not entry.obj["metadata"].get("deletionTimestamp"):
                    self._ignore_missing(
                        functools.partial(self.delete, rtype, key[0], key[1], user=GC_USER)
                    )
        if self._namespace_empty(namespace):
            ns_type = self._namespace_type()

            def finalize(current: JsonObject) -> JsonObject:
                current.setdefault("spec", {})["finalizers"] = []
                return current

            self._ignore_missing(lambda: self._finalize_namespace(ns_type, namespace, finalize))

    def _namespace_empty(self, namespace: str) -> bool:
        return not any(
            key[0] == namespace
            for rtype in self.registry.storage_types()
            if rtype.namespaced
            for key in self._buckets.get(rtype.storage_key, {})
        )

    def _finalize_namespace(
        self, ns_type: ResourceType, namespace: str, finalize: Callable[[JsonObject], JsonObject]
    ) -> None:
        key = ("", namespace)
        with self._locked():
            entry = self._buckets.get(_NAMESPACE_KEY, {}).get(key)
            if entry is None:
                return
            updated = finalize(json.loads(entry.raw))
            if _pending_finalizers(updated):
                self._commit_update(ns_type, key, entry, updated)
            else:
                self._commit_remove(ns_type, key, entry, updated)

    def _clean_crd(self, crd_name: str) -> None:
        entry = self._buckets.get(_CRD_KEY, {}).get(("", crd_name))
        if entry is None or not entry.obj["metadata"].get("deletionTimestamp"):
            return
        spec = entry.obj["spec"]
        storage_key = (str(spec["group"]), str(spec["names"]["plural"]))
        instances = list(self._buckets.get(storage_key, {}).items())
        rtype = self._type_for(storage_key)
        if rtype is not None:
            for key, instance in instances:
                if not instance.obj["metadata"].get("deletionTimestamp"):
                    self._ignore_missing(
                        functools.partial(self.delete, rtype, key[0], key[1], user=GC_USER)
                    )
        if not self._buckets.get(storage_key):
            self._buckets.pop(storage_key, None)
            self._remove_finalizer_by_uid(str(entry.obj["metadata"]["uid"]), _CRD_FINALIZER)

    @staticmethod
    def _ignore_missing(action: Callable[[], object]) -> None:
        try:
            action()
        except ApiError as err:
            if err.code != 404:
                raise

    # ------------------------------------------------------------ snapshots

    def export_objects(self) -> tuple[int, list[JsonObject]]:
        """Every stored object (CRDs first) and the current resourceVersion."""
        with self._locked():
            objects = [entry.obj for entry in self._buckets.get(_CRD_KEY, {}).values()]
            for key, bucket in self._buckets.items():
                if key != _CRD_KEY:
                    objects.extend(entry.obj for entry in bucket.values())
            return self._rv, copy.deepcopy(objects)

    def import_objects(self, resource_version: int, objects: Iterable[JsonObject]) -> list[str]:
        """Load objects as stored (no admission); returns problems with skipped objects."""
        problems: list[str] = []
        with self._locked():
            for obj in objects:
                rtype = self.registry.for_kind(
                    str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
                )
                meta = obj.get("metadata") or {}
                if rtype is None or not meta.get("name"):
                    problems.append(
                        f"skipped {obj.get('apiVersion')}/{obj.get('kind')} "
                        f"{meta.get('name')!r}: type not served"
                    )
                    continue
                key = (
                    str(meta.get("namespace", "")) if rtype.namespaced else "",
                    str(meta["name"]),
                )
                rv = int(meta.get("resourceVersion") or 0)
                old = self._buckets.setdefault(rtype.storage_key, {}).get(key)
                self._buckets[rtype.storage_key][key] = _Entry(obj, rv)
                self._index((rtype.storage_key, *key), old.obj if old else None, obj)
                self._mark_changed(rtype.storage_key)
                if rtype.storage_key == _CRD_KEY:
                    self._serve_crd(obj)
            self._rv = max(self._rv, resource_version)
        return problems


def _by_key(item: tuple[ObjectKey, _Entry]) -> ObjectKey:
    return item[0]


def _check_kind(rtype: ResourceType, body: JsonObject) -> None:
    kind = body.get("kind")
    if kind and kind != rtype.kind:
        raise errors.bad_request(
            f"the object provided is unrecognized ({kind} is not {rtype.kind})"
        )
    api_version = body.get("apiVersion")
    if api_version and api_version.rpartition("/")[0] != rtype.group:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rtype.api_version})"
        )


def _check_preconditions(
    rtype: ResourceType, current: JsonObject, preconditions: JsonObject
) -> None:
    meta = current["metadata"]
    uid = preconditions.get("uid")
    if uid and uid != meta.get("uid"):
        raise errors.conflict(
            rtype.group,
            rtype.plural,
            str(meta["name"]),
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
            f"{meta.get('uid')}",
        )
    rv = preconditions.get("resourceVersion")
    if rv and rv != meta.get("resourceVersion"):
        raise errors.conflict(
            rtype.group,
            rtype.plural,
            str(meta["name"]),
            f"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in "
            f"object meta: {meta.get('resourceVersion')}",
        )


def _marked_for_deletion(
    rtype: ResourceType, current: JsonObject, propagation: str | None, now: str
) -> JsonObject | None:
    """The object marked deleting, or ``None`` when it goes at once (no finalizers left)."""
    marked = copy.deepcopy(current)
    meta = marked["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if propagation == "Orphan" and gc.ORPHAN not in finalizers:
        finalizers.append(gc.ORPHAN)
    if propagation == "Foreground" and gc.FOREGROUND not in finalizers:
        finalizers.append(gc.FOREGROUND)
    if finalizers:
        meta["finalizers"] = finalizers
    if rtype.plural == "namespaces":
        marked.setdefault("status", {})["phase"] = "Terminating"
    if not _pending_finalizers(marked):
        return None
    if not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = now
        meta["deletionGracePeriodSeconds"] = 0
        if rtype.has_generation:
            meta["generation"] = int(meta.get("generation") or 0) + 1
    return marked


def _pending_finalizers(obj: JsonObject) -> list[str]:
    """Finalizers still holding the object; a Namespace also waits for its ``spec.finalizers``."""
    pending = list(obj["metadata"].get("finalizers") or [])
    if obj.get("kind") == "Namespace":
        pending.extend((obj.get("spec") or {}).get("finalizers") or [])
    return pending


def _job_selector(job: JsonObject) -> None:
    """Jobs get a generated selector on their uid, and matching pod-template labels."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    uid = str(job["metadata"]["uid"])
    labels = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid}
    name = str(job["metadata"].get("name", ""))
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_meta.setdefault("labels", {}).update(
        {**labels, "batch.kubernetes.io/job-name": name, "job-name": name}
    )


def _builtin_causes(rtype: ResourceType, obj: JsonObject) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    if rtype.plural in ("deployments", "replicasets"):
        selector = spec.get("selector")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector:
            causes.append(Cause("FieldValueRequired", "spec.selector", "Required value"))
        elif any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    "spec.template.metadata.labels",
                    f"Invalid value: {json.dumps(labels, separators=(',', ':'))}: `selector` "
                    "does not match template `labels`",
                )
            )
        if not ((spec.get("template") or {}).get("spec") or {}).get("containers"):
            causes.append(
                Cause("FieldValueRequired", "spec.template.spec.containers", "Required value")
            )
        replicas = spec.get("replicas")
        if isinstance(replicas, int) and replicas < 0:
            causes.append(
                Cause(
                    "FieldValueInvalid",
                    "spec.replicas",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                )
            )
    elif rtype.plural == "pods" and not spec.get("containers"):
        causes.append(Cause("FieldValueRequired", "spec.containers", "Required value"))
    elif rtype.plural == "jobs" and not ((spec.get("template") or {}).get("spec") or {}).get(
        "containers"
    ):
        causes.append(
            Cause("FieldValueRequired", "spec.template.spec.containers", "Required value")
        )
    return causes
