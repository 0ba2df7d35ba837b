"""Pure object semantics of the generic registry: create/update preparation, generation.

No locking, no storage: every function takes the relevant objects and returns a
new one (or the causes of an Invalid answer), so the rules are unit-tested alone.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from devcluster.errors import Cause
from devcluster.ids import random_suffix
from devcluster.resources import ResourceType

JsonObject = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Metadata the server owns: carried over from the stored object on every update.
_SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)
# Built-in kinds whose status the server resets on create (their status is written by controllers).
_STATUS_RESET_ON_CREATE = frozenset(
    {"pods", "deployments", "replicasets", "jobs", "services", "namespaces"}
)


def generate_name(prefix: str) -> str:
    suffix = random_suffix(_GENERATE_ALPHABET, 5)
    return f"{prefix[:58]}{suffix}"


def validate_name(rtype: ResourceType, name: str, *, field: str = "metadata.name") -> list[Cause]:
    if not name:
        return [
            Cause("FieldValueRequired", field, "Required value: name or generateName is required")
        ]
    if rtype.plural == "namespaces":
        if len(name) > 63:
            return [
                Cause(
                    "FieldValueInvalid",
                    field,
                    f'Invalid value: "{name}": must be no more than 63 characters',
                )
            ]
        if not _LABEL.match(name):
            return [Cause("FieldValueInvalid", field, f'Invalid value: "{name}": {_LABEL_MESSAGE}')]
        return []
    if len(name) > 253:
        return [
            Cause(
                "FieldValueInvalid",
                field,
                f'Invalid value: "{name}": must be no more than 253 characters',
            )
        ]
    if not _SUBDOMAIN.match(name):
        return [Cause("FieldValueInvalid", field, f'Invalid value: "{name}": {_SUBDOMAIN_MESSAGE}')]
    return []


def validate_metadata(meta: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    f"metadata.{key}",
                    "Invalid value: must be a map of string to string",
                )
            )
    for index, ref in enumerate(meta.get("ownerReferences") or []):
        for required in ("apiVersion", "kind", "name", "uid"):
            if not (isinstance(ref, dict) and ref.get(required)):
                causes.append(
                    Cause(
                        "FieldValueRequired",
                        f"metadata.ownerReferences[{index}].{required}",
                        "Required value",
                    )
                )
    finalizers = meta.get("finalizers")
    if finalizers is not None and not (
        isinstance(finalizers, list) and all(isinstance(f, str) for f in finalizers)
    ):
        causes.append(
            Cause(
                "FieldValueTypeInvalid",
                "metadata.finalizers",
                "Invalid value: must be a list of strings",
            )
        )
    return causes


def prepare_create(
    rtype: ResourceType, obj: JsonObject, namespace: str, uid: str, now: str
) -> JsonObject:
    """Fill the server-owned metadata of a new object (everything but resourceVersion)."""
    result = copy.deepcopy(obj)
    result["apiVersion"] = rtype.api_version
    result["kind"] = rtype.kind
    meta = result.setdefault("metadata", {})
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = generate_name(str(meta["generateName"]))
    if rtype.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    meta["uid"] = uid
    meta["creationTimestamp"] = now
    for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
        meta.pop(key, None)
    if rtype.has_generation:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    if rtype.custom and rtype.status_subresource:
        result.pop("status", None)
    elif rtype.plural in _STATUS_RESET_ON_CREATE:
        result["status"] = {}
    _builtin_defaults(rtype, result)
    return result


def _builtin_defaults(rtype: ResourceType, obj: JsonObject) -> None:
    if rtype.plural == "namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"][
            "name"
        ]
    elif rtype.plural == "pods":
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif rtype.plural in ("deployments", "replicasets"):
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        if rtype.plural == "deployments":
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault(
                "strategy",
                {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
            )
    elif rtype.plural == "jobs":
        spec = obj.setdefault("spec", {})
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
    elif rtype.plural == "services":
        obj["status"] = {"loadBalancer": {}}
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
    elif rtype.plural == "secrets":
        obj.setdefault("type", "Opaque")


def _generation_relevant(rtype: ResourceType, obj: Mapping[str, Any]) -> Any:
    """The part of an object whose change bumps ``metadata.generation``."""
    if rtype.custom:
        skipped = {"metadata", "status"} if rtype.status_subresource else {"metadata"}
        return {
            key: value for key, value in obj.items() if key not in skipped | {"apiVersion", "kind"}
        }
    return obj.get("spec")


def prepare_update(
    rtype: ResourceType, current: Mapping[str, Any], incoming: Mapping[str, Any], subresource: str
) -> JsonObject:
    """Merge a client's object with the stored one the way the registry strategies do.

    The main endpoint ignores ``status`` of kinds with a status subresource;
    ``/status`` ignores everything but ``status``. Server-owned metadata is kept,
    and ``generation`` goes up when the generation-relevant part changed.
    """
    if subresource == "status":
        result = copy.deepcopy(dict(current))
        if "status" in incoming:
            result["status"] = copy.deepcopy(incoming["status"])
        else:
            result.pop("status", None)
        return result
    result = copy.deepcopy(dict(incoming))
    result["apiVersion"] = current.get("apiVersion", rtype.api_version)
    result["kind"] = rtype.kind
    meta = result.setdefault("metadata", {})
    current_meta = current.get("metadata") or {}
    for key in _SYSTEM_METADATA:
        if key in current_meta:
            meta[key] = current_meta[key]
        else:
            meta.pop(key, None)
    meta["name"] = current_meta.get("name")
    if rtype.namespaced:
        meta["namespace"] = current_meta.get("namespace")
    if rtype.status_subresource:
        if "status" in current:
            result["status"] = copy.deepcopy(current["status"])
        else:
            result.pop("status", None)
    if rtype.has_generation and _generation_relevant(rtype, result) != _generation_relevant(
        rtype, current
    ):
        meta["generation"] = int(current_meta.get("generation") or 0) + 1
    return result


def new_finalizer_causes(current: Mapping[str, Any], updated: Mapping[str, Any]) -> list[Cause]:
    """Once deleting, no finalizer may be added (``metadata.finalizers: Forbidden``)."""
    current_meta = current.get("metadata") or {}
    if not current_meta.get("deletionTimestamp"):
        return []
    before = set(current_meta.get("finalizers") or [])
    added = [f for f in (updated.get("metadata") or {}).get("finalizers") or [] if f not in before]
    if not added:
        return []
    listed = ", ".join(f'"{f}"' for f in added)
    return [
        Cause(
            "FieldValueForbidden",
            "metadata.finalizers",
            "Forbidden: no new finalizers can be added if the object is being deleted, found "
            f"new finalizers []string{{{listed}}}",
        )
    ]


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal apart from resourceVersion: such an update is a no-op (no new version, no event)."""
    meta_a = {k: v for k, v in (a.get("metadata") or {}).items() if k != "resourceVersion"}
    meta_b = {k: v for k, v in (b.get("metadata") or {}).items() if k != "resourceVersion"}
    if meta_a != meta_b:
        return False
    rest_a = {k: v for k, v in a.items() if k != "metadata"}
    rest_b = {k: v for k, v in b.items() if k != "metadata"}
    return rest_a == rest_b
