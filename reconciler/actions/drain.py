"""drainNode: cordon the node, then evict its pods through the Eviction subresource.

Like ``kubectl drain``: mirror (static) pods are skipped; DaemonSet pods are
skipped with ``ignoreDaemonSets`` and refused otherwise; pods with emptyDir
volumes are refused unless ``deleteLocalData``; finished pods are always
evicted. When a pod is refused nothing is evicted. An eviction answered 429
(a PodDisruptionBudget forbids it now) is retried with backoff until the
timeout; the pods still blocked then are listed in the failure. After the
evictions the runner waits, within the same timeout, until the pods are gone.
The rollback is uncordonNode when this step cordoned the node.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from api.durations import parse_duration
from api.parameters import DrainNodeParams, UncordonNodeParams
from api.results import UpdateExecutionResult
from reconciler.actions.base import (
    ActionContext,
    ActionReport,
    Change,
    affected,
    describe,
    grace_seconds,
    rollback_of,
)
from reconciler.actions.client import NODES, PODS
from reconciler.actions.nodes import schedulability_change, set_unschedulable
from reconciler.kube import ApiError

__all__ = [
    "DrainPlan",
    "EvictionOutcome",
    "PodRef",
    "evict_pods",
    "plan_drain",
    "run_drain",
    "wait_until_gone",
]

MIRROR_ANNOTATION: Final = "kubernetes.io/config.mirror"
_FINISHED_PHASES: Final = frozenset({"Succeeded", "Failed"})
_FIRST_BACKOFF: Final = 1.0
_MAX_BACKOFF: Final = 8.0
_POLL_INTERVAL: Final = 1.0


@dataclass(frozen=True, slots=True, order=True)
class PodRef:
    namespace: str
    name: str
    uid: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class DrainPlan:
    evict: list[PodRef]
    skipped: list[tuple[PodRef, str]]
    refused: list[tuple[PodRef, str]]
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class EvictionOutcome:
    evicted: list[PodRef]
    gone: list[PodRef]
    """Already deleted when their eviction was sent."""
    blocked: dict[PodRef, str]
    """Still refused (429) when time ran out, with the API's reason."""


# ------------------------------------------------------------------ planning


def plan_drain(
    pods: Iterable[Mapping[str, Any]], *, ignore_daemon_sets: bool, delete_local_data: bool
) -> DrainPlan:
    """Decide, pod by pod, whether it is evicted, skipped or refused, and why."""
    evict: list[PodRef] = []
    skipped: list[tuple[PodRef, str]] = []
    refused: list[tuple[PodRef, str]] = []
    warnings: list[str] = []
    for pod in sorted(pods, key=_key):
        meta = pod["metadata"]
        ref = PodRef(meta.get("namespace", ""), meta["name"], meta.get("uid", ""))
        owner = _controller(meta)
        empty_dirs = [
            str(volume.get("name"))
            for volume in pod.get("spec", {}).get("volumes") or []
            if "emptyDir" in volume
        ]
        if (meta.get("annotations") or {}).get(MIRROR_ANNOTATION) is not None:
            skipped.append((ref, "mirror pod: the kubelet manages it"))
        elif meta.get("deletionTimestamp"):
            skipped.append((ref, "already terminating"))
        elif pod.get("status", {}).get("phase") in _FINISHED_PHASES:
            evict.append(ref)
        elif owner is not None and owner.get("kind") == "DaemonSet":
            reason = f"managed by DaemonSet {owner.get('name')}"
            if ignore_daemon_sets:
                skipped.append((ref, reason))
            else:
                refused.append((ref, f"{reason} (set ignoreDaemonSets to skip it)"))
        elif empty_dirs and not delete_local_data:
            refused.append(
                (
                    ref,
                    f"uses emptyDir volume(s) {', '.join(empty_dirs)} whose data would be lost"
                    " (set deleteLocalData to evict it)",
                )
            )
        else:
            evict.append(ref)
            if empty_dirs:
                warnings.append(
                    f"pod {ref}: the data of emptyDir volume(s) {', '.join(empty_dirs)} is lost"
                )
            if owner is None:
                warnings.append(f"pod {ref} has no controller: it will not be recreated")
    return DrainPlan(evict, skipped, refused, warnings)


def _key(pod: Mapping[str, Any]) -> tuple[str, str]:
    meta = pod["metadata"]
    return str(meta.get("namespace", "")), str(meta["name"])


