"""Results of executing one step, typed per kind of action."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from api.base import WireModel
from api.durations import Duration

__all__ = [
    "AffectedResource",
    "CustomExecutionResult",
    "RestartExecutionResult",
    "ScaleExecutionResult",
    "StepExecutionResult",
    "UpdateExecutionResult",
]


class ScaleExecutionResult(WireModel):
    previous_replicas: Annotated[int, Field(ge=0)]
    new_replicas: Annotated[int, Field(ge=0)]
    namespace: str
    deployment: str


class RestartExecutionResult(WireModel):
    namespace: str
    pods_restarted: Annotated[int, Field(ge=0)]
    restarted_pods: list[str] | None = None


class UpdateExecutionResult(WireModel):
    resource_type: str
    """Deployment, ConfigMap, ..."""
    resource_name: str
    namespace: str | None = None
    update_type: Literal["image", "config", "spec", "rollback", "node"]
    previous_value: str | None = None
    new_value: str | None = None


class CustomExecutionResult(WireModel):
    action_type: str
    output: dict[str, str] | None = None


class AffectedResource(WireModel):
    api_version: str | None = None
    kind: str
    name: str
    namespace: str | None = None
    change_type: Literal[
        "scaled",
        "restarted",
        "updated",
        "rolledBack",
        "deleted",
        "cordoned",
        "uncordoned",
        "drained",
    ]


class StepExecutionResult(WireModel):
    """What the action runner reported; at most one of the typed results applies."""

    success: bool
    execution_time: Duration | None = None
    message: str | None = None
    scale_result: ScaleExecutionResult | None = None
    restart_result: RestartExecutionResult | None = None
    update_result: UpdateExecutionResult | None = None
    custom_result: CustomExecutionResult | None = None
    resources_affected: list[AffectedResource] | None = None
    warnings: list[str] | None = None
