"""Server-side printing: ``meta.k8s.io/v1`` Table responses (``Accept: ...;as=Table``).

Custom resources use their CRD's ``additionalPrinterColumns`` (JSONPath subset:
``.a.b``, ``[n]``, ``[*]``, ``[?(@.field=="value")]``); built-in kinds a few
columns like ``kubectl``'s; everything else Name and Age.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from devcluster.resources import PrinterColumn, ResourceType

JsonObject = dict[str, Any]

_NAME = PrinterColumn("Name", "string", ".metadata.name", "Name must be unique within a namespace.")
_AGE = PrinterColumn(
    "Age",
    "date",
    ".metadata.creationTimestamp",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
)
_TOKEN = re.compile(
    r"\.([A-Za-z0-9_\-]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]"
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate the JSONPath subset used by printer columns; returns all matches."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    text = text.removeprefix("$")
    current = [obj]
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            return []
        position = match.end()
        field, index, filter_path, filter_value = match.groups()
        following: list[Any] = []
        for value in current:
            if field is not None and isinstance(value, Mapping) and field in value:
                following.append(value[field])
            elif index == "*" and isinstance(value, list):
                following.extend(value)
            elif (
                index is not None
                and index != "*"
                and isinstance(value, list)
                and int(index) < len(value)
            ):
                following.append(value[int(index)])
            elif filter_path is not None and isinstance(value, list):
                following.extend(
                    item
                    for item in value
                    if _cell_text(jsonpath(item, "." + filter_path)) == filter_value
                )
        current = following
    return current


def _cell_text(values: list[Any]) -> str:
    return ",".join(v if isinstance(v, str) else json.dumps(v) for v in values)


def age(timestamp: str, now: datetime) -> str:
    """``kubectl``'s short human duration (``45s``, ``3m``, ``5h``, ``2d``)."""
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _deployment_ready(obj: JsonObject) -> str:
    status = obj.get("status") or {}
    return f"{status.get('readyReplicas', 0)}/{(obj.get('spec') or {}).get('replicas', 0)}"


def _pod_ready(obj: JsonObject) -> str:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_restarts(obj: JsonObject) -> int:
    return sum(
        int(s.get("restartCount", 0))
        for s in (obj.get("status") or {}).get("containerStatuses") or []
    )


def _pod_status(obj: JsonObject) -> str:
    """The STATUS the API server prints: a container's waiting or terminated reason, else
    Terminating while being deleted, else the pod's phase."""
    status = obj.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "")
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        terminated = (state.get("terminated") or {}).get("reason")
        if waiting or terminated:
            reason = str(waiting or terminated)
            break
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return reason


def _job_completions(obj: JsonObject) -> str:
    succeeded = (obj.get("status") or {}).get("succeeded", 0)
    return f"{succeeded}/{(obj.get('spec') or {}).get('completions', 1)}"


Computed = Callable[[JsonObject], Any]
_BUILTIN: Mapping[str, list[tuple[PrinterColumn, Computed | None]]] = {
    "deployments": [
        (
            PrinterColumn("Ready", "string", "", "Number of the pod with ready state"),
            _deployment_ready,
        ),
        (PrinterColumn("Up-to-date", "integer", ".status.updatedReplicas"), None),
        (PrinterColumn("Available", "integer", ".status.availableReplicas"), None),
    ],
    "pods": [
        (
            PrinterColumn(
                "Ready",
                "string",
                "",
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            _pod_ready,
        ),
        (PrinterColumn("Status", "string", ""), _pod_status),
        (PrinterColumn("Restarts", "string", ""), _pod_restarts),
        (PrinterColumn("IP", "string", ".status.podIP", priority=1), None),
        (PrinterColumn("Node", "string", ".spec.nodeName", priority=1), None),
    ],
    "jobs": [
        (PrinterColumn("Status", "string", ".status.conditions[0].type"), None),
        (
            PrinterColumn("Completions", "string", ""),
            _job_completions,
        ),
    ],
    "namespaces": [(PrinterColumn("Status", "string", ".status.phase"), None)],
    "configmaps": [
        (
            PrinterColumn("Data", "integer", ""),
            lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
        )
    ],
    "secrets": [
        (PrinterColumn("Type", "string", ".type"), None),
        (PrinterColumn("Data", "integer", ""), lambda o: len(o.get("data") or {})),
    ],
    "leases": [(PrinterColumn("Holder", "string", ".spec.holderIdentity"), None)],
}


def _columns(rtype: ResourceType) -> list[tuple[PrinterColumn, Computed | None]]:
    if rtype.custom:
        return [(_NAME, None), *((column, None) for column in rtype.printer_columns)]
    return [(_NAME, None), *_BUILTIN.get(rtype.plural, []), (_AGE, None)]


def _cell(column: PrinterColumn, computed: Computed | None, obj: JsonObject, now: datetime) -> Any:
    if computed is not None:
        return computed(obj)
    values = jsonpath(obj, column.json_path)
    if not values:
        return None
    if column.type == "date" and isinstance(values[0], str):
        return age(values[0], now)
    if len(values) == 1 and column.type in ("integer", "number", "boolean"):
        return values[0]
    return _cell_text(values)


def _partial(obj: JsonObject) -> JsonObject:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def table(
    rtype: ResourceType,
    objects: list[JsonObject],
    *,
    resource_version: str,
    include_object: str = "Metadata",
    continue_token: str = "",
    headers: bool = True,
) -> JsonObject:
    now = datetime.now(UTC)
    columns = _columns(rtype)
    definitions = [
        {
            "name": c.name,
            "type": "string" if c.type == "date" else c.type,
            "format": "name" if c is _NAME else c.format,
            "description": c.description,
            "priority": c.priority,
        }
        for c, _ in columns
    ]
    rows = []
    for obj in objects:
        row: JsonObject = {
            "cells": [_cell(column, computed, obj, now) for column, computed in columns]
        }
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial(obj)
        rows.append(row)
    metadata: JsonObject = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    result: JsonObject = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "rows": rows,
    }
    result["columnDefinitions"] = definitions if headers else []
    return result
