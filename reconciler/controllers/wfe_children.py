"""The KubernetesExecutions a WorkflowExecution creates: one per step, dry run and rollback.

Pure builders of complete objects (metadata, owner reference, spec) in wire
format. Every child is controlled by the workflow (``controller: true``,
``blockOwnerDeletion: true``) so it goes when the workflow goes, and carries
the ``kubernaut.ai/workflow`` label plus the workflow's remediation and
environment labels for audit correlation and policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from api.constants import API_VERSION, LABEL_ENVIRONMENT, LABEL_REMEDIATION, finalizer_for
from api.kubernetesexecution import ActionCondition
from api.parameters import Action, StepParameters
from api.workflow import WorkflowStep
from api.workflowexecution import WorkflowExecutionSpec
from reconciler.controllers.naming import MAX_NAME, child_name, label_value
from reconciler.controllers.wfe_plan import StepLimits
from reconciler.kube import Resource

__all__ = [
    "KUBERNETES_EXECUTIONS",
    "LABEL_WORKFLOW",
    "POSTCONDITIONS",
    "PRECONDITIONS",
    "ChildPurpose",
    "Undo",
    "dry_run_execution",
    "execution_name",
    "rollback_execution",
    "step_execution",
]

JSON = dict[str, Any]
ChildPurpose = Literal["step", "dryrun", "rollback"]

KUBERNETES_EXECUTIONS: Final = Resource(
    "kubernaut.ai", "v1alpha1", "kubernetesexecutions", "KubernetesExecution"
)
LABEL_WORKFLOW: Final = "kubernaut.ai/workflow"
"""On every KubernetesExecution of a workflow: the workflow's name (hashed when longer than 63)."""

# Rules of policies/execution (package kubernaut.execution) checked around each action.
PRECONDITIONS: Final[Mapping[Action, tuple[str, ...]]] = {
    "restartDeployment": ("deployment_has_ready_replica",),
    "cordonNode": ("node_exists",),
    "uncordonNode": ("node_exists",),
    "drainNode": ("node_exists",),
}
POSTCONDITIONS: Final[Mapping[Action, tuple[str, ...]]] = {
    "restartDeployment": ("deployment_available",),
    "rollbackDeployment": ("deployment_available",),
    "updateImage": ("deployment_available",),
    "scaleDeployment": ("replicas_match",),
}


def execution_name(workflow: str, purpose: ChildPurpose, step_number: int) -> str:
    """``<workflow>-<purpose>-<n>``: deterministic, so a restarted reconciler finds it again."""
    return child_name(workflow, f"{purpose}-{step_number}", MAX_NAME)


def _conditions(rules: tuple[str, ...]) -> list[JSON] | None:
    if not rules:
        return None
    return [_dump(ActionCondition(type=rule, rego=rule, required=True)) for rule in rules]


def _dump(model: Any) -> JSON:
    """Wire form of what was written (parsed) or set (built), without filled-in defaults."""
    dumped: JSON = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


def _metadata(workflow: JSON, purpose: ChildPurpose, step_number: int) -> JSON:
    meta = workflow["metadata"]
    labels = meta.get("labels") or {}
    child_labels = {LABEL_WORKFLOW: label_value(meta["name"])}
    for key in (LABEL_REMEDIATION, LABEL_ENVIRONMENT):
        if key in labels:
            child_labels[key] = labels[key]
    return {
        "name": execution_name(meta["name"], purpose, step_number),
        "namespace": meta["namespace"],
        "labels": child_labels,
        # The execution's own cleanup finalizer from the start: its controller does
        # not have to spend a write adding it.
        "finalizers": [finalizer_for("KubernetesExecution")],
        "ownerReferences": [
            {
                "apiVersion": API_VERSION,
                "kind": "WorkflowExecution",
                "name": meta["name"],
                "uid": meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def _body(
    workflow: JSON,
    spec: WorkflowExecutionSpec,
    purpose: ChildPurpose,
    step_number: int,
    execution_spec: JSON,
) -> JSON:
    meta = workflow["metadata"]
    reference = {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]}
    return {
        "apiVersion": API_VERSION,
        "kind": "KubernetesExecution",
        "metadata": _metadata(workflow, purpose, step_number),
        "spec": {
            "workflowExecutionRef": reference,
            "stepNumber": step_number,
            "targetResource": _dump(spec.target_resource),
            **execution_spec,
        },
    }


def _without_none(fields: JSON) -> JSON:
    return {key: value for key, value in fields.items() if value is not None}


def step_execution(
    workflow: JSON, spec: WorkflowExecutionSpec, step: WorkflowStep, limits: StepLimits
) -> JSON:
    """``<wfe>-step-<n>``: the step's action for real, with its conditions and rollback spec."""
    fields = {
        "action": step.action,
        "parameters": _dump(step.parameters),
        "timeout": limits.timeout_text,
        "maxRetries": limits.max_retries,
        "dryRun": False,
        "preConditions": _conditions(PRECONDITIONS.get(step.action, ())),
        "postConditions": _conditions(POSTCONDITIONS.get(step.action, ())),
        "rollbackSpec": _dump(step.rollback_spec) if step.rollback_spec else None,
    }
    return _body(workflow, spec, "step", step.step_number, _without_none(fields))


def dry_run_execution(
    workflow: JSON, spec: WorkflowExecutionSpec, step: WorkflowStep, limits: StepLimits
) -> JSON:
    """``<wfe>-dryrun-<n>``: a server-side dry run of the step.

    Preconditions are checked (they decide whether the step could run);
    postconditions are not, since a dry run changes nothing; no retries.
    """
    fields = {
        "action": step.action,
        "parameters": _dump(step.parameters),
        "timeout": limits.timeout_text,
        "maxRetries": 0,
        "dryRun": True,
        "preConditions": _conditions(PRECONDITIONS.get(step.action, ())),
    }
    return _body(workflow, spec, "dryrun", step.step_number, _without_none(fields))


@dataclass(frozen=True)
class Undo:
    """How to undo one completed step."""

    step_number: int
    action: Action
    parameters: StepParameters
    timeout: str
    max_retries: int
    source: str
    """Where the undo came from: ``rollbackSpec`` or ``rollbackInfo``."""


def rollback_execution(workflow: JSON, spec: WorkflowExecutionSpec, undo: Undo) -> JSON:
    """``<wfe>-rollback-<n>``: undo step ``n``.

    No preconditions (an undo must not be blocked by the state it repairs);
    the postconditions of the undo action verify it.
    """
    fields = {
        "action": undo.action,
        "parameters": _dump(undo.parameters),
        "timeout": undo.timeout,
        "maxRetries": undo.max_retries,
        "dryRun": False,
        "postConditions": _conditions(POSTCONDITIONS.get(undo.action, ())),
    }
    return _body(workflow, spec, "rollback", undo.step_number, _without_none(fields))
