"""Per-remediation and per-workflow summaries derived from an object (pure).

A summary is a snapshot of one RemediationRequest or WorkflowExecution; the
store upserts it by uid and never lets an older snapshot (fewer or earlier
transitions) replace a newer one. Fields the object does not carry yet are
``None``. Read from the object:

* RemediationRequest: ``spec.signalFingerprint``, ``spec.signalName``,
  ``spec.severity``, ``spec.targetResource``, ``status.phase``,
  ``status.transitions``, ``status.stepsTotal|stepsCompleted|stepsFailed``.
* WorkflowExecution: ``spec.workflowDefinition{name,version,steps}``,
  ``status.totalSteps``, ``status.stepStatuses[]``,
  ``status.workflowResult.effectivenessScore``,
  ``status.executionMetrics.rollbacksPerformed``, ``status.failureReason``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from reconciler.audit.events import (
    MAX_FIELD_CHARS,
    MAX_MESSAGE_CHARS,
    REMEDIATION_KIND,
    REMEDIATION_LABEL,
    InvalidObjectError,
    clean_json,
    clean_text,
    object_uid,
    parse_timestamp,
    transitions_of,
)

WORKFLOW_KIND = "WorkflowExecution"
IN_PROGRESS = "in-progress"

_TERMINAL_PHASES: Mapping[str, frozenset[str]] = {
    REMEDIATION_KIND: frozenset({"Completed", "Failed", "TimedOut", "Skipped"}),
    WORKFLOW_KIND: frozenset({"Completed", "Failed", "RolledBack"}),
}


@dataclass(frozen=True, slots=True)
class RemediationSummary:
    object_uid: str
    namespace: str
    name: str
    signal_fingerprint: str | None
    signal_name: str | None
    severity: str | None
    target_kind: str | None
    target_namespace: str | None
    target_name: str | None
    phase: str | None
    outcome: str
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    phase_durations: Mapping[str, float]
    steps_total: int | None
    steps_completed: int | None
    steps_failed: int | None
    transition_count: int
    last_transition_at: datetime | None


@dataclass(frozen=True, slots=True)
class WorkflowSummary:
    object_uid: str
    namespace: str
    name: str
    remediation: str
    workflow_name: str | None
    workflow_version: str | None
    phase: str | None
    outcome: str
    total_steps: int | None
    steps_completed: int | None
    steps_failed: int | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    effectiveness_score: float | None
    rollbacks_performed: int | None
    error_message: str | None
    step_executions: Sequence[Mapping[str, Any]]
    transition_count: int
    last_transition_at: datetime | None


Summary = RemediationSummary | WorkflowSummary


def summary_of(obj: Mapping[str, Any]) -> Summary | None:
    """The summary of ``obj``, or ``None`` for kinds without one."""
    kind = obj.get("kind")
    if kind == REMEDIATION_KIND:
        return remediation_summary(obj)
    if kind == WORKFLOW_KIND:
        return workflow_summary(obj)
    return None


def remediation_summary(obj: Mapping[str, Any]) -> RemediationSummary:
    spec = _mapping(obj.get("spec"))
    status = _mapping(obj.get("status"))
    target = _mapping(spec.get("targetResource"))
    timeline = _Timeline.of(obj, REMEDIATION_KIND)
    return RemediationSummary(
        object_uid=clean_text(object_uid(obj), MAX_FIELD_CHARS),
        namespace=_text(_mapping(obj.get("metadata")).get("namespace")) or "",
        name=_text(_mapping(obj.get("metadata")).get("name")) or "",
        signal_fingerprint=_text(spec.get("signalFingerprint")),
        signal_name=_text(spec.get("signalName")),
        severity=_text(spec.get("severity")),
        target_kind=_text(target.get("kind")),
        target_namespace=_text(target.get("namespace")),
        target_name=_text(target.get("name")),
        phase=timeline.phase,
        outcome=timeline.outcome,
        started_at=timeline.started_at,
        completed_at=timeline.completed_at,
        duration_seconds=timeline.duration_seconds,
        phase_durations=timeline.phase_durations,
        steps_total=_int(status.get("stepsTotal")),
        steps_completed=_int(status.get("stepsCompleted")),
        steps_failed=_int(status.get("stepsFailed")),
        transition_count=timeline.transition_count,
        last_transition_at=timeline.last_transition_at,
    )


def workflow_summary(obj: Mapping[str, Any]) -> WorkflowSummary:
    metadata = _mapping(obj.get("metadata"))
    spec = _mapping(obj.get("spec"))
    status = _mapping(obj.get("status"))
    definition = _mapping(spec.get("workflowDefinition"))
    labels = _mapping(metadata.get("labels"))
    reference = _mapping(spec.get("remediationRequestRef"))
    steps = [_step_record(step) for step in _list(status.get("stepStatuses"))]
    defined_steps = _list(definition.get("steps"))
    total = _int(status.get("totalSteps"))
    if total is None and defined_steps:
        total = len(defined_steps)
    timeline = _Timeline.of(obj, WORKFLOW_KIND)
    return WorkflowSummary(
        object_uid=clean_text(object_uid(obj), MAX_FIELD_CHARS),
        namespace=_text(metadata.get("namespace")) or "",
        name=_text(metadata.get("name")) or "",
        remediation=_text(labels.get(REMEDIATION_LABEL)) or _text(reference.get("name")) or "",
        workflow_name=_text(definition.get("name")),
        workflow_version=_text(definition.get("version")),
        phase=timeline.phase,
        outcome=timeline.outcome,
        total_steps=total,
        steps_completed=_count_steps(steps, "completed") if steps else None,
        steps_failed=_count_steps(steps, "failed") if steps else None,
        started_at=timeline.started_at,
        completed_at=timeline.completed_at,
        duration_seconds=timeline.duration_seconds,
        effectiveness_score=_float(
            _mapping(status.get("workflowResult")).get("effectivenessScore")
        ),
        rollbacks_performed=_int(
            _mapping(status.get("executionMetrics")).get("rollbacksPerformed")
        ),
        error_message=_text(status.get("failureReason"), MAX_MESSAGE_CHARS),
        step_executions=steps,
        transition_count=timeline.transition_count,
        last_transition_at=timeline.last_transition_at,
    )


@dataclass(frozen=True, slots=True)
class _Timeline:
    phase: str | None
    outcome: str
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    phase_durations: Mapping[str, float]
    transition_count: int
    last_transition_at: datetime | None

    @classmethod
    def of(cls, obj: Mapping[str, Any], kind: str) -> _Timeline:
        entries = transitions_of(obj)
        moments = [
            (str(entry.get("phase", "")), parse_timestamp(entry.get("at"))) for entry in entries
        ]
        status = _mapping(obj.get("status"))
        phase = _text(status.get("phase")) or (moments[-1][0] if moments else None)
        terminal = phase in _TERMINAL_PHASES[kind]
        created = _mapping(obj.get("metadata")).get("creationTimestamp")
        started_at = _timestamp(created) or (moments[0][1] if moments else None)
        completed_at = moments[-1][1] if terminal and moments else None
        durations: dict[str, float] = {}
        for (name, begin), (_, end) in pairwise(moments):
            durations[name] = durations.get(name, 0.0) + (end - begin).total_seconds()
        return cls(
            phase=phase,
            outcome=phase.lower() if terminal and phase else IN_PROGRESS,
            started_at=started_at,
            completed_at=completed_at,
            duration_seconds=(
                (completed_at - started_at).total_seconds() if completed_at and started_at else None
            ),
            phase_durations=durations,
            transition_count=len(moments),
            last_transition_at=moments[-1][1] if moments else None,
        )


def _step_record(step: object) -> dict[str, Any]:
    entry = _mapping(step)
    started = _timestamp(entry.get("startTime"))
    ended = _timestamp(entry.get("endTime"))
    record: dict[str, Any] = {
        "stepNumber": _int(entry.get("stepNumber")),
        "action": _text(entry.get("action")),
        "status": _text(entry.get("status")),
        "startTime": started.isoformat() if started else None,
        "endTime": ended.isoformat() if ended else None,
        "durationSeconds": (ended - started).total_seconds() if started and ended else None,
        "retriesAttempted": _int(entry.get("retriesAttempted")),
        "errorMessage": _text(entry.get("errorMessage"), MAX_MESSAGE_CHARS),
    }
    return clean_json(record)  # type: ignore[no-any-return]


def _count_steps(steps: Sequence[Mapping[str, Any]], status: str) -> int:
    return sum(1 for step in steps if str(step.get("status") or "").lower() == status)


def _timestamp(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except InvalidObjectError:
        return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object, limit: int = MAX_FIELD_CHARS) -> str | None:
    return clean_text(value, limit) if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