def _controller(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((ref for ref in meta.get("ownerReferences") or [] if ref.get("controller")), None)


# ------------------------------------------------------------- waiting loops


def evict_pods(
    pods: list[PodRef],
    evict: Callable[[PodRef], None],
    *,
    deadline: float,
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
    retry_blocked: bool = True,
) -> EvictionOutcome:
    """Evict every pod; 429s are retried with backoff until ``deadline``.

    ``evict`` raises :class:`ApiError`: 404 means the pod is already gone, 429
    that a disruption budget refuses it now; any other error propagates.
    """
    evicted: list[PodRef] = []
    gone: list[PodRef] = []
    pending = list(pods)
    blocked: dict[PodRef, str] = {}
    backoff = _FIRST_BACKOFF
    while pending:
        blocked = {}
        for pod in pending:
            try:
                evict(pod)
            except ApiError as err:
                if err.not_found:
                    gone.append(pod)
                elif err.status == 429:
                    blocked[pod] = err.message or err.reason
                else:
                    raise
            else:
                evicted.append(pod)
        pending = list(blocked)
        remaining = deadline - monotonic()
        if not pending or not retry_blocked or remaining <= 0:
            break
        sleep(min(backoff, remaining))
        backoff = min(backoff * 2, _MAX_BACKOFF)
    return EvictionOutcome(evicted, gone, blocked)


def wait_until_gone(
    pods: list[PodRef],
    present: Callable[[PodRef], bool],
    *,
    deadline: float,
    monotonic: Callable[[], float],
    sleep: Callable[[float], None],
) -> list[PodRef]:
    """Poll until no pod is ``present`` or the deadline passes; the pods still there."""
    waiting = list(pods)
    while True:
        waiting = [pod for pod in waiting if present(pod)]
        remaining = deadline - monotonic()
        if not waiting or remaining <= 0:
            return waiting
        sleep(min(_POLL_INTERVAL, remaining))


# ------------------------------------------------------------------ executing


def run_drain(context: ActionContext, params: DrainNodeParams) -> ActionReport:
    node = params.node_name
    deadline = context.deadline
    if params.timeout is not None:
        own = context.monotonic() + parse_duration(params.timeout) / timedelta(seconds=1)
        deadline = min(deadline, own)
    state = set_unschedulable(context, node, True)
    report = ActionReport(
        "",
        typed=UpdateExecutionResult(
            resource_type=NODES.kind,
            resource_name=node,
            update_type="node",
            previous_value="unschedulable" if state.before else "schedulable",
            new_value="unschedulable",
        ),
    )
    if state.changed:
        report.changes.append(schedulability_change(state))
        report.rollback = rollback_of("uncordonNode", UncordonNodeParams(node_name=node))
    try:
        _evict_from(context, params, deadline, report)
    except ApiError as err:
        report.success = False
        report.message = f"draining node {node} failed: {err}"
    return report


def _evict_from(
    context: ActionContext, params: DrainNodeParams, deadline: float, report: ActionReport
) -> None:
    client, node = context.client, params.node_name
    listed = client.list(PODS, None, field_selector=f"spec.nodeName={node}")
    plan = plan_drain(
        listed.get("items") or [],
        ignore_daemon_sets=params.ignore_daemon_sets,
        delete_local_data=params.delete_local_data,
    )
    report.warnings.extend(plan.warnings)
    report.warnings.extend(f"pod {pod} skipped: {reason}" for pod, reason in plan.skipped)
    if plan.refused:
        report.success = False
        report.message = f"cannot drain node {node}: " + "; ".join(
            f"pod {pod} {reason}" for pod, reason in plan.refused
        )
        return
    grace = grace_seconds(params.grace_period)

    def evict(pod: PodRef) -> None:
        client.evict(pod.namespace, pod.name, grace_period_seconds=grace, dry_run=context.dry_run)

    outcome = evict_pods(
        plan.evict,
        evict,
        deadline=deadline,
        monotonic=context.monotonic,
        sleep=context.sleep,
        retry_blocked=not context.dry_run,
    )
    for pod in outcome.evicted:
        report.changes.append(
            Change(describe(PODS, pod.namespace, pod.name), "exists", True, False)
        )
        report.affected.append(affected(PODS, pod.namespace, pod.name, "deleted"))
    if outcome.blocked:
        blocked = "; ".join(f"{pod} ({reason})" for pod, reason in sorted(outcome.blocked.items()))
        if context.dry_run:
            report.warnings.append(f"evictions refused now by a PodDisruptionBudget: {blocked}")
        else:
            report.success = False
            report.message = (
                f"node {node} is cordoned but {len(outcome.blocked)} pod(s) could not be evicted"
                f" before the timeout: {blocked}"
            )
            return
    if not context.dry_run:
        remaining = wait_until_gone(
            outcome.evicted,
            lambda pod: _present(context, pod),
            deadline=deadline,
            monotonic=context.monotonic,
            sleep=context.sleep,
        )
        if remaining:
            report.success = False
            report.message = (
                f"node {node} is cordoned and its pods evicted, but these were still"
                f" terminating at the timeout: {', '.join(map(str, remaining))}"
            )
            return
    report.affected.insert(0, affected(NODES, None, node, "drained"))
    report.message = f"drained node {node}: evicted {len(outcome.evicted)} pod(s)" + (
        f", skipped {len(plan.skipped)}" if plan.skipped else ""
    )


def _present(context: ActionContext, pod: PodRef) -> bool:
    try:
        current = context.client.get(PODS, pod.namespace, pod.name)
    except ApiError as err:
        if err.not_found:
            return False
        raise
    return not pod.uid or current["metadata"].get("uid") == pod.uid
