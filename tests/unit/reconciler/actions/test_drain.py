"""drainNode: which pods are evicted, skipped or refused and why; retries on 429."""

from __future__ import annotations

from typing import Any

import pytest

from api.parameters import DrainNodeParams
from reconciler.actions.base import Rollback
from reconciler.actions.client import NODES
from reconciler.actions.drain import PodRef, evict_pods, plan_drain, run_drain, wait_until_gone
from reconciler.kube import ApiError


def _pod(
    name: str,
    *,
    owner: str | None = "ReplicaSet",
    empty_dir: bool = False,
    mirror: bool = False,
    phase: str = "Running",
    terminating: bool = False,
    node: str = "worker-1",
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "uid": f"uid-{name}"}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": f"{name}-owner", "controller": True}]
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    if terminating:
        meta["deletionTimestamp"] = "2026-11-29T07:00:00Z"
    volumes = [{"name": "scratch", "emptyDir": {}}] if empty_dir else []
    return {
        "metadata": meta,
        "spec": {"nodeName": node, "volumes": volumes},
        "status": {"phase": phase},
    }


def _ref(name: str) -> PodRef:
    return PodRef("shop", name, f"uid-{name}")


def test_plan_sorts_pods_into_evict_skip_refuse() -> None:
    pods = [
        _pod("web"),
        _pod("agent", owner="DaemonSet"),
        _pod("static", mirror=True, owner="Node"),
        _pod("cache", empty_dir=True),
        _pod("done", empty_dir=True, phase="Succeeded", owner="DaemonSet"),
        _pod("bare", owner=None),
        _pod("leaving", terminating=True),
    ]
    plan = plan_drain(pods, ignore_daemon_sets=True, delete_local_data=False)
    assert plan.evict == [_ref("bare"), _ref("done"), _ref("web")]
    assert plan.skipped == [
        (_ref("agent"), "managed by DaemonSet agent-owner"),
        (_ref("leaving"), "already terminating"),
        (_ref("static"), "mirror pod: the kubelet manages it"),
    ]
    assert plan.refused == [
        (
            _ref("cache"),
            "uses emptyDir volume(s) scratch whose data would be lost (set deleteLocalData to"
            " evict it)",
        )
    ]
    assert plan.warnings == ["pod shop/bare has no controller: it will not be recreated"]


def test_daemonset_pods_are_refused_without_ignore_daemon_sets() -> None:
    plan = plan_drain(
        [_pod("agent", owner="DaemonSet")], ignore_daemon_sets=False, delete_local_data=False
    )
    assert plan.evict == []
    assert plan.refused == [
        (_ref("agent"), "managed by DaemonSet agent-owner (set ignoreDaemonSets to skip it)")
    ]


def test_local_data_is_evicted_with_delete_local_data() -> None:
    plan = plan_drain(
        [_pod("cache", empty_dir=True)], ignore_daemon_sets=True, delete_local_data=True
    )
    assert plan.evict == [_ref("cache")]
    assert plan.refused == []
    assert plan.warnings == ["pod shop/cache: the data of emptyDir volume(s) scratch is lost"]


class _Evictions:
    def __init__(self, answers: dict[str, list[ApiError | None]]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    def __call__(self, pod: PodRef) -> None:
        self.sent.append(pod.name)
        queue = self.answers.get(pod.name, [])
        answer = queue.pop(0) if queue else None
        if answer is not None:
            raise answer


def _pdb() -> ApiError:
    return ApiError(
        429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget."
    )


def test_429_is_retried_with_backoff_until_evicted(clock: Any) -> None:
    evict = _Evictions({"web": [_pdb(), _pdb()], "gone": [ApiError(404, "NotFound", "x")]})
    outcome = evict_pods(
        [_ref("gone"), _ref("web"), _ref("api")],
        evict,
        deadline=60,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )
    assert outcome.evicted == [_ref("api"), _ref("web")]
    assert outcome.gone == [_ref("gone")]
    assert outcome.blocked == {}
    assert evict.sent == ["gone", "web", "api", "web", "web"]
    assert clock.sleeps == [1.0, 2.0]


def test_blocked_pods_are_listed_at_the_deadline(clock: Any) -> None:
    evict = _Evictions({"web": [_pdb()] * 100})
    outcome = evict_pods(
        [_ref("web")], evict, deadline=20, monotonic=clock.monotonic, sleep=clock.sleep
    )
    assert outcome.evicted == []
    assert list(outcome.blocked) == [_ref("web")]
    assert "disruption budget" in outcome.blocked[_ref("web")]
    assert clock.now == 20
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 5.0]


