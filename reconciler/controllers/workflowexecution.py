"""The WorkflowExecution controller: plan, validate, execute, monitor and roll back a workflow.

Phases (the table in :mod:`api.phases`)::

    Pending -> Planning -> Validating -> [AwaitingApproval] -> Executing -> Monitoring -> Completed
                                                                   |            |
                                                                   +-> RollingBack -> RolledBack
    any non-terminal phase -> Failed

* Planning records the topological levels of the step DAG (``executionPlan``),
  ``totalSteps`` and a pending ``stepStatuses`` entry per step.
* Validating runs a dry run of every step first when ``dryRunFirst`` (the
  KubernetesExecutions ``<wfe>-dryrun-<n>``, all of which must complete), then
  waits in AwaitingApproval for ``kubernaut.ai/approval: approved`` when
  ``approvalRequired``; ``rejected`` fails the workflow. The validating
  timeout covers the dry run and the wait.
* Executing creates ``<wfe>-step-<n>`` per ready step (see
  :mod:`reconciler.controllers.wfe_steps` for the rules). A critical step that
  fails leads to RollingBack when ``rollbackStrategy`` is automatic and some
  step completed, else to Failed.
* Monitoring waits until the target Deployments are rolled out and
  available (:mod:`reconciler.controllers.wfe_monitor`), within the
  monitoring timeout.
* RollingBack undoes completed steps newest first, one at a time
  (:mod:`reconciler.controllers.wfe_rollback`).

Everything is derived from the object's status and its children, so a
restarted reconciler continues where the previous one stopped. The finalizer
holds deletion until the audit trail is complete, for a bounded grace period.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from api.constants import (
    ANNOTATION_APPROVAL,
    ANNOTATION_APPROVED_AT,
    ANNOTATION_APPROVED_BY,
    APPROVAL_APPROVED,
    APPROVAL_REJECTED,
    GROUP,
    VERSION,
    finalizer_for,
)
from api.durations import format_duration
from api.timestamps import format_timestamp, timestamp_or_none
from api.workflowexecution import (
    DryRunResults,
    DryRunStepResult,
    StepStatus,
    WorkflowExecutionSpec,
)
from reconciler.cache import controller_owner
from reconciler.controller import ClusterView
from reconciler.controllers.finalizer import (
    AUDIT_GRACE,
    AuditCompleteness,
    audit_complete,
    ensure_finalizer,
    finalize,
)
from reconciler.controllers.wfe_children import (
    KUBERNETES_EXECUTIONS,
    dry_run_execution,
    execution_name,
    rollback_execution,
    step_execution,
)
from reconciler.controllers.wfe_executions import execution_message, execution_outcome
from reconciler.controllers.wfe_monitor import (
    DEPLOYMENTS,
    ObjectKey,
    deployment_health,
    monitored_deployments,
)
from reconciler.controllers.wfe_outcome import execution_metrics, failure_result, success_result
from reconciler.controllers.wfe_plan import (
    PhaseTimeouts,
    execution_order,
    make_plan,
    phase_timeouts,
    step_limits,
)
from reconciler.controllers.wfe_rollback import NOT_REVERSIBLE, advance_rollback
from reconciler.controllers.wfe_steps import (
    FINISHED,
    WorkflowContext,
    advance_steps,
    dump_records,
    initial_records,
    load_records,
    step_counts,
)
from reconciler.effects import (
    CreateChild,
    Effect,
    PatchStatus,
    RequeueAfter,
)
from reconciler.kube import Resource
from reconciler.transitions import current_phase, move_to, phase_started, terminal

REMEDIATION_REQUESTS: Final = Resource(
    "kubernaut.ai", "v1alpha1", "remediationrequests", "RemediationRequest"
)

__all__ = [
    "FINALIZER",
    "WORKFLOW_EXECUTIONS",
    "AuditCompleteness",
    "WorkflowExecutionController",
    "WorkflowExecutionSettings",
    "WorkflowObserved",
]

JSON = dict[str, Any]

WORKFLOW_EXECUTIONS: Final = Resource(GROUP, VERSION, "workflowexecutions", "WorkflowExecution")
FINALIZER: Final = finalizer_for("WorkflowExecution")


@dataclass(frozen=True)
class WorkflowExecutionSettings:
    """Defaults for what a WorkflowExecution does not say itself, and polling intervals."""

    planning_timeout: timedelta = timedelta(seconds=30)
    validating_timeout: timedelta = timedelta(minutes=5)
    step_timeout: timedelta = timedelta(minutes=5)
    monitoring_timeout: timedelta = timedelta(minutes=10)
    default_max_retries: int = 3
    """Retries of a step when neither the step nor the strategy sets any."""
    monitoring_interval: timedelta = timedelta(seconds=5)
    """How often targets are re-read while monitoring (their changes do not enqueue)."""
    audit_grace: timedelta = AUDIT_GRACE
    """How long deletion waits for the audit trail, from metadata.deletionTimestamp."""

    @property
    def timeouts(self) -> PhaseTimeouts:
        return PhaseTimeouts(
            planning=self.planning_timeout,
            validating=self.validating_timeout,
            step=self.step_timeout,
            monitoring=self.monitoring_timeout,
        )


@dataclass(frozen=True)
class WorkflowObserved:
    """What ``decide`` needs beyond the object itself."""

    executions: Mapping[str, JSON] = field(default_factory=dict)
    """The workflow's KubernetesExecutions by name."""
    deployments: Mapping[ObjectKey, JSON | None] = field(default_factory=dict)
    """Monitored Deployments (read while Monitoring only); None: not found."""
    audit_complete: bool = True
    """Read while the object is being deleted."""
    owner_annotations: Mapping[str, str] = field(default_factory=dict)
    """Annotations of the controlling RemediationRequest: an approval given there
    (stamped by the webhook like any approval) covers this workflow."""


