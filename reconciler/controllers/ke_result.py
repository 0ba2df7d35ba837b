"""What an attempt produced: the action runner's result from the pod's termination message (pure).

The runner writes one JSON document (format in :mod:`reconciler.actions.result`)
to the termination message of the Job's container. Reading it is best effort:
the message may be missing (the pod was evicted or never started, the image
could not be pulled) or unreadable; the Job's conditions decide whether the
attempt succeeded, and the message only adds detail: the typed result, what
changed and how to undo it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from api.errors import field_errors
from api.kubernetesexecution import RollbackInfo
from api.results import StepExecutionResult
from reconciler.controllers.ke_job import CONTAINER_NAME, JobState

__all__ = [
    "JOB_NAME_LABELS",
    "AttemptResult",
    "attempt_result",
    "pods_of_job",
    "termination_message",
]

JSON = dict[str, Any]

JOB_NAME_LABELS: Final = ("batch.kubernetes.io/job-name", "job-name")
"""Labels the Job controller puts on its pods (the first since Kubernetes 1.27)."""
_MAX_MESSAGE: Final = 1024


@dataclass(frozen=True)
class _Termination:
    message: str | None
    reason: str
    exit_code: int | None


@dataclass(frozen=True)
class AttemptResult:
    """The outcome of one finished attempt, as recorded in the execution's status."""

    succeeded: bool
    execution_result: JSON
    """``status.executionResult``: api.results.StepExecutionResult, wire JSON."""
    rollback_info: JSON
    """``status.rollbackInfo``: api.kubernetesexecution.RollbackInfo, wire JSON."""
    message: str
    """One line for ``status.message``, Events and the audit trail."""


def pods_of_job(job: JSON, pods: Iterable[JSON]) -> list[JSON]:
    """The pods the Job created: its ``job-name`` label, and its uid as controller if set."""
    metadata = job.get("metadata") or {}
    name, uid = metadata.get("name"), metadata.get("uid")
    found = []
    for pod in pods:
        pod_metadata = pod.get("metadata") or {}
        labels = pod_metadata.get("labels") or {}
        if not any(labels.get(label) == name for label in JOB_NAME_LABELS):
            continue
        owners = [ref for ref in pod_metadata.get("ownerReferences") or [] if ref.get("controller")]
        if uid and owners and owners[0].get("uid") != uid:
            continue
        found.append(pod)
    return found


def _terminated(pod: JSON) -> _Termination | None:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ordered = sorted(statuses, key=lambda status: status.get("name") != CONTAINER_NAME)
    for status in ordered:
        terminated = (status.get("state") or {}).get("terminated")
        if isinstance(terminated, dict):
            message = terminated.get("message")
            exit_code = terminated.get("exitCode")
            return _Termination(
                message if isinstance(message, str) and message.strip() else None,
                str(terminated.get("reason") or ""),
                exit_code if isinstance(exit_code, int) else None,
            )
    return None


def _newest_first(pods: Iterable[JSON]) -> list[JSON]:
    def created(pod: JSON) -> str:
        return str((pod.get("metadata") or {}).get("creationTimestamp") or "")

    return sorted(pods, key=created, reverse=True)


def _termination(pods: Iterable[JSON]) -> _Termination | None:
    """The newest terminated container, preferring one that left a message."""
    terminations = [t for t in map(_terminated, _newest_first(pods)) if t is not None]
    with_message = [t for t in terminations if t.message is not None]
    if with_message:
        return with_message[0]
    return terminations[0] if terminations else None


def termination_message(pods: Iterable[JSON]) -> str | None:
    """The termination message of the newest terminated action container, if any."""
    found = _termination(pods)
    return found.message if found else None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _parse_document(text: str | None) -> tuple[JSON | None, str]:
    """The runner's document, or None and why it cannot be used."""
    if text is None:
        return None, "the action left no result (no termination message)"
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"the action's result is not valid JSON ({err.msg} at {err.pos})"
    if not isinstance(document, dict):
        return None, "the action's result is not a JSON object"
    return document, ""


def _step_result(document: JSON | None) -> tuple[StepExecutionResult | None, str]:
    if document is None:
        return None, ""
    raw = document.get("result")
    if not isinstance(raw, dict):
        return None, "the action's result has no result object"
    try:
        return StepExecutionResult.model_validate(raw, by_alias=True, by_name=False), ""
    except ValidationError as err:
        problems = "; ".join(str(error) for error in field_errors(err, prefix="result"))
        return None, f"the action's result is malformed: {problems}"


def _rollback_info(document: JSON | None, problem: str, dry_run: bool) -> JSON:
    def unavailable(reason: str) -> JSON:
        return {"available": False, "failureReason": reason}

    if document is None:
        return unavailable(problem)
    if dry_run or document.get("dryRun") is True:
        return unavailable("dry run: nothing was changed")
    rollback = document.get("rollback")
    if rollback is None:
        if document.get("rollbackDropped"):
            return unavailable("the rollback did not fit into the termination message")
        return unavailable("the action reported nothing to undo")
    if not isinstance(rollback, dict):
        return unavailable("the action's rollback is not a JSON object")
    action = rollback.get("action")
    wire = {
        "available": True,
        "action": action,
        "parameters": {action: rollback.get("parameters")} if isinstance(action, str) else None,
    }
    try:
        info = RollbackInfo.model_validate(wire, by_alias=True, by_name=False)
    except ValidationError as err:
        problems = "; ".join(str(error) for error in field_errors(err, prefix="rollback"))
        return unavailable(_short(f"the action's rollback is malformed: {problems}"))
    return info.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)


def _failure_detail(job: JobState, termination: _Termination | None) -> str:
    parts = []
    if termination is not None and termination.reason:
        code = "" if termination.exit_code is None else f", exit code {termination.exit_code}"
        parts.append(f"container {termination.reason}{code}")
    if job.message:
        parts.append(job.message)
    elif job.reason:
        parts.append(job.reason)
    return "; ".join(parts) or "the Job failed"


def attempt_result(job: JobState, pods: Iterable[JSON], *, dry_run: bool) -> AttemptResult:
    """Read a finished attempt: the Job decides success, the termination message adds detail."""
    if not job.finished:
        raise ValueError("the Job has not finished")
    succeeded = job.state == "succeeded"
    termination = _termination(pods)
    document, problem = _parse_document(termination.message if termination else None)
    result, result_problem = _step_result(document)
    problem = problem or result_problem
    warnings = list(result.warnings or []) if result else []
    if result is not None and result.success != succeeded:
        warnings.append(
            f"the action reported {'success' if result.success else 'failure'} but its Job "
            f"{'succeeded' if succeeded else 'failed'}: the Job's outcome counts"
        )
    if problem:
        warnings.append(problem)
    if result is not None and result.message:
        message = result.message
    elif succeeded:
        message = "the action succeeded"
    else:
        message = f"the action failed: {_failure_detail(job, termination)}"
    update: JSON = {"success": succeeded, "message": _short(message)}
    update["warnings"] = [_short(warning) for warning in warnings] or None
    base = result or StepExecutionResult(success=succeeded)
    recorded = base.model_copy(update=update)
    return AttemptResult(
        succeeded=succeeded,
        execution_result=recorded.model_dump(mode="json", by_alias=True, exclude_none=True),
        rollback_info=_rollback_info(document, problem, dry_run),
        message=_short(message),
    )
