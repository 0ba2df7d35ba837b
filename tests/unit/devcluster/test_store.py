"""In-process store API: watch history window, subscriptions, snapshots."""

from __future__ import annotations

import pytest

from devcluster import persistence
from devcluster.errors import ApiError
from devcluster.store import Store


def _cm(store: Store):  # type: ignore[no-untyped-def]
    rtype = store.registry.lookup("", "v1", "configmaps")
    assert rtype is not None
    return rtype


def test_watch_resumes_from_a_resource_version_within_the_window() -> None:
    store = Store(watch_history=10)
    rtype = _cm(store)
    start = str(store.resource_version)
    store.create(rtype, "default", {"metadata": {"name": "a"}})
    store.patch(rtype, "default", "a", "application/merge-patch+json", {"data": {"k": "v"}})
    subscription = store.watch(rtype, "default", resource_version=start)
    assert [event.type for event in subscription.drain()] == ["ADDED", "MODIFIED"]


def test_watch_from_a_compacted_resource_version_is_410() -> None:
    store = Store(watch_history=2)
    rtype = _cm(store)
    start = str(store.resource_version)
    for index in range(4):
        store.create(rtype, "default", {"metadata": {"name": f"c{index}"}})
    with pytest.raises(ApiError) as caught:
        store.watch(rtype, "default", resource_version=start)
    assert caught.value.code == 410
    assert caught.value.reason == "Expired"


def test_noop_update_creates_no_new_version_and_no_event() -> None:
    store = Store()
    rtype = _cm(store)
    created = store.create(rtype, "default", {"metadata": {"name": "a"}, "data": {"k": "v"}}).object
    subscription = store.watch(
        rtype, "default", resource_version=created["metadata"]["resourceVersion"]
    )
    again = store.patch(
        rtype, "default", "a", "application/merge-patch+json", {"data": {"k": "v"}}
    ).object
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert subscription.drain() == []


def test_modify_retries_and_drop_watches_closes_subscriptions() -> None:
    store = Store()
    rtype = _cm(store)
    store.create(rtype, "default", {"metadata": {"name": "a"}})
    store.modify(rtype, "default", "a", lambda obj: {**obj, "data": {"x": "1"}})
    assert store.get(rtype, "default", "a")["data"] == {"x": "1"}
    subscription = store.watch(rtype, "default")
    assert store.drop_watches() == 1
    assert subscription.closed


def test_snapshot_round_trip_keeps_objects_crds_and_resource_version(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store()
    crd_type = store.registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert crd_type is not None
    store.create(
        crd_type,
        "",
        {
            "metadata": {"name": "things.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Cluster",
                "names": {"plural": "things", "kind": "Thing"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        },
    )
    thing_type = store.registry.lookup("example.com", "v1", "things")
    assert thing_type is not None
    store.create(thing_type, "", {"metadata": {"name": "t"}, "x": 1})
    path = tmp_path / "state.json"
    persistence.save(store, path)
    restored = Store()
    assert persistence.load(restored, path) == []
    restored_type = restored.registry.lookup("example.com", "v1", "things")
    assert restored_type is not None
    assert restored.get(restored_type, "", "t")["x"] == 1
    assert restored.resource_version == store.resource_version


def test_a_broken_state_file_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(persistence.StateError, match="not valid JSON"):
        persistence.load(Store(), path)
