"""KubernetesExecution: run one step's action as a Job, with pre- and postconditions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from api.base import WireModel
from api.durations import Duration
from api.meta import ObjectMeta, ObjectRef, TargetResource
from api.parameters import Action, StepParameters, check_parameters_match
from api.phases import KubernetesExecutionPhase
from api.results import StepExecutionResult
from api.status import CommonStatus
from api.timestamps import Timestamp
from api.workflow import RollbackSpec, StepNumber

__all__ = [
    "ActionCondition",
    "ConditionResult",
    "ExecutionValidationResults",
    "KubernetesExecution",
    "KubernetesExecutionSpec",
    "KubernetesExecutionStatus",
    "RollbackInfo",
]


class ActionCondition(WireModel):
    """A check evaluated with Rego over the live target, before or after the action."""

    type: Annotated[str, Field(min_length=1, max_length=63)]
    rego: Annotated[str, Field(min_length=1, max_length=253)]
    """Policy query name under data.kubernaut.execution, e.g. deployment_available."""
    required: bool = True
    """A failed required condition blocks (pre) or fails (post) the execution."""
    timeout: Duration | None = None


class KubernetesExecutionSpec(WireModel):
    workflow_execution_ref: ObjectRef
    step_number: StepNumber
    action: Action
    parameters: StepParameters
    """Exactly one block, named after the action."""
    target_resource: TargetResource
    timeout: Duration | None = None
    max_retries: Annotated[int, Field(ge=0, le=10)] | None = None
    dry_run: bool = False
    """Run the action with server-side dry run only."""
    pre_conditions: list[ActionCondition] | None = None
    post_conditions: list[ActionCondition] | None = None
    rollback_spec: RollbackSpec | None = None

    @field_validator("parameters")
    @classmethod
    def _parameters_match(cls, parameters: StepParameters, info: ValidationInfo) -> StepParameters:
        action = info.data.get("action")
        return check_parameters_match(action if isinstance(action, str) else None, parameters)


class ConditionResult(WireModel):
    condition_type: str
    passed: bool
    evaluation_time: Timestamp | None = None
    error_message: str | None = None


class ExecutionValidationResults(WireModel):
    pre_condition_results: list[ConditionResult] | None = None
    post_condition_results: list[ConditionResult] | None = None


class RollbackInfo(WireModel):
    """How to undo what the action did, captured by the action runner."""

    available: bool
    action: Action | None = None
    parameters: StepParameters | None = None
    failure_reason: str | None = None

    @field_validator("parameters")
    @classmethod
    def _parameters_match(
        cls, parameters: StepParameters | None, info: ValidationInfo
    ) -> StepParameters | None:
        if parameters is None:
            return None
        action = info.data.get("action")
        if "action" in info.data and action is None:
            raise ValueError("parameters need an action")
        return check_parameters_match(action if isinstance(action, str) else None, parameters)


class KubernetesExecutionStatus(CommonStatus[KubernetesExecutionPhase]):
    attempts: Annotated[int, Field(ge=0)] | None = None
    """Jobs created so far (the Job of attempt n is <name>-<n>)."""
    job_name: str | None = None
    start_time: Timestamp | None = None
    completion_time: Timestamp | None = None
    execution_result: StepExecutionResult | None = None
    validation_results: ExecutionValidationResults | None = None
    rollback_info: RollbackInfo | None = None
    message: str | None = None


class KubernetesExecution(WireModel):
    api_version: Literal["kubernaut.ai/v1alpha1"] = "kubernaut.ai/v1alpha1"
    kind: Literal["KubernetesExecution"] = "KubernetesExecution"
    metadata: ObjectMeta
    spec: KubernetesExecutionSpec
    status: KubernetesExecutionStatus | None = None
