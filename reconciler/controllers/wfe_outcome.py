"""What a finished workflow reports: ``workflowResult`` and ``executionMetrics`` (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from api.durations import format_duration
from api.workflowexecution import ExecutionMetrics, StepStatus, WorkflowResult
from reconciler.controllers.wfe_monitor import DeploymentHealth, resource_health

__all__ = ["execution_metrics", "failure_result", "step_success_rate", "success_result"]

JSON = dict[str, Any]


def _dump(model: ExecutionMetrics | WorkflowResult) -> JSON:
    dumped: JSON = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def step_success_rate(records: Mapping[int, StepStatus]) -> float:
    """Share of steps that completed (a step undone later still completed)."""
    if not records:
        return 0.0
    done = sum(1 for record in records.values() if record.status in ("Completed", "RolledBack"))
    return round(done / len(records), 4)


def execution_metrics(
    records: Mapping[int, StepStatus], started: datetime | None, now: datetime
) -> JSON:
    """Duration since planning began, step success rate, undos, and resources the steps reported."""
    affected = {
        (resource.kind, resource.namespace or "", resource.name)
        for record in records.values()
        if record.status in ("Completed", "RolledBack") and record.result is not None
        for resource in record.result.resources_affected or ()
    }
    elapsed = now - started if started is not None else None
    positive = elapsed is not None and elapsed.total_seconds() > 0
    metrics = ExecutionMetrics(
        total_duration=format_duration(elapsed) if elapsed is not None and positive else None,
        step_success_rate=step_success_rate(records),
        rollbacks_performed=sum(1 for r in records.values() if r.status == "RolledBack"),
        resources_affected=len(affected),
    )
    return _dump(metrics)


def success_result(records: Mapping[int, StepStatus], healths: Sequence[DeploymentHealth]) -> JSON:
    """Every monitored target healthy: Succeeded, or PartiallySucceeded when steps did not run."""
    complete = all(record.status == "Completed" for record in records.values())
    return _dump(
        WorkflowResult(
            outcome="Succeeded" if complete else "PartiallySucceeded",
            effectiveness_score=step_success_rate(records),
            resource_health=resource_health(healths),
            recommended_actions=None if complete else _unfinished(records),
        )
    )


def failure_result(
    records: Mapping[int, StepStatus],
    healths: Sequence[DeploymentHealth] = (),
    *,
    health: Literal["Healthy", "Degraded", "Unhealthy", "Unknown"] | None = None,
    recommended: Sequence[str] = (),
) -> JSON:
    """The workflow did not reach its goal; the score weighs steps done by healthy targets."""
    healthy = sum(1 for item in healths if item.healthy)
    share = healthy / len(healths) if healths else 0.0
    actions = [*recommended, *(item.message for item in healths if not item.healthy)]
    return _dump(
        WorkflowResult(
            outcome="Failed",
            effectiveness_score=round(step_success_rate(records) * share, 4),
            resource_health=health or resource_health(healths),
            recommended_actions=actions or None,
        )
    )


def _unfinished(records: Mapping[int, StepStatus]) -> list[str]:
    return [
        f"review step {record.step_number} ({record.status.lower()}): {record.error_message}"
        if record.error_message
        else f"review step {record.step_number} ({record.status.lower()})"
        for record in sorted(records.values(), key=lambda r: r.step_number)
        if record.status != "Completed"
    ]
