"""Garbage-collector decisions and generic-registry semantics (pure)."""

from __future__ import annotations

from devcluster.gc import (
    FOREGROUND,
    GcAction,
    OwnerState,
    blocks_owner,
    decide_dependent,
    owner_state,
    without_owner_refs,
)
from devcluster.resources import BUILTIN_TYPES, ResourceType
from devcluster.semantics import (
    new_finalizer_causes,
    prepare_create,
    prepare_update,
    same_content,
    validate_name,
)


def _type(plural: str) -> ResourceType:
    return next(r for r in BUILTIN_TYPES if r.plural == plural)


def test_dependent_of_a_vanished_only_owner_is_deleted_in_the_background() -> None:
    assert decide_dependent([{"uid": "a"}], {"a": OwnerState.ABSENT}) == GcAction(
        "delete", propagation="Background"
    )


def test_dependent_of_a_waiting_owner_is_deleted_in_the_foreground() -> None:
    assert decide_dependent([{"uid": "a"}], {"a": OwnerState.WAITING}).propagation == "Foreground"


def test_dependent_with_a_solid_owner_only_loses_dangling_references() -> None:
    decision = decide_dependent(
        [{"uid": "a"}, {"uid": "b"}], {"a": OwnerState.ABSENT, "b": OwnerState.SOLID}
    )
    assert decision == GcAction("strip", frozenset({"a"}))
    stripped = without_owner_refs(
        {"metadata": {"ownerReferences": [{"uid": "a"}, {"uid": "b"}]}}, decision.uids
    )
    assert stripped["metadata"]["ownerReferences"] == [{"uid": "b"}]


def test_owner_state_and_block_owner_deletion() -> None:
    deleting = {"metadata": {"deletionTimestamp": "t", "finalizers": [FOREGROUND]}}
    assert owner_state(deleting) is OwnerState.WAITING
    assert owner_state({"metadata": {}}) is OwnerState.SOLID
    assert owner_state(None) is OwnerState.ABSENT
    assert blocks_owner(
        {"metadata": {"ownerReferences": [{"uid": "o", "blockOwnerDeletion": True}]}}, "o"
    )
    assert not blocks_owner({"metadata": {"ownerReferences": [{"uid": "o"}]}}, "o")


def test_prepare_create_sets_server_owned_metadata() -> None:
    created = prepare_create(
        _type("deployments"),
        {"metadata": {"name": "d", "resourceVersion": "9"}, "spec": {}, "status": {"x": 1}},
        "ns",
        "uid-1",
        "now",
    )
    assert created["metadata"] == {
        "name": "d",
        "namespace": "ns",
        "uid": "uid-1",
        "creationTimestamp": "now",
        "generation": 1,
    }
    assert created["status"] == {}
    assert created["spec"]["replicas"] == 1


def test_prepare_update_keeps_status_and_bumps_generation_on_spec_change() -> None:
    rtype = _type("deployments")
    current = {
        "metadata": {"name": "d", "namespace": "n", "uid": "u", "generation": 1},
        "spec": {"replicas": 1},
        "status": {"ready": 1},
    }
    updated = prepare_update(
        rtype,
        current,
        {"metadata": {"name": "d", "uid": "forged"}, "spec": {"replicas": 2}, "status": {}},
        "",
    )
    assert updated["metadata"]["uid"] == "u"
    assert updated["metadata"]["generation"] == 2
    assert updated["status"] == {"ready": 1}
    status_only = prepare_update(
        rtype, current, {"spec": {"replicas": 9}, "status": {"ready": 2}}, "status"
    )
    assert status_only["spec"] == {"replicas": 1}
    assert status_only["status"] == {"ready": 2}


def test_no_new_finalizers_once_deleting() -> None:
    current = {"metadata": {"deletionTimestamp": "t", "finalizers": ["a"]}}
    assert new_finalizer_causes(current, {"metadata": {"finalizers": ["a"]}}) == []
    assert (
        new_finalizer_causes(current, {"metadata": {"finalizers": ["a", "b"]}})[0].field
        == "metadata.finalizers"
    )


def test_names_and_noop_detection() -> None:
    assert validate_name(_type("configmaps"), "ok.name") == []
    assert validate_name(_type("configmaps"), "Bad")[0].reason == "FieldValueInvalid"
    assert validate_name(_type("namespaces"), "no.dots")[0].field == "metadata.name"
    assert same_content(
        {"metadata": {"resourceVersion": "1"}, "a": 1},
        {"metadata": {"resourceVersion": "2"}, "a": 1},
    )
