"""Reading a child KubernetesExecution: is it running, done or failed, and what did it report."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from pydantic import ValidationError

from api.constants import API_VERSION
from api.kubernetesexecution import RollbackInfo
from api.meta import ObjectReference
from api.results import StepExecutionResult
from api.timestamps import timestamp_or_none

__all__ = [
    "Outcome",
    "created_at",
    "execution_attempts",
    "execution_message",
    "execution_outcome",
    "execution_reference",
    "execution_result",
    "finished_at",
    "rollback_info",
]

JSON = dict[str, Any]
Outcome = Literal["running", "completed", "failed"]

_FAILED_PHASES: Final = frozenset({"Failed", "TimedOut"})


def _status(execution: JSON) -> JSON:
    status = execution.get("status")
    return status if isinstance(status, dict) else {}


def execution_outcome(execution: JSON) -> Outcome:
    phase = _status(execution).get("phase")
    if phase == "Completed":
        return "completed"
    if phase in _FAILED_PHASES:
        return "failed"
    return "running"


def execution_message(execution: JSON) -> str:
    """Why an execution ended as it did, in its own words when it gave any."""
    status = _status(execution)
    message = status.get("message")
    if isinstance(message, str) and message:
        return message
    result = execution_result(execution)
    if result is not None and result.message:
        return result.message
    name = (execution.get("metadata") or {}).get("name", "?")
    return f"KubernetesExecution {name} ended {status.get('phase') or 'without a phase'}"


def execution_result(execution: JSON) -> StepExecutionResult | None:
    raw = _status(execution).get("executionResult")
    if not isinstance(raw, dict):
        return None
    try:
        return StepExecutionResult.model_validate(raw)
    except ValidationError:
        return None


def rollback_info(execution: JSON) -> RollbackInfo | None:
    raw = _status(execution).get("rollbackInfo")
    if not isinstance(raw, dict):
        return None
    try:
        return RollbackInfo.model_validate(raw)
    except ValidationError:
        return None


def execution_attempts(execution: JSON) -> int:
    attempts = _status(execution).get("attempts")
    return attempts if isinstance(attempts, int) and attempts > 0 else 0


def created_at(execution: JSON) -> datetime | None:
    return timestamp_or_none((execution.get("metadata") or {}).get("creationTimestamp"))


def finished_at(execution: JSON) -> datetime | None:
    return timestamp_or_none(_status(execution).get("completionTime"))


def execution_reference(name: str, namespace: str, execution: JSON | None) -> ObjectReference:
    uid = ((execution or {}).get("metadata") or {}).get("uid")
    return ObjectReference(
        api_version=API_VERSION,
        kind="KubernetesExecution",
        name=name,
        namespace=namespace,
        uid=uid if isinstance(uid, str) else None,
    )
