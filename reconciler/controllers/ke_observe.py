"""What the KubernetesExecution controller reads before deciding: the I/O half.

* While Executing (and on deletion): the current attempt's Job from the Job
  cache, only when this execution controls it, and, once it has finished,
  its pods (from the pod cache, or listed live when the cache has not caught
  up with the Job yet: the termination message is read from them).
* While Validating / Verifying: the live target (``spec.targetResource``) and
  the pre- / postconditions evaluated over it by the policy engine.
* On deletion: whether the audit trail is complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from api.kubernetesexecution import ActionCondition, KubernetesExecutionSpec
from reconciler.cache import controller_owner
from reconciler.controller import ClusterView
from reconciler.controllers.ke_attempts import parse_spec
from reconciler.controllers.ke_conditions import (
    ConditionCheck,
    ConditionPolicy,
    evaluate_conditions,
    execution_input,
    failed_checks,
)
from reconciler.controllers.ke_finalize import FINALIZER, AuditCompleteness
from reconciler.controllers.ke_job import job_state
from reconciler.controllers.ke_resources import JOBS, PODS, target_resource
from reconciler.controllers.ke_result import pods_of_job, termination_message
from reconciler.kube import ApiError
from reconciler.transitions import current_phase

__all__ = ["ExecutionObservation", "observe_execution"]

JSON = dict[str, Any]


@dataclass(frozen=True)
class ExecutionObservation:
    """What ``observe`` found; every field has the value of "nothing found"."""

    job: JSON | None = None
    """The current attempt's Job (``status.jobName``), when this execution controls it."""
    foreign_job: bool = False
    """A Job of that name exists but belongs to something else."""
    pods: tuple[JSON, ...] = ()
    """The Job's pods, read once it has finished."""
    checks: tuple[ConditionCheck, ...] = ()
    """Pre- (Validating) or postconditions (Verifying) evaluated over the live target."""
    audit_complete: bool = True
    """Read only while the object is being deleted."""


def observe_execution(
    obj: JSON,
    view: ClusterView,
    *,
    policy: ConditionPolicy,
    audit: AuditCompleteness | None,
) -> ExecutionObservation:
    metadata = obj.get("metadata") or {}
    deleting = bool(metadata.get("deletionTimestamp"))
    phase = current_phase(obj)
    observation = ExecutionObservation()
    if deleting or phase == "Executing":
        observation = _observe_job(obj, view)
    if deleting:
        complete = True
        if audit is not None and FINALIZER in (metadata.get("finalizers") or []):
            complete = audit.is_complete(obj)
        return replace(observation, audit_complete=complete)
    if phase not in ("Validating", "Verifying"):
        return observation
    try:
        spec = parse_spec(obj)
    except ValueError:
        return observation  # decide fails the execution with the details
    if phase == "Validating":
        conditions = spec.pre_conditions or []
    elif not spec.dry_run:
        conditions = spec.post_conditions or []
    else:
        conditions = []
    if not conditions:
        return observation
    return replace(observation, checks=_evaluate(obj, spec, conditions, view, policy))


def _observe_job(obj: JSON, view: ClusterView) -> ExecutionObservation:
    name = (obj.get("status") or {}).get("jobName")
    if not name:
        return ExecutionObservation()
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    job = view.get(JOBS, namespace, str(name))
    if job is None:
        return ExecutionObservation()
    owner = controller_owner(job)
    if owner is None or owner.get("uid") != metadata.get("uid"):
        return ExecutionObservation(foreign_job=True)
    pods: list[JSON] = []
    if job_state(job).finished:
        pods = pods_of_job(job, view.list(PODS, namespace))
        if termination_message(pods) is None:
            pods = _live_pods(job, view) or pods
    return ExecutionObservation(job=job, pods=tuple(pods))


def _live_pods(job: JSON, view: ClusterView) -> list[JSON]:
    """The Job's pods from the API server: the pod cache may lag behind the Job's."""
    metadata = job.get("metadata") or {}
    try:
        listed = view.client.list(
            PODS, metadata.get("namespace"), label_selector=f"job-name={metadata['name']}"
        )
    except ApiError:
        return []  # best effort: the Job's conditions decide without the message
    return pods_of_job(job, listed.get("items") or [])


def _evaluate(
    obj: JSON,
    spec: KubernetesExecutionSpec,
    conditions: Sequence[ActionCondition],
    view: ClusterView,
    policy: ConditionPolicy,
) -> tuple[ConditionCheck, ...]:
    target = spec.target_resource
    resource = target_resource(target.api_version, target.kind)
    where = f"{target.namespace}/{target.name}" if target.namespace else target.name
    if resource is None:
        return failed_checks(
            conditions,
            f"cannot read the target {target.kind} {where}: kubernaut does not read "
            f"{target.kind} ({target.api_version}) objects",
        )
    try:
        live = view.get(resource, target.namespace if resource.namespaced else None, target.name)
    except ApiError as err:
        if err.retriable:
            raise  # transient: the manager retries with backoff
        return failed_checks(conditions, f"cannot read the target {target.kind} {where}: {err}")
    parameters = (obj.get("spec") or {}).get("parameters") or {}
    policy_input = execution_input(spec.action, parameters, target.kind, live)
    return evaluate_conditions(policy, conditions, policy_input)
