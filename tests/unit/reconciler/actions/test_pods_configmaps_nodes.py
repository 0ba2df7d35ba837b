"""Pod restarts and deletions, ConfigMap updates and their rollback, cordon and uncordon."""

from __future__ import annotations

from typing import Any

import pytest

from api.parameters import (
    CordonNodeParams,
    DeletePodParams,
    RestartPodParams,
    UncordonNodeParams,
    UpdateConfigMapParams,
)
from api.results import RestartExecutionResult
from reconciler.actions.base import ActionError, Change, Rollback
from reconciler.actions.client import CONFIGMAPS, NODES
from reconciler.actions.configmaps import plan_update, run_update_config_map
from reconciler.actions.nodes import run_cordon, run_uncordon
from reconciler.actions.pods import pod_targets, run_delete_pod, run_restart_pod
from reconciler.kube import ApiError


def _pod(name: str, terminating: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "shop",
        "uid": f"uid-{name}",
        "labels": {"app": "web"},
    }
    if terminating:
        meta["deletionTimestamp"] = "2026-11-29T07:00:00Z"
    return {"metadata": meta}


def test_pod_targets_skip_terminating_pods() -> None:
    pods = [_pod("b"), _pod("a"), _pod("c", terminating=True)]
    assert pod_targets(pods) == [("a", "uid-a"), ("b", "uid-b")]


def test_restart_pods_by_selector(fake: Any, context: Any) -> None:
    for name in ("web-2", "web-1"):
        fake.add("pods", _pod(name))
    params = RestartPodParams(namespace="shop", selector="app=web", grace_period="1500ms")
    report = run_restart_pod(context(), params)
    assert report.typed == RestartExecutionResult(
        namespace="shop", pods_restarted=2, restarted_pods=["web-1", "web-2"]
    )
    deletes = [call for call in fake.calls if call[0] == "delete"]
    assert [call[2] for call in deletes] == ["web-1", "web-2"]
    assert deletes[0][3] == {"uid": "uid-web-1", "grace_period_seconds": 2, "dry_run": False}
    assert report.changes == [
        Change("v1 Pod shop/web-1", "exists", True, False),
        Change("v1 Pod shop/web-2", "exists", True, False),
    ]
    assert report.rollback is None


def test_restart_with_no_matching_pod_fails(fake: Any, context: Any) -> None:
    with pytest.raises(ActionError, match="no pods matching 'app=web' in namespace shop"):
        run_restart_pod(context(), RestartPodParams(namespace="shop", selector="app=web"))


def test_restart_counts_a_pod_gone_meanwhile_as_a_warning(fake: Any, context: Any) -> None:
    fake.add("pods", _pod("web-1"))
    fake.add("pods", _pod("web-2"))
    original = fake.delete

    def delete(resource: Any, namespace: Any, name: str, **options: Any) -> Any:
        if name == "web-1":
            raise ApiError(404, "NotFound", "gone")
        return original(resource, namespace, name, **options)

    fake.delete = delete
    report = run_restart_pod(context(), RestartPodParams(namespace="shop", selector="app=web"))
    assert report.typed == RestartExecutionResult(
        namespace="shop", pods_restarted=1, restarted_pods=["web-2"]
    )
    assert report.warnings == ["pod shop/web-1 was already gone"]


def test_delete_pod(fake: Any, context: Any) -> None:
    fake.add("pods", _pod("web-1"))
    report = run_delete_pod(context(), DeletePodParams(namespace="shop", pod_name="web-1"))
    assert report.message == "deleted pod shop/web-1"
    assert ("pods", "shop", "web-1") not in fake.objects


def test_delete_missing_pod_is_an_api_not_found(fake: Any, context: Any) -> None:
    with pytest.raises(ApiError) as error:
        run_delete_pod(context(), DeletePodParams(namespace="shop", pod_name="nope"))
    assert error.value.not_found


def test_configmap_plan_rollback_values() -> None:
    plan = plan_update({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "new"})
    assert plan.changed == {"b": "3", "c": "new"}
    assert plan.previous == {"b": "2", "c": None}


def test_configmap_plan_removal_with_null() -> None:
    plan = plan_update({"a": "1"}, {"a": None, "z": None})
    assert plan.changed == {"a": None}
    assert plan.previous == {"a": "1"}


def test_configmap_update_and_rollback(fake: Any, context: Any) -> None:
    fake.add(
        "configmaps",
        {"metadata": {"name": "cfg", "namespace": "shop"}, "data": {"a": "1", "b": "2"}},
    )
    params = UpdateConfigMapParams(namespace="shop", name="cfg", data_updates={"b": "3", "c": "x"})
    report = run_update_config_map(context(), params)
    assert fake.get(CONFIGMAPS, "shop", "cfg")["data"] == {"a": "1", "b": "3", "c": "x"}
    assert report.rollback == Rollback(
        "updateConfigMap",
        {"namespace": "shop", "name": "cfg", "dataUpdates": {"b": "2", "c": None}},
    )
    assert report.changes == [
        Change("v1 ConfigMap shop/cfg", "data[b]", "2", "3"),
        Change("v1 ConfigMap shop/cfg", "data[c]", None, "x"),
    ]
    (patch,) = [call for call in fake.calls if call[0] == "patch"]
    assert patch[3]["metadata"]["resourceVersion"]


def test_configmap_without_change(fake: Any, context: Any) -> None:
    fake.add("configmaps", {"metadata": {"name": "cfg", "namespace": "shop"}, "data": {"a": "1"}})
    params = UpdateConfigMapParams(namespace="shop", name="cfg", data_updates={"a": "1"})
    report = run_update_config_map(context(), params)
    assert report.rollback is None
    assert fake.writes() == []


def test_cordon_then_uncordon(fake: Any, context: Any) -> None:
    fake.add("nodes", {"metadata": {"name": "worker-1"}, "spec": {}})
    cordoned = run_cordon(context(), CordonNodeParams(node_name="worker-1"))
    assert fake.get(NODES, None, "worker-1")["spec"]["unschedulable"] is True
    assert cordoned.rollback == Rollback("uncordonNode", {"nodeName": "worker-1"})
    assert cordoned.changes == [Change("v1 Node worker-1", "spec.unschedulable", False, True)]
    assert cordoned.affected[0].namespace is None
    again = run_cordon(context(), CordonNodeParams(node_name="worker-1"))
    assert again.message == "node worker-1 is already cordoned"
    assert again.rollback is None
    uncordoned = run_uncordon(context(), UncordonNodeParams(node_name="worker-1"))
    assert "unschedulable" not in fake.get(NODES, None, "worker-1")["spec"]
    assert uncordoned.rollback == Rollback("cordonNode", {"nodeName": "worker-1"})
