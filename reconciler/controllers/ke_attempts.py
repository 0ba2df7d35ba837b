"""Attempts of a KubernetesExecution: the typed spec, starting a Job, recording its outcome (pure).

An attempt is named in the status (``attempts``, ``jobName``) in the same
write that precedes the creation of its Job, so the status always tells which
Job is current; the outcome of a finished attempt replaces the previous one's
in the status field by field (a JSON merge patch only adds and overwrites, so
fields the new result lacks are set to null explicitly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from api.constants import LABEL_REMEDIATION
from api.errors import field_errors
from api.kubernetesexecution import KubernetesExecutionSpec
from reconciler.controllers.ke_job import JobSettings, JobSpecInput, build_job
from reconciler.controllers.ke_resources import JOBS
from reconciler.controllers.ke_result import AttemptResult
from reconciler.effects import AuditNote, CreateChild, Effect, RecordEvent, RequeueAfter

__all__ = [
    "Attempt",
    "finished_note",
    "job_request",
    "parse_spec",
    "recorded_outcome",
    "replacing",
    "seconds",
    "start_job",
]

JSON = dict[str, Any]


@dataclass(frozen=True)
class Attempt:
    """The current attempt as recorded in the status (number 0: none yet)."""

    number: int
    job: str
    deadline: datetime


def parse_spec(obj: JSON) -> KubernetesExecutionSpec:
    """The typed spec; ValueError with every field problem (the webhook normally prevents it)."""
    try:
        return KubernetesExecutionSpec.model_validate(
            obj.get("spec") or {}, by_alias=True, by_name=False
        )
    except ValidationError as err:
        problems = "; ".join(str(error) for error in field_errors(err, prefix="spec"))
        raise ValueError(f"invalid spec: {problems}") from None


def seconds(delta: timedelta) -> float:
    """A requeue delay: never zero or negative (a deadline just passed is met on the next pass)."""
    return max(delta.total_seconds(), 0.001)


def replacing(old: Any, new: JSON) -> JSON:
    """A merge patch that makes ``old`` equal to ``new`` (keys only in ``old`` become null)."""
    if not isinstance(old, dict):
        return new
    patch: JSON = {key: None for key in old if key not in new}
    for key, value in new.items():
        patch[key] = replacing(old.get(key), value) if isinstance(value, dict) else value
    return patch


def job_request(
    obj: JSON, spec: KubernetesExecutionSpec, attempt: int, remaining: timedelta
) -> JobSpecInput:
    """What the Job of ``attempt`` is built from; its deadline is the time left."""
    metadata = obj.get("metadata") or {}
    parameters = ((obj.get("spec") or {}).get("parameters") or {}).get(spec.action) or {}
    return JobSpecInput(
        execution_name=str(metadata["name"]),
        namespace=str(metadata.get("namespace") or ""),
        uid=str(metadata.get("uid") or ""),
        action=spec.action,
        parameters=dict(parameters),
        dry_run=spec.dry_run,
        attempt=attempt,
        deadline_seconds=max(1, math.ceil(remaining.total_seconds())),
        remediation=(metadata.get("labels") or {}).get(LABEL_REMEDIATION),
    )


def start_job(
    obj: JSON,
    spec: KubernetesExecutionSpec,
    attempt: int,
    remaining: timedelta,
    settings: JobSettings,
) -> tuple[JSON, list[Effect]]:
    """The status fields naming the attempt, and the effects that create its Job.

    The caller writes the status first: a crash between the two leaves an
    attempt whose Job the next reconcile creates under the same name.
    """
    body = build_job(job_request(obj, spec, attempt, remaining), settings)
    name = body["metadata"]["name"]
    text = f"created Job {name} (attempt {attempt}{', dry run' if spec.dry_run else ''})"
    payload = {"job": name, "attempt": attempt, "dryRun": spec.dry_run}
    effects: list[Effect] = [
        CreateChild(JOBS, body),
        AuditNote("job-created", name, "JobCreated", text, payload),
        RecordEvent("Normal", "JobCreated", text),
        RequeueAfter(seconds(remaining)),
    ]
    return {"attempts": attempt, "jobName": name}, effects


def recorded_outcome(obj: JSON, result: AttemptResult) -> JSON:
    """Status changes recording a finished attempt, replacing the previous attempt's."""
    status = obj.get("status") or {}
    return {
        "executionResult": replacing(status.get("executionResult"), result.execution_result),
        "rollbackInfo": replacing(status.get("rollbackInfo"), result.rollback_info),
        "message": result.message,
    }


def finished_note(attempt: Attempt, result: AttemptResult, reason: str) -> AuditNote:
    """The audit note of a finished attempt (one per Job)."""
    outcome = "succeeded" if result.succeeded else "failed"
    return AuditNote(
        "job-finished",
        attempt.job,
        "JobSucceeded" if result.succeeded else "JobFailed",
        f"Job {attempt.job} (attempt {attempt.number}) {outcome}: {result.message}",
        {
            "job": attempt.job,
            "attempt": attempt.number,
            "succeeded": result.succeeded,
            "reason": reason,
            "result": result.execution_result,
        },
    )
