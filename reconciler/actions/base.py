"""What every action receives (:class:`ActionContext`) and returns (:class:`ActionReport`).

An action module exposes ``run(context, params) -> ActionReport``. It raises
:class:`ActionError` for a failure it understands (unknown container, pods
blocked by a PodDisruptionBudget); an :class:`~reconciler.kube.ApiError` it
does not handle is reported by the runner as a failure with the API's message.
A failure after a change (drain after the cordon) returns a report with
``success=False`` instead, so that the change and its rollback are not lost.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from api.base import WireModel
from api.durations import parse_duration
from api.parameters import Action
from api.results import (
    AffectedResource,
    CustomExecutionResult,
    RestartExecutionResult,
    ScaleExecutionResult,
    UpdateExecutionResult,
)
from reconciler.actions.client import ActionClient
from reconciler.kube import ApiError, Resource

__all__ = [
    "ActionContext",
    "ActionError",
    "ActionReport",
    "Change",
    "Rollback",
    "TypedResult",
    "affected",
    "describe",
    "grace_seconds",
    "retry_on_conflict",
    "rollback_of",
]

TypedResult = (
    ScaleExecutionResult | RestartExecutionResult | UpdateExecutionResult | CustomExecutionResult
)
_T = TypeVar("_T")
_CONFLICT_ATTEMPTS = 5


class ActionError(Exception):
    """The action could not be carried out; the message says why, for a person."""


@dataclass(frozen=True, slots=True)
class Change:
    """One field of one object, before and after (``exists`` true -> false for a deletion)."""

    resource: str
    field: str
    before: Any
    after: Any

    def to_wire(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "field": self.field,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True, slots=True)
class Rollback:
    """The step that undoes this one: an action and its (inner) parameters block."""

    action: Action
    parameters: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"action": self.action, "parameters": self.parameters}


@dataclass(slots=True)
class ActionReport:
    """What an action did (or, in a dry run, would do)."""

    message: str
    success: bool = True
    typed: TypedResult | None = None
    affected: list[AffectedResource] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    rollback: Rollback | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ActionContext:
    """The client and the run's settings; the clock and sleep are injectable for tests."""

    client: ActionClient
    dry_run: bool
    deadline: float
    """``monotonic()`` value by which waiting actions (drain) give up."""
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.monotonic())


def affected(
    resource: Resource, namespace: str | None, name: str, change_type: str
) -> AffectedResource:
    """An entry of ``resourcesAffected`` (``change_type`` is validated by the api model)."""
    return AffectedResource.model_validate(
        {
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "name": name,
            "namespace": namespace if resource.namespaced else None,
            "changeType": change_type,
        }
    )


def describe(resource: Resource, namespace: str | None, name: str) -> str:
    """``apps/v1 Deployment shop/web``, ``v1 Node worker-1``: how changes name objects."""
    key = f"{namespace}/{name}" if resource.namespaced and namespace else name
    return f"{resource.api_version} {resource.kind} {key}"


def rollback_of(action: Action, params: WireModel) -> Rollback:
    """A rollback step whose parameters went through the api model (so it is valid)."""
    return Rollback(action, params.model_dump(mode="json", by_alias=True, exclude_none=True))


def grace_seconds(duration: str | None) -> int | None:
    """A grace period duration in whole seconds, rounded up (it never becomes 0, "now")."""
    if duration is None:
        return None
    seconds = parse_duration(duration).total_seconds()
    return math.ceil(seconds)


def retry_on_conflict(operation: Callable[[], _T], attempts: int = _CONFLICT_ATTEMPTS) -> _T:
    """Run a read-modify-write ``operation`` again while the API answers 409 Conflict."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except ApiError as err:
            if not err.conflict or attempt == attempts:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")
