"""Step bookkeeping while a workflow executes: settle running steps, skip, launch.

Pure: given the recorded step statuses, the observed KubernetesExecutions and
the time, :func:`advance_steps` says which steps finished, which can no
longer run, which to launch now, and whether the workflow must stop.

Rules:

* A step runs once every step it depends on completed, in level order, never
  more than ``maxParallel`` steps at once.
* A step whose dependency failed or was skipped is skipped, with the reason
  (it would act on a state its author did not expect).
* A failed non-critical step is recorded and the rest goes on.
* A critical step that failed, timed out or was skipped stops the workflow:
  nothing new is launched, the remaining pending steps are skipped, and steps
  already running are waited for so that every completed step is known to
  the rollback.
* A step gets its timeout per attempt, all its attempts included; past that
  it is failed even if its KubernetesExecution never reports.
* Restart safety: a KubernetesExecution found for a step still recorded as
  pending (the reconciler died between creating it and recording it) is
  adopted, never created again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Final

from pydantic import ValidationError

from api.durations import format_duration
from api.workflow import WorkflowStep
from api.workflowexecution import StepPhase, StepStatus, WorkflowExecutionSpec
from reconciler.controllers.wfe_children import execution_name
from reconciler.controllers.wfe_executions import (
    created_at,
    execution_attempts,
    execution_message,
    execution_outcome,
    execution_reference,
    execution_result,
    finished_at,
)
from reconciler.controllers.wfe_plan import PhaseTimeouts, StepLimits
from reconciler.effects import AuditNote, Effect, RecordEvent

__all__ = [
    "FINISHED",
    "StepsOutcome",
    "WorkflowContext",
    "advance_steps",
    "dump_records",
    "initial_records",
    "load_records",
    "step_counts",
]

JSON = dict[str, Any]

FINISHED: Final[frozenset[StepPhase]] = frozenset({"Completed", "Failed", "Skipped", "RolledBack"})
_UNUSABLE: Final[frozenset[StepPhase]] = frozenset({"Failed", "Skipped", "RolledBack"})


@dataclass(frozen=True)
class WorkflowContext:
    """What every step decision needs to know about the workflow."""

    name: str
    namespace: str
    spec: WorkflowExecutionSpec
    order: list[int]
    """Step numbers in launch priority (level by level)."""
    limits: Mapping[int, StepLimits]
    timeouts: PhaseTimeouts

    @cached_property
    def steps(self) -> dict[int, WorkflowStep]:
        return {step.step_number: step for step in self.spec.workflow_definition.steps}

    def execution_name(self, step_number: int) -> str:
        return execution_name(self.name, "step", step_number)

    def describe(self, step_number: int) -> str:
        return f"step {step_number} ({self.steps[step_number].name})"


@dataclass
class StepsOutcome:
    records: dict[int, StepStatus]
    launched: list[int] = field(default_factory=list)
    """Steps to create a KubernetesExecution for now (already recorded as Executing)."""
    effects: list[Effect] = field(default_factory=list)
    """Events and audit notes about steps that changed."""
    stop_reason: str | None = None
    """Set when a critical step failed or was skipped."""
    next_deadline: datetime | None = None
    """The earliest time a running step times out."""

    @property
    def running(self) -> list[int]:
        return [n for n, record in self.records.items() if record.status == "Executing"]


def initial_records(context: WorkflowContext) -> dict[int, StepStatus]:
    return {
        step.step_number: StepStatus(
            step_number=step.step_number, action=step.action, status="Pending"
        )
        for step in context.spec.workflow_definition.steps
    }


def load_records(context: WorkflowContext, raw: object) -> dict[int, StepStatus]:
    """The recorded step statuses; steps without a readable record start as pending."""
    records = initial_records(context)
    for entry in raw if isinstance(raw, list) else ():
        try:
            record = StepStatus.model_validate(entry)
        except ValidationError:
            continue
        if record.step_number in records:
            records[record.step_number] = record
    return records


def dump_records(records: Mapping[int, StepStatus]) -> list[JSON]:
    return [
        records[n].model_dump(mode="json", by_alias=True, exclude_none=True)
        for n in sorted(records)
    ]


def step_counts(records: Mapping[int, StepStatus]) -> JSON:
    """The status aggregation the RemediationRequest shows as progress."""
    phases = [record.status for record in records.values()]
    return {
        "totalSteps": len(phases),
        "currentStep": sum(1 for phase in phases if phase in FINISHED),
        "stepsCompleted": sum(1 for phase in phases if phase in ("Completed", "RolledBack")),
        "stepsFailed": phases.count("Failed"),
        "stepsSkipped": phases.count("Skipped"),
    }


def advance_steps(
    context: WorkflowContext,
    records: Mapping[int, StepStatus],
    executions: Mapping[str, JSON],
    now: datetime,
) -> StepsOutcome:
    outcome = StepsOutcome(records=dict(records))
    for number in context.order:
        _settle(context, outcome, number, executions, now)
    for number in context.order:
        _skip_if_blocked(context, outcome, number)
    outcome.stop_reason = _stop_reason(context, outcome.records)
    if outcome.stop_reason is not None:
        for number in context.order:
            if outcome.records[number].status == "Pending":
                _finish(
                    context,
                    outcome,
                    number,
                    "Skipped",
                    now=None,
                    message=f"not run: the workflow stopped ({outcome.stop_reason})",
                )
    else:
        _launch_ready(context, outcome, now)
    return outcome


def _settle(
    context: WorkflowContext,
    outcome: StepsOutcome,
    number: int,
    executions: Mapping[str, JSON],
    now: datetime,
) -> None:
    """Bring a running (or adoptable) step up to date with its KubernetesExecution."""
    record = outcome.records[number]
    name = context.execution_name(number)
    execution = executions.get(name)
    if record.status == "Pending" and execution is not None:
        record = record.model_copy(
            update={
                "status": "Executing",
                "start_time": created_at(execution) or now,
                "execution_ref": execution_reference(name, context.namespace, execution),
            }
        )
        outcome.records[number] = record
    if record.status != "Executing":
        return
    limits = context.limits[number]
    if execution is not None:
        attempts = execution_attempts(execution)
        if attempts:
            outcome.records[number] = record = record.model_copy(
                update={"retries_attempted": attempts - 1}
            )
        state = execution_outcome(execution)
        if state == "completed":
            _finish(
                context,
                outcome,
                number,
                "Completed",
                now=finished_at(execution) or now,
                result=execution,
            )
            return
        if state == "failed":
            _finish(
                context,
                outcome,
                number,
                "Failed",
                now=finished_at(execution) or now,
                message=execution_message(execution),
                result=execution,
            )
            return
    started = record.start_time or now
    deadline = started + limits.deadline
    if now >= deadline:
        _finish(
            context,
            outcome,
            number,
            "Failed",
            now=now,
            message=(
                f"timed out after {format_duration(limits.deadline)} "
                f"({limits.max_retries + 1} attempt(s) of {limits.timeout_text})"
            ),
        )
        return
    if outcome.next_deadline is None or deadline < outcome.next_deadline:
        outcome.next_deadline = deadline


def _skip_if_blocked(context: WorkflowContext, outcome: StepsOutcome, number: int) -> None:
    if outcome.records[number].status != "Pending":
        return
    for dependency in context.steps[number].depends_on or ():
        phase = outcome.records[dependency].status
        if phase in _UNUSABLE:
            what = "failed" if phase == "Failed" else f"was {phase.lower()}"
            message = f"not run: dependency {context.describe(dependency)} {what}"
            _finish(context, outcome, number, "Skipped", now=None, message=message)
            return


def _stop_reason(context: WorkflowContext, records: Mapping[int, StepStatus]) -> str | None:
    steps = context.steps
    for number in context.order:
        record = records[number]
        if not steps[number].critical_step or record.status not in ("Failed", "Skipped"):
            continue
        verb = "failed" if record.status == "Failed" else "was skipped"
        detail = f": {record.error_message}" if record.error_message else ""
        return f"critical {context.describe(number)} {verb}{detail}"
    return None


def _launch_ready(context: WorkflowContext, outcome: StepsOutcome, now: datetime) -> None:
    capacity = context.spec.execution_strategy.max_parallel - len(outcome.running)
    steps = context.steps
    for number in context.order:
        if capacity <= 0:
            return
        record = outcome.records[number]
        if record.status != "Pending":
            continue
        if any(outcome.records[d].status != "Completed" for d in steps[number].depends_on or ()):
            continue
        name = context.execution_name(number)
        outcome.records[number] = record.model_copy(
            update={
                "status": "Executing",
                "start_time": now,
                "execution_ref": execution_reference(name, context.namespace, None),
            }
        )
        outcome.launched.append(number)
        capacity -= 1
        limits = context.limits[number]
        deadline = now + limits.deadline
        if outcome.next_deadline is None or deadline < outcome.next_deadline:
            outcome.next_deadline = deadline
        message = f"{context.describe(number)}: {steps[number].action} started as {name}"
        outcome.effects.append(RecordEvent("Normal", "StepStarted", message))
        outcome.effects.append(
            AuditNote(
                "step-started",
                name,
                "StepStarted",
                message,
                {"stepNumber": number, "action": steps[number].action, "execution": name},
            )
        )


def _finish(
    context: WorkflowContext,
    outcome: StepsOutcome,
    number: int,
    phase: StepPhase,
    *,
    now: datetime | None,
    message: str | None = None,
    result: JSON | None = None,
) -> None:
    record = outcome.records[number]
    updates: JSON = {"status": phase, "error_message": message}
    if now is not None:
        updates["end_time"] = now
    if result is not None:
        updates["result"] = execution_result(result)
        name = context.execution_name(number)
        updates["execution_ref"] = execution_reference(name, context.namespace, result)
    outcome.records[number] = record.model_copy(update=updates)
    reason = f"Step{phase}"
    text = f"{context.describe(number)} {phase.lower()}" + (f": {message}" if message else "")
    discriminator = context.execution_name(number)
    outcome.effects.append(
        RecordEvent("Normal" if phase == "Completed" else "Warning", reason, text)
    )
    outcome.effects.append(
        AuditNote(
            f"step-{phase.lower()}",
            discriminator,
            reason,
            text,
            {"stepNumber": number, "action": record.action, "status": phase},
        )
    )
