"""Pod actions: restart (delete so that the controller recreates them) and delete.

A pod is deleted with its uid as a precondition, so a pod recreated under the
same name in the meantime (a StatefulSet's) is never deleted by mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from api.parameters import DeletePodParams, RestartPodParams
from api.results import RestartExecutionResult
from reconciler.actions.base import (
    ActionContext,
    ActionError,
    ActionReport,
    Change,
    affected,
    describe,
    grace_seconds,
)
from reconciler.actions.client import PODS
from reconciler.kube import JSON, ApiError

__all__ = ["pod_targets", "run_delete_pod", "run_restart_pod"]


def pod_targets(pods: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(name, uid)`` of the pods to delete, sorted; pods already terminating are left alone."""
    return sorted(
        (pod["metadata"]["name"], pod["metadata"].get("uid", ""))
        for pod in pods
        if not pod["metadata"].get("deletionTimestamp")
    )


def run_restart_pod(context: ActionContext, params: RestartPodParams) -> ActionReport:
    namespace = params.namespace
    if params.pod_name is not None:
        pods: list[JSON] = [context.client.get(PODS, namespace, params.pod_name)]
        what = f"pod {namespace}/{params.pod_name}"
    else:
        listed = context.client.list(PODS, namespace, label_selector=params.selector)
        pods = listed.get("items") or []
        what = f"pods matching {params.selector!r} in namespace {namespace}"
        if not pods:
            raise ActionError(f"no {what}")
    targets = pod_targets(pods)
    if not targets:
        raise ActionError(f"every one of the {what} is already terminating")
    grace = grace_seconds(params.grace_period)
    deleted = _delete_all(context, namespace, targets, grace)
    names = [name for name, _ in deleted]
    return ActionReport(
        f"restarted {len(names)} pod(s) in namespace {namespace}: {', '.join(names)}",
        typed=RestartExecutionResult(
            namespace=namespace, pods_restarted=len(names), restarted_pods=names
        ),
        affected=[affected(PODS, namespace, name, "restarted") for name in names],
        changes=[_deletion(namespace, name) for name in names],
        warnings=[f"pod {namespace}/{name} was already gone" for name in _gone(targets, deleted)],
    )


def run_delete_pod(context: ActionContext, params: DeletePodParams) -> ActionReport:
    namespace, name = params.namespace, params.pod_name
    pod = context.client.get(PODS, namespace, name)
    targets = pod_targets([pod])
    if not targets:
        raise ActionError(f"pod {namespace}/{name} is already terminating")
    if not _delete_all(context, namespace, targets, grace_seconds(params.grace_period)):
        raise ActionError(f"pod {namespace}/{name} was deleted by someone else meanwhile")
    return ActionReport(
        f"deleted pod {namespace}/{name}",
        affected=[affected(PODS, namespace, name, "deleted")],
        changes=[_deletion(namespace, name)],
    )


def _delete_all(
    context: ActionContext, namespace: str, targets: list[tuple[str, str]], grace: int | None
) -> list[tuple[str, str]]:
    """Delete each target; those already gone (404) are left out of the answer."""
    deleted = []
    for name, uid in targets:
        try:
            context.client.delete(
                PODS,
                namespace,
                name,
                uid=uid or None,
                grace_period_seconds=grace,
                dry_run=context.dry_run,
            )
        except ApiError as err:
            # Gone, or replaced by a new pod of the same name (uid precondition).
            if err.not_found or err.conflict:
                continue
            raise
        deleted.append((name, uid))
    return deleted


def _gone(targets: list[tuple[str, str]], deleted: list[tuple[str, str]]) -> list[str]:
    return [name for name, uid in targets if (name, uid) not in deleted]


def _deletion(namespace: str, name: str) -> Change:
    return Change(describe(PODS, namespace, name), "exists", True, False)