class _InvalidWorkflowError(ValueError):
    """The stored spec cannot be executed (the webhook should have refused it)."""


class WorkflowExecutionController:
    name: str = "workflowexecution"
    resource: Resource = WORKFLOW_EXECUTIONS
    owns: Sequence[Resource] = (KUBERNETES_EXECUTIONS,)
    reads: Sequence[Resource] = (REMEDIATION_REQUESTS,)
    """The owning RemediationRequest, whose approval covers the workflow.

    Monitoring reads the target Deployments live (polled while Monitoring);
    caching every Deployment of the cluster for that would cost far more.
    """

    def __init__(
        self,
        settings: WorkflowExecutionSettings | None = None,
        audit: AuditCompleteness | None = None,
    ) -> None:
        self._settings = settings or WorkflowExecutionSettings()
        self._audit = audit

    # --- observe -------------------------------------------------------------------

    def observe(self, obj: JSON, view: ClusterView) -> WorkflowObserved:
        metadata = obj.get("metadata") or {}
        uid = metadata.get("uid") or ""
        executions = {
            child["metadata"]["name"]: child
            for child in view.owned_by(KUBERNETES_EXECUTIONS, uid)
            if (controller_owner(child) or {}).get("uid") == uid
        }
        deployments: dict[ObjectKey, JSON | None] = {}
        if current_phase(obj) == "Monitoring" and not metadata.get("deletionTimestamp"):
            try:
                context = self._context(obj)
            except _InvalidWorkflowError:
                context = None
            if context is not None:
                records = load_records(context, _status(obj).get("stepStatuses"))
                for namespace, name in monitored_deployments(context.spec, records):
                    deployments[namespace, name] = view.get(DEPLOYMENTS, namespace, name)
        complete = True
        if metadata.get("deletionTimestamp"):
            complete = audit_complete(self._audit, obj)
        return WorkflowObserved(executions, deployments, complete, _owner_annotations(obj, view))

    # --- decide --------------------------------------------------------------------

    def decide(self, obj: JSON, observed: WorkflowObserved, now: datetime) -> list[Effect]:
        metadata = obj.get("metadata") or {}
        if metadata.get("deletionTimestamp"):
            return finalize(
                obj, complete=observed.audit_complete, now=now, grace=self._settings.audit_grace
            )
        effects = ensure_finalizer(obj)
        phase = current_phase(obj)
        if terminal(obj):
            return effects
        if phase is None:
            return [*effects, *move_to(obj, "Pending", reason="Accepted", now=now)]
        try:
            context = self._context(obj)
        except _InvalidWorkflowError as err:
            return [*effects, *_fail(obj, now, "InvalidSpec", str(err))]
        handlers: dict[str, _Handler] = {
            "Pending": self._pending,
            "Planning": self._planning,
            "Validating": self._validating,
            "AwaitingApproval": self._awaiting_approval,
            "Executing": self._executing,
            "Monitoring": self._monitoring,
            "RollingBack": self._rolling_back,
        }
        handler = handlers.get(phase or "")
        if handler is None:
            return effects
        return [*effects, *handler(obj, context, observed, now)]

    def _context(self, obj: JSON) -> WorkflowContext:
        metadata = obj.get("metadata") or {}
        raw_spec = obj.get("spec")
        try:
            spec = WorkflowExecutionSpec.model_validate(raw_spec)
            order = execution_order(spec)
            timeouts = phase_timeouts(raw_spec or {}, self._settings.timeouts)
        except (ValidationError, ValueError) as err:
            raise _InvalidWorkflowError(f"the workflow cannot be executed: {err}") from err
        limits = {
            step.step_number: step_limits(step, spec, timeouts, self._settings.default_max_retries)
            for step in spec.workflow_definition.steps
        }
        return WorkflowContext(
            name=metadata.get("name", ""),
            namespace=metadata.get("namespace", ""),
            spec=spec,
            order=order,
            limits=limits,
            timeouts=timeouts,
        )

    # --- phases --------------------------------------------------------------------

    def _pending(
        self, obj: JSON, context: WorkflowContext, observed: WorkflowObserved, now: datetime
    ) -> list[Effect]:
        return move_to(
            obj,
            "Planning",
            reason="PlanningStarted",
            now=now,
            status={"planningStartTime": format_timestamp(now)},
        )

    def _planning(
        self, obj: JSON, context: WorkflowContext, observed: WorkflowObserved, now: datetime
    ) -> list[Effect]:
        limit = context.timeouts.planning
        started = phase_started(obj) or now
        if now >= started + limit:
            message = f"planning did not finish within {format_duration(limit)}"
            return _fail(obj, now, "TimeoutPlanning", message)
        plan = make_plan(context.spec)
        records = initial_records(context)
        status = {
            "executionPlan": plan.model_dump(mode="json", by_alias=True, exclude_none=True),
            "stepStatuses": dump_records(records),
            **step_counts(records),
            "validationStartTime": format_timestamp(now),
        }
        levels = " -> ".join("[" + ", ".join(map(str, level)) + "]" for level in plan.levels)
        message = f"{len(records)} step(s), {plan.strategy}: {levels}"
        return move_to(obj, "Validating", reason="Planned", now=now, message=message, status=status)

    def _validation_deadline(self, obj: JSON, context: WorkflowContext) -> datetime | None:
        started = timestamp_or_none(_status(obj).get("validationStartTime")) or phase_started(obj)
        return started + context.timeouts.validating if started is not None else None

    def _validating(
        self, obj: JSON, context: WorkflowContext, observed: WorkflowObserved, now: datetime
    ) -> list[Effect]:
        strategy = context.spec.execution_strategy
        approval = _approval(obj, observed) if strategy.effective_approval_required else None
        if approval == APPROVAL_REJECTED:
            return self._rejected(obj, observed, now)
        deadline = self._validation_deadline(obj, context) or now
        if now >= deadline:
            message = (
                f"validation did not finish within {format_duration(context.timeouts.validating)}"
            )
            return _fail(obj, now, "TimeoutValidating", message)
        validation: JSON = {"dryRunPerformed": False}
        if strategy.effective_dry_run_first:
            waiting = self._dry_run(obj, context, observed)
            if isinstance(waiting, list):
                return [*waiting, RequeueAfter((deadline - now).total_seconds())]
            validation = {"dryRunPerformed": True, "dryRunResults": waiting}
            if not waiting["overallSuccess"]:
                failed = [
                    f"step {result['stepNumber']}: {'; '.join(result.get('validationErrors', []))}"
                    for result in waiting["stepResults"]
                    if not result["wouldSucceed"]
                ]
                message = "dry run failed: " + " | ".join(failed)
                return _fail(
                    obj, now, "DryRunFailed", message, extra={"validationResults": validation}
                )
        if not strategy.effective_approval_required:
            return self._start_execution(obj, now, validation, "Validated")
        if approval == APPROVAL_APPROVED:
            return self._start_execution(
                obj, now, {**validation, **_approval_record(obj, observed, now)}, "Approved"
            )
        return [
            *move_to(
                obj,
                "AwaitingApproval",
                reason="ApprovalRequired",
                now=now,
                message=f"annotate with {ANNOTATION_APPROVAL}=approved or =rejected",
                status={"validationResults": {**validation, "approvalReceived": False}},
            ),
            RequeueAfter((deadline - now).total_seconds()),
        ]

    def _dry_run(
        self, obj: JSON, context: WorkflowContext, observed: WorkflowObserved
    ) -> list[Effect] | JSON:
        """CreateChild effects while dry runs are missing or running, else the dry-run results."""
        creates: list[Effect] = []
        results: list[DryRunStepResult] = []
        running = False
        for step in context.spec.workflow_definition.steps:
            name = execution_name(context.name, "dryrun", step.step_number)
            execution = observed.executions.get(name)
            if execution is None:
                body = dry_run_execution(obj, context.spec, step, context.limits[step.step_number])
                creates.append(CreateChild(KUBERNETES_EXECUTIONS, body))
                continue
            state = execution_outcome(execution)
            if state == "running":
                running = True
                continue
            results.append(
                DryRunStepResult(
                    step_number=step.step_number,
                    action=step.action,
                    would_succeed=state == "completed",
                    validation_errors=None
                    if state == "completed"
                    else [execution_message(execution)],
                )
            )
        if creates or running:
            return creates
        summary = DryRunResults(
            overall_success=all(result.would_succeed for result in results),
            steps_simulated=len(results),
            step_results=results,
        )
        dumped: JSON = summary.model_dump(mode="json", by_alias=True, exclude_none=True)
        return dumped

    def _awaiting_approval(
        self, obj: JSON, context: WorkflowContext, observed: WorkflowObserved, now: datetime
    ) -> list[Effect]:
        approval = _approval(obj, observed)
        if approval == APPROVAL_REJECTED:
            return self._rejected(obj, observed, now)
        if approval == APPROVAL_APPROVED:
            return self._start_execution(obj, now, _approval_record(obj, observed, now), "Approved")
        deadline = self._validation_deadline(obj, context) or now
        if now >= deadline:
            message = (
                f"no approval within {format_duration(context.timeouts.validating)} "
                "(the validating timeout includes the wait for approval)"
            )
            return _fail(obj, now, "TimeoutValidating", message)
        return [RequeueAfter((deadline - now).total_seconds())]

    def _rejected(self, obj: JSON, observed: WorkflowObserved, now: datetime) -> list[Effect]:
        annotations = _approval_annotations(obj, observed)
        who = annotations.get(ANNOTATION_APPROVED_BY)
        message = f"rejected by {who}" if who else "approval rejected"
        return _fail(
            obj,
            now,
            "ApprovalRejected",
            message,
            extra={"validationResults": {"approvalReceived": False}},
        )

    def _start_execution(
        self, obj: JSON, now: datetime, validation: JSON, reason: str
    ) -> list[Effect]:
        status = {
            "validationResults": validation,
            "executionStartTime": format_timestamp(now),
        }
        return move_to(obj, "Executing", reason=reason, now=now, status=status)

    def _executing(
        self, obj: JSON, context: WorkflowContext, observed: WorkflowObserved, now: datetime
    ) -> list[Effect]:
        records = load_records(context, _status(obj).get("stepStatuses"))
        progress = advance_steps(context, records, observed.executions, now)
        steps = context.steps
        effects: list[Effect] = [
            CreateChild(
                KUBERNETES_EXECUTIONS,
                step_execution(obj, context.spec, steps[number], context.limits[number]),
            )
            for number in progress.launched
        ]
        records = progress.records
        if progress.running:
            effects.extend(_record_steps(obj, records))
            effects.extend(progress.effects)
            if progress.next_deadline is not None:
                effects.append(RequeueAfter((progress.next_deadline - now).total_seconds()))
            return effects
        if progress.stop_reason is not None:
            strategy = context.spec.execution_strategy.effective_rollback_strategy
            completed = any(record.status == "Completed" for record in records.values())
            if strategy == "automatic" and completed:
                status = {
                    "stepStatuses": dump_records(records),
                    **step_counts(records),
                    "rollbackReason": progress.stop_reason,
                }
                transition = move_to(
                    obj,
                    "RollingBack",
                    reason="CriticalStepFailed",
                    now=now,
                    message=progress.stop_reason,
                    status=status,
                )
                return [*effects, *transition, *progress.effects]
            why = (
                "nothing to roll back"
                if strategy == "automatic"
                else f"rollbackStrategy is {strategy}: manual intervention required"
            )
            message = f"{progress.stop_reason}; {why}"
            failed = _fail(obj, now, "CriticalStepFailed", message, records=records)
            return [*effects, *failed, *progress.effects]
        if all(record.status in FINISHED for record in records.values()):
            if not any(record.status == "Completed" for record in records.values()):
                failed = _fail(obj, now, "NoStepSucceeded", "no step completed", records=records)
                return [*effects, *failed, *progress.effects]
            status = {
                "stepStatuses": dump_records(records),
                **step_counts(records),
                "monitoringStartTime": format_timestamp(now),
            }
            done = step_counts(records)
            message = f"{done['stepsCompleted']} of {done['totalSteps']} step(s) completed"
            transition = move_to(
                obj, "Monitoring", reason="StepsFinished", now=now, message=message, status=status
            )
            return [*effects, *transition, *progress.effects]
        return [*effects, *_record_steps(obj, records), *progress.effects]

    def _monitoring(
        self, obj: JSON, context: WorkflowContext, observed: WorkflowObserved, now: datetime
    ) -> list[Effect]:
        records = load_records(context, _status(obj).get("stepStatuses"))
        healths = [
            deployment_health(key, observed.deployments.get(key))
            for key in monitored_deployments(context.spec, records)
        ]
        if all(health.healthy for health in healths):
            message = "; ".join(health.message for health in healths) or "no target to monitor"
            return _finish(
                obj,
                now,
                "Completed",
                "TargetsHealthy",
                message,
                records=records,
                status={"workflowResult": success_result(records, healths)},
            )
        started = (
            timestamp_or_none(_status(obj).get("monitoringStartTime")) or phase_started(obj) or now
        )
        limit = context.timeouts.monitoring
        deadline = started + limit
        if now >= deadline:
            problems = "; ".join(health.message for health in healths if not health.healthy)
            message = f"targets not healthy within {format_duration(limit)}: {problems}"
            return _finish(
                obj,
                now,
                "Failed",
                "TimeoutMonitoring",
                message,
                records=records,
                status={
                    "workflowResult": failure_result(records, healths),
                    "failureReason": message,
                },
            )
        interval = self._settings.monitoring_interval
        return [RequeueAfter(min(interval, deadline - now).total_seconds())]

    def _rolling_back(
        self, obj: JSON, context: WorkflowContext, observed: WorkflowObserved, now: datetime
    ) -> list[Effect]:
        records = load_records(context, _status(obj).get("stepStatuses"))
        progress = advance_rollback(context, records, observed.executions, now)
        records = progress.records
        effects: list[Effect] = []
        if progress.create is not None:
            body = rollback_execution(obj, context.spec, progress.create)
            effects.append(CreateChild(KUBERNETES_EXECUTIONS, body))
        if progress.failure is not None:
            result = failure_result(
                records,
                health="Unknown",
                recommended=[f"manual intervention required: {progress.failure}"],
            )
            status = {"workflowResult": result, "failureReason": progress.failure}
            reason = progress.failure
            finished = _finish(
                obj, now, "Failed", "RollbackFailed", reason, records=records, status=status
            )
            return [*finished, *progress.effects]
        if progress.done:
            kept = [
                f"step {record.step_number} stays applied: {NOT_REVERSIBLE}"
                for record in sorted(records.values(), key=lambda r: r.step_number)
                if record.status == "Completed"
            ]
            message = f"{progress.rolled_back} step(s) rolled back" + (
                f", {len(kept)} not reversible" if kept else ""
            )
            status = {"workflowResult": failure_result(records, health="Unknown", recommended=kept)}
            finished = _finish(
                obj, now, "RolledBack", "RollbackCompleted", message, records=records, status=status
            )
            return [*finished, *progress.effects]
        effects.extend(_record_steps(obj, records))
        effects.extend(progress.effects)
        if progress.next_deadline is not None:
            effects.append(RequeueAfter((progress.next_deadline - now).total_seconds()))
        return effects


