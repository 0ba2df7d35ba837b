"""Deployment actions: scale, rolling restart, rollback to a revision, image update.

Planning (which ReplicaSet to roll back to, which container's image to
replace, what the rollback step is) is pure; ``run_*`` do the API calls.
Every write carries the read object's resourceVersion as a precondition and is
retried on 409 Conflict after a fresh read, so the reported "before" is exact.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from api.parameters import (
    RestartDeploymentParams,
    RollbackDeploymentParams,
    ScaleDeploymentParams,
    UpdateImageParams,
)
from api.results import (
    RestartExecutionResult,
    ScaleExecutionResult,
    UpdateExecutionResult,
)
from api.timestamps import format_timestamp
from reconciler.actions.base import (
    ActionContext,
    ActionError,
    ActionReport,
    Change,
    affected,
    describe,
    retry_on_conflict,
    rollback_of,
)
from reconciler.actions.client import DEPLOYMENTS, PODS, REPLICASETS
from reconciler.actions.selectors import selector_string
from reconciler.kube import JSON

__all__ = [
    "RESTARTED_AT_ANNOTATION",
    "REVISION_ANNOTATION",
    "RollbackPlan",
    "image_patch",
    "plan_rollback",
    "run_restart",
    "run_rollback",
    "run_scale",
    "run_update_image",
]

REVISION_ANNOTATION: Final = "deployment.kubernetes.io/revision"
RESTARTED_AT_ANNOTATION: Final = "kubectl.kubernetes.io/restartedAt"
_POD_TEMPLATE_HASH: Final = "pod-template-hash"


# ------------------------------------------------------------------ planning


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    current_revision: int
    target_revision: int
    template: JSON
    """The target ReplicaSet's pod template without its ``pod-template-hash`` label."""


def plan_rollback(
    deployment: Mapping[str, Any], replicasets: Iterable[Mapping[str, Any]], revision: int | None
) -> RollbackPlan:
    """Choose the ReplicaSet to roll back to among those the deployment controls.

    ``revision`` None or 0 means the newest revision older than the current one.
    """
    uid = deployment["metadata"].get("uid")
    owned = {
        rev: rs
        for rs in replicasets
        if _controlled_by(rs, uid) and (rev := _revision(rs)) is not None
    }
    current = _revision(deployment)
    if current is None:
        if not owned:
            raise ActionError(_name(deployment) + " has no rollout history (no ReplicaSets)")
        current = max(owned)
    if revision:
        if revision == current:
            raise ActionError(f"{_name(deployment)} is already at revision {revision}")
        if revision not in owned:
            known = ", ".join(str(rev) for rev in sorted(owned)) or "none"
            raise ActionError(
                f"{_name(deployment)} has no revision {revision} (known revisions: {known})"
            )
        target = revision
    else:
        older = [rev for rev in owned if rev < current]
        if not older:
            raise ActionError(
                f"{_name(deployment)} has no revision before {current} to roll back to"
            )
        target = max(older)
    return RollbackPlan(current, target, _template_without_hash(owned[target]))


def image_patch(
    deployment: Mapping[str, Any], container: str, new_image: str
) -> tuple[list[JSON], str | None]:
    """A JSON patch setting ``container``'s image, and that container's current image.

    The patch tests the container's name at its index and the object's
    resourceVersion, so it never lands on another container or a newer object.
    An unknown container raises :class:`ActionError` naming the ones there are.
    """
    pod_spec = deployment.get("spec", {}).get("template", {}).get("spec", {})
    for list_name in ("containers", "initContainers"):
        for index, entry in enumerate(pod_spec.get(list_name) or []):
            if entry.get("name") == container:
                path = f"/spec/template/spec/{list_name}/{index}"
                ops: list[JSON] = [
                    _resource_version_test(deployment),
                    {"op": "test", "path": f"{path}/name", "value": container},
                    {"op": "add", "path": f"{path}/image", "value": new_image},
                ]
                return ops, entry.get("image")
    names = [
        str(entry.get("name"))
        for list_name in ("containers", "initContainers")
        for entry in pod_spec.get(list_name) or []
    ]
    raise ActionError(
        f"{_name(deployment)} has no container {container!r}"
        f" (containers: {', '.join(names) or 'none'})"
    )


