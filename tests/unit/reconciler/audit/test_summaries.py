from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.audit.summaries import (
    IN_PROGRESS,
    RemediationSummary,
    WorkflowSummary,
    summary_of,
)


def _rr(phase: str, transitions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": "RemediationRequest",
        "metadata": {
            "uid": "uid-rr",
            "namespace": "shop",
            "name": "rr-1",
            "creationTimestamp": "2026-11-29T07:20:00Z",
        },
        "spec": {
            "signalFingerprint": "a" * 64,
            "signalName": "HighMemory",
            "severity": "critical",
            "targetResource": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        },
        "status": {
            "phase": phase,
            "transitions": transitions,
            "stepsTotal": 3,
            "stepsCompleted": 2,
        },
    }


_FLOW = [
    {"phase": "Pending", "at": "2026-11-29T07:20:01Z"},
    {"phase": "Processing", "at": "2026-11-29T07:20:11Z"},
    {"phase": "Analyzing", "at": "2026-11-29T07:20:41Z"},
    {"phase": "Processing", "at": "2026-11-29T07:20:51Z"},
    {"phase": "Failed", "at": "2026-11-29T07:21:00Z"},
]


def test_terminal_remediation_has_outcome_duration_and_phase_durations() -> None:
    summary = summary_of(_rr("Failed", _FLOW))
    assert isinstance(summary, RemediationSummary)
    assert summary.outcome == "failed"
    assert summary.started_at == datetime(2026, 11, 29, 7, 20, tzinfo=UTC)
    assert summary.completed_at == datetime(2026, 11, 29, 7, 21, tzinfo=UTC)
    assert summary.duration_seconds == 60.0
    assert summary.phase_durations == {"Pending": 10.0, "Processing": 39.0, "Analyzing": 10.0}
    assert (summary.target_kind, summary.target_namespace, summary.target_name) == (
        "Deployment",
        "shop",
        "web",
    )
    assert (summary.steps_total, summary.steps_completed, summary.steps_failed) == (3, 2, None)
    assert summary.transition_count == 5


def test_active_remediation_is_in_progress_without_completion() -> None:
    summary = summary_of(_rr("Analyzing", _FLOW[:3]))
    assert isinstance(summary, RemediationSummary)
    assert summary.outcome == IN_PROGRESS
    assert summary.completed_at is None
    assert summary.duration_seconds is None


def test_workflow_summary_counts_steps_and_reads_results() -> None:
    wfe = {
        "kind": "WorkflowExecution",
        "metadata": {
            "uid": "uid-wfe",
            "namespace": "shop",
            "name": "rr-1-workflow",
            "labels": {"kubernaut.ai/remediation": "rr-1"},
        },
        "spec": {"workflowDefinition": {"name": "scale-up", "version": "1.2", "steps": [{}, {}]}},
        "status": {
            "phase": "RolledBack",
            "transitions": [
                {"phase": "Pending", "at": "2026-11-29T07:21:00Z"},
                {"phase": "RolledBack", "at": "2026-11-29T07:25:00Z"},
            ],
            "stepStatuses": [
                {
                    "stepNumber": 1,
                    "action": "scaleDeployment",
                    "status": "Completed",
                    "startTime": "2026-11-29T07:21:10Z",
                    "endTime": "2026-11-29T07:21:40Z",
                },
                {"stepNumber": 2, "action": "restartDeployment", "status": "failed"},
            ],
            "workflowResult": {"effectivenessScore": 0.25},
            "executionMetrics": {"rollbacksPerformed": 1},
            "failureReason": "step 2 failed",
        },
    }
    summary = summary_of(wfe)
    assert isinstance(summary, WorkflowSummary)
    assert summary.remediation == "rr-1"
    assert (summary.workflow_name, summary.workflow_version) == ("scale-up", "1.2")
    assert (summary.total_steps, summary.steps_completed, summary.steps_failed) == (2, 1, 1)
    assert summary.outcome == "rolledback"
    assert summary.effectiveness_score == 0.25
    assert summary.rollbacks_performed == 1
    assert summary.error_message == "step 2 failed"
    assert summary.duration_seconds == 240.0
    assert summary.step_executions[0]["durationSeconds"] == 30.0


def test_kinds_without_summary_give_none() -> None:
    assert summary_of({"kind": "KubernetesExecution", "metadata": {"uid": "u"}}) is None
