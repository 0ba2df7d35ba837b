"""Subresources whose payload is another kind: ``scale`` (autoscaling/v1 Scale)."""

from __future__ import annotations

import copy
from typing import Any

from devcluster.resources import ResourceType
from devcluster.selectors import format_label_selector
from devcluster.tables import jsonpath

JsonObject = dict[str, Any]


def _path_segments(path: str) -> list[str]:
    return [segment for segment in path.strip().lstrip(".").split(".") if segment]


def scale_of(rtype: ResourceType, obj: JsonObject) -> JsonObject:
    """The Scale object the ``/scale`` subresource serves for ``obj``."""
    assert rtype.scale is not None
    meta = obj["metadata"]
    spec_values = jsonpath(obj, rtype.scale.spec_replicas_path)
    status_values = jsonpath(obj, rtype.scale.status_replicas_path)
    selector = ""
    if rtype.scale.label_selector_path:
        found = jsonpath(obj, rtype.scale.label_selector_path)
        if found:
            selector = (
                format_label_selector(found[0]) if isinstance(found[0], dict) else str(found[0])
            )
    status: JsonObject = {"replicas": int(status_values[0]) if status_values else 0}
    if selector:
        status["selector"] = selector
    scale_meta = {
        key: meta[key]
        for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if key in meta
    }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": int(spec_values[0]) if spec_values else 0},
        "status": status,
    }


def with_replicas(rtype: ResourceType, obj: JsonObject, replicas: int) -> JsonObject:
    """A copy of ``obj`` whose spec replicas (at the scale path) is ``replicas``."""
    assert rtype.scale is not None
    result = copy.deepcopy(obj)
    segments = _path_segments(rtype.scale.spec_replicas_path)
    target = result
    for segment in segments[:-1]:
        target = target.setdefault(segment, {})
    target[segments[-1]] = replicas
    return result