def _controlled_by(obj: Mapping[str, Any], uid: str | None) -> bool:
    return any(
        ref.get("controller") and ref.get("uid") == uid and ref.get("kind") == "Deployment"
        for ref in obj.get("metadata", {}).get("ownerReferences") or []
    )


def _revision(obj: Mapping[str, Any]) -> int | None:
    raw = (obj.get("metadata", {}).get("annotations") or {}).get(REVISION_ANNOTATION)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _template_without_hash(replicaset: Mapping[str, Any]) -> JSON:
    template: JSON = copy.deepcopy(replicaset.get("spec", {}).get("template") or {})
    labels = template.get("metadata", {}).get("labels")
    if labels:
        labels.pop(_POD_TEMPLATE_HASH, None)
    return template


def _resource_version_test(obj: Mapping[str, Any]) -> JSON:
    return {
        "op": "test",
        "path": "/metadata/resourceVersion",
        "value": obj["metadata"]["resourceVersion"],
    }


def _name(deployment: Mapping[str, Any]) -> str:
    meta = deployment["metadata"]
    return f"deployment {meta.get('namespace')}/{meta['name']}"


# ------------------------------------------------------------------ executing


def run_scale(context: ActionContext, params: ScaleDeploymentParams) -> ActionReport:
    if params.replicas == 0 and not params.allow_scale_to_zero:
        raise ActionError("scaling to 0 replicas needs allowScaleToZero: true")
    client, namespace, name = context.client, params.namespace, params.deployment

    def attempt() -> int:
        deployment = client.get(DEPLOYMENTS, namespace, name)
        previous = int(deployment.get("spec", {}).get("replicas", 1))
        if previous != params.replicas:
            patch = {
                "metadata": {"resourceVersion": deployment["metadata"]["resourceVersion"]},
                "spec": {"replicas": params.replicas},
            }
            client.patch(
                DEPLOYMENTS, namespace, name, patch, subresource="scale", dry_run=context.dry_run
            )
        return previous

    previous = retry_on_conflict(attempt)
    typed = ScaleExecutionResult(
        previous_replicas=previous,
        new_replicas=params.replicas,
        namespace=namespace,
        deployment=name,
    )
    if previous == params.replicas:
        return ActionReport(
            f"deployment {namespace}/{name} already has {previous} replicas", typed=typed
        )
    undo = ScaleDeploymentParams(
        namespace=namespace, deployment=name, replicas=previous, allow_scale_to_zero=previous == 0
    )
    return ActionReport(
        f"scaled deployment {namespace}/{name} from {previous} to {params.replicas} replicas",
        typed=typed,
        affected=[affected(DEPLOYMENTS, namespace, name, "scaled")],
        changes=[
            Change(
                describe(DEPLOYMENTS, namespace, name), "spec.replicas", previous, params.replicas
            )
        ],
        rollback=rollback_of("scaleDeployment", undo),
    )


def run_restart(context: ActionContext, params: RestartDeploymentParams) -> ActionReport:
    client, namespace, name = context.client, params.namespace, params.deployment
    restarted_at = format_timestamp(context.now())

    def attempt() -> tuple[JSON, str | None]:
        deployment = client.get(DEPLOYMENTS, namespace, name)
        if deployment.get("spec", {}).get("paused"):
            raise ActionError(
                f"deployment {namespace}/{name} is paused: resume its rollout before restarting"
            )
        template_meta = deployment.get("spec", {}).get("template", {}).get("metadata") or {}
        before = (template_meta.get("annotations") or {}).get(RESTARTED_AT_ANNOTATION)
        patch = {
            "metadata": {"resourceVersion": deployment["metadata"]["resourceVersion"]},
            "spec": {
                "template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: restarted_at}}}
            },
        }
        client.patch(DEPLOYMENTS, namespace, name, patch, dry_run=context.dry_run)
        return deployment, before

    deployment, before = retry_on_conflict(attempt)
    selector = selector_string(deployment.get("spec", {}).get("selector"))
    pods = client.list(PODS, namespace, label_selector=selector).get("items") or []
    pod_names = sorted(pod["metadata"]["name"] for pod in pods)
    warnings = []
    if params.grace_period is not None:
        warnings.append(
            "gracePeriod is not used by a rolling restart: the pods' own "
            "terminationGracePeriodSeconds applies"
        )
    return ActionReport(
        f"restarted deployment {namespace}/{name} ({len(pod_names)} pods to replace)",
        typed=RestartExecutionResult(
            namespace=namespace, pods_restarted=len(pod_names), restarted_pods=pod_names
        ),
        affected=[affected(DEPLOYMENTS, namespace, name, "restarted")],
        changes=[
            Change(
                describe(DEPLOYMENTS, namespace, name),
                f"spec.template.metadata.annotations[{RESTARTED_AT_ANNOTATION}]",
                before,
                restarted_at,
            )
        ],
        warnings=warnings,
    )


