"""The store's write path: owner index lookups, change markers and deferred watcher wake-ups."""

from __future__ import annotations

import threading
from typing import Any

from devcluster.resources import ResourceType
from devcluster.store import Store
from devcluster.watch import WatchEvent


def _rtype(store: Store, group: str, version: str, plural: str) -> ResourceType:
    rtype = store.registry.lookup(group, version, plural)
    assert rtype is not None
    return rtype


def _owned(name: str, owner: dict[str, Any], *, controller: bool = True) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "metadata": {
            "name": name,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": controller,
                }
            ],
        }
    }


def test_dependents_are_private_copies_of_the_owned_objects_of_one_type_and_namespace() -> None:
    store = Store()
    configmaps = _rtype(store, "", "v1", "configmaps")
    secrets = _rtype(store, "", "v1", "secrets")
    store.create(_rtype(store, "", "v1", "namespaces"), "", {"metadata": {"name": "other"}})
    owner = store.create(configmaps, "default", {"metadata": {"name": "owner"}}).object
    stranger = store.create(configmaps, "default", {"metadata": {"name": "stranger"}}).object
    for name in ("b", "a", "c"):
        store.create(configmaps, "default", _owned(name, owner, controller=name != "c"))
    store.create(configmaps, "default", _owned("not-mine", stranger))
    store.create(secrets, "default", _owned("a-secret", owner))
    store.create(configmaps, "other", _owned("elsewhere", owner))

    found = store.dependents(configmaps, "default", owner["metadata"]["uid"])

    assert [obj["metadata"]["name"] for obj in found] == ["a", "b", "c"]
    assert all(obj["apiVersion"] == "v1" for obj in found)
    found[0]["data"] = {"changed": "locally"}
    assert "data" not in store.get(configmaps, "default", "a")
    store.delete(configmaps, "default", "b")
    assert [
        obj["metadata"]["name"]
        for obj in store.dependents(configmaps, "default", owner["metadata"]["uid"])
    ] == ["a", "c"]


def test_the_change_marker_of_a_type_moves_with_every_commit_to_it_only() -> None:
    store = Store()
    configmaps = _rtype(store, "", "v1", "configmaps")
    secrets = _rtype(store, "", "v1", "secrets")
    assert store.changed_at(configmaps) == 0
    store.create(configmaps, "default", {"metadata": {"name": "a"}})
    created = store.changed_at(configmaps)
    store.create(secrets, "default", {"metadata": {"name": "s"}})
    assert store.changed_at(configmaps) == created
    store.patch(configmaps, "default", "a", "application/merge-patch+json", {"data": {"k": "v"}})
    patched = store.changed_at(configmaps)
    assert patched != created
    store.delete(configmaps, "default", "a")
    assert store.changed_at(configmaps) not in (created, patched)


def test_watchers_are_woken_after_the_commit_with_the_event_already_queued() -> None:
    store = Store()
    configmaps = _rtype(store, "", "v1", "configmaps")
    subscription = store.watch(configmaps, "default", resource_version=str(store.resource_version))
    seen: list[tuple[bool, list[WatchEvent]]] = []

    def lock_is_free() -> bool:
        # From another thread: the store's lock is reentrant for the committing thread.
        result: list[bool] = []

        def probe() -> None:
            taken = store._lock.acquire(blocking=False)
            if taken:
                store._lock.release()
            result.append(taken)

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        return result == [True]

    def woken() -> None:
        # The store's lock is free again when the callback runs; the event waits in the queue.
        seen.append((lock_is_free(), subscription.drain()))

    subscription.set_notify(woken)
    store.create(configmaps, "default", {"metadata": {"name": "a"}})

    assert len(seen) == 1
    free, events = seen[0]
    assert free
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [("ADDED", "a")]
