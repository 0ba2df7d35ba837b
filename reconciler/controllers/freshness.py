"""Is the cached object the latest version? Asked before side effects that must not repeat.

The informer cache may lag behind the controller's own last status write: a
reconcile can read an object whose recorded state is already outdated. For
reads that is harmless (the write that follows meets a conflict and the
reconcile runs again on the fresh object), but a side effect outside the
cluster (a notification delivery, a call to an external analysis service)
would be repeated. Those run only after a live GET confirms the object's
``resourceVersion``.
"""

from __future__ import annotations

from typing import Any

from reconciler.controller import ClusterView
from reconciler.kube import ApiError, Resource

__all__ = ["STALE_RECHECK_SECONDS", "is_current"]

JSON = dict[str, Any]

STALE_RECHECK_SECONDS = 1.0
"""Requeue after finding a stale object (the cache's update event normally comes first)."""


def is_current(view: ClusterView, resource: Resource, obj: JSON) -> bool:
    """Whether ``obj`` has the resourceVersion the API server holds now (live GET)."""
    metadata = obj.get("metadata") or {}
    try:
        live = view.client.get(resource, metadata.get("namespace"), str(metadata.get("name")))
    except ApiError as err:
        if err.not_found:
            return False
        raise
    return bool(
        (live.get("metadata") or {}).get("resourceVersion") == metadata.get("resourceVersion")
    )