def run_rollback(context: ActionContext, params: RollbackDeploymentParams) -> ActionReport:
    client, namespace, name = context.client, params.namespace, params.deployment

    def attempt() -> tuple[RollbackPlan, bool]:
        deployment = client.get(DEPLOYMENTS, namespace, name)
        selector = selector_string(deployment.get("spec", {}).get("selector"))
        replicasets = client.list(REPLICASETS, namespace, label_selector=selector)
        plan = plan_rollback(deployment, replicasets.get("items") or [], params.revision)
        if plan.template == deployment.get("spec", {}).get("template"):
            return plan, False
        ops = [
            _resource_version_test(deployment),
            {"op": "replace", "path": "/spec/template", "value": plan.template},
        ]
        client.patch(DEPLOYMENTS, namespace, name, ops, patch_type="json", dry_run=context.dry_run)
        return plan, True

    plan, changed = retry_on_conflict(attempt)
    typed = UpdateExecutionResult(
        resource_type=DEPLOYMENTS.kind,
        resource_name=name,
        namespace=namespace,
        update_type="rollback",
        previous_value=f"revision {plan.current_revision}",
        new_value=f"revision {plan.target_revision}",
    )
    if not changed:
        return ActionReport(
            f"deployment {namespace}/{name} already runs the template of revision "
            f"{plan.target_revision}",
            typed=typed,
        )
    undo = RollbackDeploymentParams(
        namespace=namespace, deployment=name, revision=plan.current_revision
    )
    return ActionReport(
        f"rolled back deployment {namespace}/{name} from revision {plan.current_revision} "
        f"to revision {plan.target_revision}",
        typed=typed,
        affected=[affected(DEPLOYMENTS, namespace, name, "rolledBack")],
        changes=[
            Change(
                describe(DEPLOYMENTS, namespace, name),
                "spec.template",
                f"revision {plan.current_revision}",
                f"revision {plan.target_revision}",
            )
        ],
        rollback=rollback_of("rollbackDeployment", undo),
    )


def run_update_image(context: ActionContext, params: UpdateImageParams) -> ActionReport:
    client, namespace, name = context.client, params.namespace, params.deployment

    def attempt() -> str | None:
        deployment = client.get(DEPLOYMENTS, namespace, name)
        ops, previous = image_patch(deployment, params.container, params.new_image)
        if previous != params.new_image:
            client.patch(
                DEPLOYMENTS, namespace, name, ops, patch_type="json", dry_run=context.dry_run
            )
        return previous

    previous = retry_on_conflict(attempt)
    typed = UpdateExecutionResult(
        resource_type=DEPLOYMENTS.kind,
        resource_name=name,
        namespace=namespace,
        update_type="image",
        previous_value=previous,
        new_value=params.new_image,
    )
    where = f"container {params.container!r} of deployment {namespace}/{name}"
    if previous == params.new_image:
        return ActionReport(f"{where} already runs {params.new_image}", typed=typed)
    rollback = None
    if previous:
        undo = UpdateImageParams(
            namespace=namespace, deployment=name, container=params.container, new_image=previous
        )
        rollback = rollback_of("updateImage", undo)
    return ActionReport(
        f"updated the image of {where} from {previous or '(none)'} to {params.new_image}",
        typed=typed,
        affected=[affected(DEPLOYMENTS, namespace, name, "updated")],
        changes=[
            Change(
                describe(DEPLOYMENTS, namespace, name),
                f"spec.template.spec.containers[{params.container}].image",
                previous,
                params.new_image,
            )
        ],
        rollback=rollback,
    )