_Handler = Callable[[JSON, WorkflowContext, WorkflowObserved, datetime], list[Effect]]


def _fail(
    obj: JSON,
    now: datetime,
    reason: str,
    message: str,
    *,
    records: Mapping[int, StepStatus] | None = None,
    extra: JSON | None = None,
) -> list[Effect]:
    status = {
        "failureReason": message,
        "workflowResult": failure_result(records or {}, health="Unknown"),
        **(extra or {}),
    }
    return _finish(obj, now, "Failed", reason, message, records=records, status=status)


def _finish(
    obj: JSON,
    now: datetime,
    phase: str,
    reason: str,
    message: str,
    *,
    records: Mapping[int, StepStatus] | None,
    status: JSON,
) -> list[Effect]:
    """Move to a terminal phase with the result, metrics and completion time."""
    started = timestamp_or_none(_status(obj).get("planningStartTime"))
    final: JSON = {
        **status,
        "executionMetrics": execution_metrics(records or {}, started, now),
        "completionTime": format_timestamp(now),
    }
    if records is not None:
        final["stepStatuses"] = dump_records(records)
        final.update(step_counts(records))
    return move_to(obj, phase, reason=reason, now=now, message=message, status=final)


def _status(obj: JSON) -> JSON:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def _owner_annotations(obj: JSON, view: ClusterView) -> dict[str, str]:
    """Approval annotations of the controlling RemediationRequest (same uid), if any."""
    owner = controller_owner(obj)
    if not owner or owner.get("kind") != "RemediationRequest":
        return {}
    namespace = (obj.get("metadata") or {}).get("namespace")
    remediation = view.get(REMEDIATION_REQUESTS, namespace, owner["name"])
    if remediation is None or remediation["metadata"].get("uid") != owner.get("uid"):
        return {}
    annotations = remediation["metadata"].get("annotations") or {}
    keys = (ANNOTATION_APPROVAL, ANNOTATION_APPROVED_BY, ANNOTATION_APPROVED_AT)
    return {key: annotations[key] for key in keys if isinstance(annotations.get(key), str)}


