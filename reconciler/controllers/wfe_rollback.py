"""Rolling a workflow back: undo its completed steps, newest first, one at a time.

Pure. The undo of a step is its ``rollbackSpec`` when the workflow gave one,
else the rollback information its KubernetesExecution recorded
(``status.rollbackInfo``); a step with neither is recorded as not reversible
and passed over. Each undo runs as the KubernetesExecution
``<wfe>-rollback-<n>``; the next starts only when the previous completed, and
the first one that fails ends the rollback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from api.durations import parse_duration
from api.workflowexecution import StepStatus
from reconciler.controllers.wfe_children import Undo, execution_name
from reconciler.controllers.wfe_executions import (
    created_at,
    execution_message,
    execution_outcome,
    rollback_info,
)
from reconciler.controllers.wfe_steps import WorkflowContext
from reconciler.effects import AuditNote, Effect, RecordEvent

__all__ = ["NOT_REVERSIBLE", "RollbackOutcome", "advance_rollback", "rollback_order", "undo_for"]

JSON = dict[str, Any]

NOT_REVERSIBLE: Final = (
    "not reversible: the step has no rollbackSpec "
    "and its execution recorded no rollback information"
)
_EPOCH: Final = datetime.min.replace(tzinfo=UTC)


@dataclass
class RollbackOutcome:
    records: dict[int, StepStatus]
    create: Undo | None = None
    """The undo to start now (its KubernetesExecution does not exist yet)."""
    failure: str | None = None
    """Why the rollback failed, when it did."""
    done: bool = False
    """Every completed step was undone or is not reversible."""
    effects: list[Effect] = field(default_factory=list)
    next_deadline: datetime | None = None

    @property
    def rolled_back(self) -> int:
        return sum(1 for record in self.records.values() if record.status == "RolledBack")


def rollback_order(records: Mapping[int, StepStatus]) -> list[int]:
    """Completed (and already undone) steps, the most recently completed first.

    Steps that completed in the same second are undone in descending step
    number, so the order never changes between reconciles.
    """
    done = [record for record in records.values() if record.status in ("Completed", "RolledBack")]
    done.sort(key=lambda record: (record.end_time or _EPOCH, record.step_number), reverse=True)
    return [record.step_number for record in done]


def undo_for(context: WorkflowContext, number: int, execution: JSON | None) -> Undo | None:
    step = context.steps[number]
    limits = context.limits[number]
    spec = step.rollback_spec
    if spec is not None:
        return Undo(
            step_number=number,
            action=spec.action,
            parameters=spec.parameters,
            timeout=spec.timeout or limits.timeout_text,
            max_retries=limits.max_retries,
            source="rollbackSpec",
        )
    info = rollback_info(execution) if execution is not None else None
    if info is None or not info.available or info.action is None or info.parameters is None:
        return None
    return Undo(
        step_number=number,
        action=info.action,
        parameters=info.parameters,
        timeout=limits.timeout_text,
        max_retries=limits.max_retries,
        source="rollbackInfo",
    )


def advance_rollback(
    context: WorkflowContext,
    records: Mapping[int, StepStatus],
    executions: Mapping[str, JSON],
    now: datetime,
) -> RollbackOutcome:
    outcome = RollbackOutcome(records=dict(records))
    for number in rollback_order(records):
        record = outcome.records[number]
        if record.status == "RolledBack":
            continue
        undo = undo_for(context, number, executions.get(context.execution_name(number)))
        if undo is None:
            _not_reversible(context, outcome, number)
            continue
        name = execution_name(context.name, "rollback", number)
        execution = executions.get(name)
        if execution is None:
            outcome.create = undo
            message = (
                f"undoing {context.describe(number)} with {undo.action} ({undo.source}) as {name}"
            )
            outcome.effects.append(RecordEvent("Normal", "StepRollbackStarted", message))
            outcome.effects.append(
                AuditNote(
                    "rollback-started",
                    name,
                    "StepRollbackStarted",
                    message,
                    {"stepNumber": number, "action": undo.action, "source": undo.source},
                )
            )
            return outcome
        state = execution_outcome(execution)
        if state == "completed":
            outcome.records[number] = record.model_copy(
                update={"status": "RolledBack", "error_message": None}
            )
            message = f"{context.describe(number)} rolled back by {name}"
            outcome.effects.append(RecordEvent("Normal", "StepRolledBack", message))
            outcome.effects.append(
                AuditNote(
                    "step-rolled-back", name, "StepRolledBack", message, {"stepNumber": number}
                )
            )
            continue
        if state == "failed":
            outcome.failure = (
                f"rollback of {context.describe(number)} failed: {execution_message(execution)}"
            )
            return outcome
        started = created_at(execution)
        if started is not None:
            deadline = started + parse_duration(undo.timeout) * (undo.max_retries + 1)
            if now >= deadline:
                outcome.failure = (
                    f"rollback of {context.describe(number)} timed out: {name} did not finish "
                    f"within {undo.max_retries + 1} attempt(s) of {undo.timeout}"
                )
                return outcome
            outcome.next_deadline = deadline
        return outcome
    outcome.done = True
    return outcome


def _not_reversible(context: WorkflowContext, outcome: RollbackOutcome, number: int) -> None:
    record = outcome.records[number]
    if record.error_message == NOT_REVERSIBLE:
        return
    outcome.records[number] = record.model_copy(update={"error_message": NOT_REVERSIBLE})
    message = f"{context.describe(number)} is {NOT_REVERSIBLE}"
    outcome.effects.append(RecordEvent("Warning", "StepNotReversible", message))
    outcome.effects.append(
        AuditNote(
            "step-not-reversible",
            context.execution_name(number),
            "StepNotReversible",
            message,
            {"stepNumber": number},
        )
    )