def test_without_retry_a_429_is_reported_at_once(clock: Any) -> None:
    evict = _Evictions({"web": [_pdb()]})
    outcome = evict_pods(
        [_ref("web")],
        evict,
        deadline=60,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        retry_blocked=False,
    )
    assert list(outcome.blocked) == [_ref("web")]
    assert clock.sleeps == []


def test_other_errors_propagate(clock: Any) -> None:
    evict = _Evictions({"web": [ApiError(403, "Forbidden", "no")]})
    with pytest.raises(ApiError, match="Forbidden"):
        evict_pods([_ref("web")], evict, deadline=60, monotonic=clock.monotonic, sleep=clock.sleep)


def test_wait_until_gone_polls_until_deadline(clock: Any) -> None:
    present = {"a": 2, "b": 100}

    def still_there(pod: PodRef) -> bool:
        present[pod.name] -= 1
        return present[pod.name] >= 0

    left = wait_until_gone(
        [_ref("a"), _ref("b")],
        still_there,
        deadline=5,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )
    assert left == [_ref("b")]
    assert clock.now == 5


def _node(unschedulable: bool = False) -> dict[str, Any]:
    return {"metadata": {"name": "worker-1"}, "spec": {"unschedulable": unschedulable}}


def test_drain_cordons_evicts_and_offers_uncordon(fake: Any, context: Any) -> None:
    fake.add("nodes", _node())
    fake.add("pods", _pod("web"))
    fake.add("pods", _pod("agent", owner="DaemonSet"))
    report = run_drain(context(), DrainNodeParams(node_name="worker-1", grace_period="10s"))
    assert report.success is True, report.message
    assert report.message == "drained node worker-1: evicted 1 pod(s), skipped 1"
    assert fake.get(NODES, None, "worker-1")["spec"]["unschedulable"] is True
    assert ("evict", "shop", "web", {"grace_period_seconds": 10, "dry_run": False}) in fake.calls
    assert [change.field for change in report.changes] == ["spec.unschedulable", "exists"]
    assert report.rollback == Rollback("uncordonNode", {"nodeName": "worker-1"})
    assert report.warnings == ["pod shop/agent skipped: managed by DaemonSet agent-owner"]
    assert ("list", "pods", None, {"field_selector": "spec.nodeName=worker-1"}) in fake.calls


def test_drain_refusal_keeps_the_cordon_and_its_rollback(fake: Any, context: Any) -> None:
    fake.add("nodes", _node())
    fake.add("pods", _pod("cache", empty_dir=True))
    report = run_drain(context(), DrainNodeParams(node_name="worker-1"))
    assert report.success is False
    assert report.message.startswith("cannot drain node worker-1: pod shop/cache uses emptyDir")
    assert report.rollback == Rollback("uncordonNode", {"nodeName": "worker-1"})
    assert not [call for call in fake.calls if call[0] == "evict"]


def test_drain_blocked_by_a_budget_fails_listing_the_pods(
    fake: Any, context: Any, clock: Any
) -> None:
    fake.add("nodes", _node(unschedulable=True))
    fake.add("pods", _pod("web"))
    fake.evict_errors["web"] = [_pdb()] * 1000
    report = run_drain(context(timeout=3600), DrainNodeParams(node_name="worker-1", timeout="30s"))
    assert report.success is False
    assert (
        "1 pod(s) could not be evicted before the timeout: shop/web (Cannot evict pod"
        in report.message
    )
    assert clock.now == 30
    assert report.rollback is None  # the node was cordoned already


def test_drain_dry_run_reports_a_budget_refusal_as_a_warning(fake: Any, context: Any) -> None:
    fake.add("nodes", _node())
    fake.add("pods", _pod("web"))
    fake.evict_errors["web"] = [_pdb()]
    report = run_drain(context(dry_run=True), DrainNodeParams(node_name="worker-1"))
    assert report.success is True
    assert report.warnings == [
        "evictions refused now by a PodDisruptionBudget: shop/web (Cannot evict pod as it would"
        " violate the pod's disruption budget.)"
    ]
    assert fake.get(NODES, None, "worker-1")["spec"]["unschedulable"] is False