def _approval_annotations(obj: JSON, observed: WorkflowObserved) -> Mapping[str, Any]:
    """The workflow's own approval, else the one given on its RemediationRequest."""
    own = (obj.get("metadata") or {}).get("annotations") or {}
    if own.get(ANNOTATION_APPROVAL) in (APPROVAL_APPROVED, APPROVAL_REJECTED):
        return own
    return observed.owner_annotations


def _approval(obj: JSON, observed: WorkflowObserved) -> str | None:
    value = _approval_annotations(obj, observed).get(ANNOTATION_APPROVAL)
    return value if value in (APPROVAL_APPROVED, APPROVAL_REJECTED) else None


def _approval_record(obj: JSON, observed: WorkflowObserved, now: datetime) -> JSON:
    annotations = _approval_annotations(obj, observed)
    at = timestamp_or_none(annotations.get(ANNOTATION_APPROVED_AT)) or now
    record: JSON = {"approvalReceived": True, "approvalTimestamp": format_timestamp(at)}
    who = annotations.get(ANNOTATION_APPROVED_BY)
    if isinstance(who, str) and who:
        record["approvedBy"] = who
    return record


def _record_steps(obj: JSON, records: Mapping[int, StepStatus]) -> list[Effect]:
    """A status patch with the step statuses and counts, only when they changed."""
    status = _status(obj)
    changes = {"stepStatuses": dump_records(records), **step_counts(records)}
    if all(status.get(key) == value for key, value in changes.items()):
        return []
    return [PatchStatus(changes)]
