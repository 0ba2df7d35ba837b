"""The informer's local copy of one kind: objects by key, and an index by owner.

Reads for reconciling come from here, never from the API server. Thread-safe;
objects are stored as the server returned them and must be treated as
read-only by callers (copy before changing).
"""

from __future__ import annotations

import builtins
import threading
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]
ObjectKey = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds


def key_of(obj: JSON) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    return (metadata.get("namespace") or "", metadata["name"])


def owner_uids(obj: JSON) -> list[str]:
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [ref["uid"] for ref in references if ref.get("uid")]


def controller_owner(obj: JSON) -> JSON | None:
    """The ownerReference with ``controller: true``, if any."""
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("controller"):
            return dict(reference)
    return None


class Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[ObjectKey, JSON] = {}
        self._by_owner: defaultdict[str, set[ObjectKey]] = defaultdict(set)
        self.resource_version = ""

    def _unindex(self, key: ObjectKey) -> None:
        previous = self._objects.get(key)
        if previous is None:
            return
        for uid in owner_uids(previous):
            keys = self._by_owner.get(uid)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_owner[uid]

    def upsert(self, obj: JSON) -> JSON | None:
        """Store ``obj``; return the previous version, if any."""
        key = key_of(obj)
        with self._lock:
            previous = self._objects.get(key)
            self._unindex(key)
            self._objects[key] = obj
            for uid in owner_uids(obj):
                self._by_owner[uid].add(key)
            return previous

    def delete(self, obj: JSON) -> JSON | None:
        key = key_of(obj)
        with self._lock:
            self._unindex(key)
            return self._objects.pop(key, None)

    def replace(self, objects: Iterable[JSON], resource_version: str) -> list[JSON]:
        """Replace the whole content (after a list); return the objects that disappeared."""
        fresh = {key_of(obj): obj for obj in objects}
        with self._lock:
            gone = [obj for key, obj in self._objects.items() if key not in fresh]
            self._objects = {}
            self._by_owner = defaultdict(set)
            for key, obj in fresh.items():
                self._objects[key] = obj
                for uid in owner_uids(obj):
                    self._by_owner[uid].add(key)
            self.resource_version = resource_version
            return gone

    def get(self, namespace: str, name: str) -> JSON | None:
        with self._lock:
            return self._objects.get((namespace, name))

    def list(self, namespace: str | None = None) -> list[JSON]:
        with self._lock:
            if namespace is None:
                return list(self._objects.values())
            return [obj for (ns, _), obj in self._objects.items() if ns == namespace]

    def owned_by(self, uid: str) -> builtins.list[JSON]:
        with self._lock:
            return [self._objects[key] for key in self._by_owner.get(uid, ())]

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)
