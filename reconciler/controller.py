"""The shape of a controller, and the read-only view of the cluster it observes through.

A controller is two functions over plain JSON objects:

* ``observe(obj, view)`` gathers what ``decide`` needs (children from the
  informer caches, a live read of a target) and returns it as a value;
* ``decide(obj, observed, now)`` is pure: no I/O, the clock passed in. It
  returns the :mod:`reconciler.effects` the executor carries out.

Keeping I/O out of ``decide`` is what lets every phase, timeout and failure
path be unit-tested with plain objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from reconciler.cache import Cache
from reconciler.effects import Effect
from reconciler.kube import ApiError, KubeClient, Resource

JSON = dict[str, Any]
Observed = TypeVar("Observed")


class Controller(Protocol[Observed]):
    name: str
    resource: Resource
    owns: Sequence[Resource]
    """Kinds whose objects this controller creates; their events enqueue the owner."""
    reads: Sequence[Resource]
    """Other kinds read through the caches (watched, but events do not enqueue)."""

    def observe(self, obj: JSON, view: ClusterView) -> Observed: ...

    def decide(self, obj: JSON, observed: Observed, now: datetime) -> Sequence[Effect]: ...


class ClusterView:
    """Reads for ``observe``: the informer caches first, the API server for anything else."""

    def __init__(self, client: KubeClient, caches: Mapping[Resource, Sequence[Cache]]) -> None:
        self.client = client
        self._caches = caches

    def watched(self, resource: Resource) -> bool:
        return resource in self._caches

    def get(self, resource: Resource, namespace: str | None, name: str) -> JSON | None:
        caches = self._caches.get(resource)
        if caches is not None:
            for cache in caches:
                found = cache.get(namespace or "", name)
                if found is not None:
                    return found
            return None
        try:
            return self.client.get(resource, namespace, name)
        except ApiError as err:
            if err.not_found:
                return None
            raise

    def owned_by(self, resource: Resource, uid: str) -> list[JSON]:
        """Objects of ``resource`` with an ownerReference to ``uid`` (watched kinds only)."""
        return [obj for cache in self._caches.get(resource, ()) for obj in cache.owned_by(uid)]

    def list(self, resource: Resource, namespace: str | None = None) -> list[JSON]:
        return [obj for cache in self._caches.get(resource, ()) for obj in cache.list(namespace)]
