"""Strategic merge patch for built-in kinds (``application/strategic-merge-patch+json``).

A merge patch, except that some lists merge element-wise by a merge key instead of
being replaced. The patch strategy of each list field comes from the Go struct tags
of the built-in types (``patchStrategy:"merge" patchMergeKey:"name"``); the subset
below covers the kinds this stand-in serves and everything ``kubectl apply``,
``kubectl patch`` and ``kubectl edit`` send. Directives supported: ``$patch``
(``delete``/``replace``/``merge``), ``$setElementOrder/<list>``, ``$retainKeys`` and
``$deleteFromPrimitiveList/<list>``. Lists without a known strategy are replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

JsonObject = dict[str, Any]

# Field name -> merge key of lists of objects merged element-wise.
_MERGE_KEYS: Mapping[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "secrets": "name",
    "taints": "key",
    "addresses": "type",
    "readinessGates": "conditionType",
}
# Lists of scalars merged as ordered sets.
_MERGED_SCALAR_LISTS = frozenset({"finalizers"})

_DIRECTIVE = "$patch"
_ORDER_PREFIX = "$setElementOrder/"
_DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList/"
_RETAIN_KEYS = "$retainKeys"


class StrategicMergeError(ValueError):
    """A malformed patch (wrong directive, missing merge key); shown to the client."""


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        # Container ports merge by containerPort, Service ports by port.
        sample = next((item for item in items if isinstance(item, Mapping)), None)
        if sample is None:
            return None
        return "containerPort" if "containerPort" in sample else "port"
    return _MERGE_KEYS.get(field)


def strategic_merge(original: JsonObject, patch: JsonObject) -> JsonObject:
    """Return ``original`` with ``patch`` applied; neither argument is modified."""
    if not isinstance(patch, Mapping):
        raise StrategicMergeError("a strategic merge patch must be a JSON object")
    return _merge_map(copy.deepcopy(original), patch)


def _merge_map(target: JsonObject, patch: Mapping[str, Any]) -> JsonObject:
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        return {key: copy.deepcopy(value) for key, value in patch.items() if key != _DIRECTIVE}
    if directive not in (None, "merge", "delete"):
        raise StrategicMergeError(f"unknown patch type {directive!r} in map")
    retain = patch.get(_RETAIN_KEYS)
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN_KEYS):
            continue
        if key.startswith(_ORDER_PREFIX):
            if not isinstance(value, list):
                raise StrategicMergeError(f"{key} must be a list")
            orders[key[len(_ORDER_PREFIX) :]] = value
            continue
        if key.startswith(_DELETE_PRIMITIVE_PREFIX):
            field = key[len(_DELETE_PRIMITIVE_PREFIX) :]
            if not isinstance(value, list):
                raise StrategicMergeError(f"{key} must be a list")
            if isinstance(target.get(field), list):
                target[field] = [item for item in target[field] if item not in value]
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping):
            if value.get(_DIRECTIVE) == "delete":
                target.pop(key, None)
                continue
            current = target.get(key)
            target[key] = _merge_map(current if isinstance(current, dict) else {}, value)
        elif isinstance(value, list):
            target[key] = _merge_list(key, target.get(key), value)
        else:
            target[key] = value
    for field, order in orders.items():
        if isinstance(target.get(field), list):
            target[field] = _apply_order(field, target[field], order)
    if retain is not None:
        if not isinstance(retain, list):
            raise StrategicMergeError("$retainKeys must be a list")
        for key in list(target):
            if key not in retain:
                del target[key]
    return target


def _merge_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    existing: list[Any] = current if isinstance(current, list) else []
    if field in _MERGED_SCALAR_LISTS:
        merged = list(existing)
        for item in patch:
            if item not in merged:
                merged.append(copy.deepcopy(item))
        return merged
    key = _merge_key(field, patch) or _merge_key(field, existing)
    if key is None or not all(isinstance(item, Mapping) for item in patch):
        return [copy.deepcopy(item) for item in patch if not _is_directive_only(item)]
    if any(isinstance(item, Mapping) and item.get(_DIRECTIVE) == "replace" for item in patch):
        return [
            copy.deepcopy(item)
            for item in patch
            if not (isinstance(item, Mapping) and _DIRECTIVE in item)
        ]
    merged = [copy.deepcopy(item) for item in existing]
    for item in patch:
        if key not in item:
            raise StrategicMergeError(
                f"map: {dict(item)} does not contain declared merge key: {key}"
            )
        index = next(
            (
                i
                for i, existing_item in enumerate(merged)
                if isinstance(existing_item, Mapping) and existing_item.get(key) == item[key]
            ),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            if index is not None:
                del merged[index]
            continue
        if index is None:
            merged.append(_merge_map({}, item))
        else:
            merged[index] = _merge_map(merged[index], item)
    return merged


def _is_directive_only(item: Any) -> bool:
    return isinstance(item, Mapping) and set(item) == {_DIRECTIVE}


def _apply_order(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    """Order ``items`` as ``$setElementOrder`` says; items it does not name go last."""
    key = _merge_key(field, items)

    def identity(item: Any) -> Any:
        if key is not None and isinstance(item, Mapping):
            return item.get(key)
        return item

    wanted = [identity(entry) if isinstance(entry, Mapping) else entry for entry in order]
    positions = {_json_key(value): index for index, value in enumerate(wanted)}
    return sorted(items, key=lambda item: positions.get(_json_key(identity(item)), len(positions)))


def _json_key(value: Any) -> str:
    return repr(value)
