"""WorkflowExecution: plan and run a workflow's step DAG, one KubernetesExecution per step."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field

from api.base import WireModel
from api.durations import Duration
from api.meta import ObjectMeta, ObjectRef, ObjectReference, TargetResource
from api.parameters import Action
from api.phases import WorkflowExecutionPhase
from api.results import StepExecutionResult
from api.status import CommonStatus
from api.timestamps import Timestamp
from api.workflow import MAX_STEPS, StepNumber, WorkflowDefinition

__all__ = [
    "DEFAULT_ROLLBACK_STRATEGY",
    "DryRunResults",
    "DryRunStepResult",
    "ExecutionMetrics",
    "ExecutionPlan",
    "ExecutionStrategy",
    "RollbackStrategy",
    "SafetyCheck",
    "StepPhase",
    "StepStatus",
    "ValidationResults",
    "WorkflowExecution",
    "WorkflowExecutionSpec",
    "WorkflowExecutionStatus",
    "WorkflowResult",
    "WorkflowTimeouts",
]

RollbackStrategy = Literal["automatic", "manual", "none"]
DEFAULT_ROLLBACK_STRATEGY: Final[RollbackStrategy] = "automatic"
StepPhase = Literal["Pending", "Executing", "Completed", "Failed", "Skipped", "RolledBack"]

_Fraction = Annotated[float, Field(ge=0, le=1)]
_Count = Annotated[int, Field(ge=0)]


class SafetyCheck(WireModel):
    type: Annotated[str, Field(min_length=1, max_length=63)]
    """rbac, capacity, health, network, ..."""
    description: str
    required: bool = True


class ExecutionStrategy(WireModel):
    """How to run the workflow.

    approvalRequired, dryRunFirst and rollbackStrategy have no static default:
    the mutation policy fills them per environment when absent; still absent,
    they mean false, false and automatic.
    """

    approval_required: bool | None = None
    dry_run_first: bool | None = None
    rollback_strategy: RollbackStrategy | None = None
    max_retries: Annotated[int, Field(ge=0, le=10)] | None = None
    """Upper bound for any step's retries."""
    max_parallel: Annotated[int, Field(ge=1, le=MAX_STEPS)] = 3
    """Steps of one level that may run at the same time."""
    safety_checks: list[SafetyCheck] | None = None

    # The values that apply, with absent fields read as documented above.
    @property
    def effective_approval_required(self) -> bool:
        return bool(self.approval_required)

    @property
    def effective_dry_run_first(self) -> bool:
        return bool(self.dry_run_first)

    @property
    def effective_rollback_strategy(self) -> RollbackStrategy:
        return self.rollback_strategy or DEFAULT_ROLLBACK_STRATEGY


class WorkflowTimeouts(WireModel):
    """Time allowed per phase; a step without its own timeout gets ``step``."""

    planning: Duration = "30s"
    validating: Duration = "5m"
    step: Duration | None = None
    monitoring: Duration = "10m"


class WorkflowExecutionSpec(WireModel):
    remediation_request_ref: ObjectRef
    target_resource: TargetResource
    workflow_definition: WorkflowDefinition
    execution_strategy: ExecutionStrategy = Field(
        default_factory=ExecutionStrategy, json_schema_extra={"default": {}}
    )
    timeouts: WorkflowTimeouts = Field(
        default_factory=WorkflowTimeouts, json_schema_extra={"default": {}}
    )


class ExecutionPlan(WireModel):
    levels: list[list[StepNumber]]
    """Topological levels; the steps of one level may run in parallel."""
    strategy: Literal["sequential", "parallel", "sequential-with-parallel"]
    max_parallel: Annotated[int, Field(ge=1)] | None = None


class DryRunStepResult(WireModel):
    step_number: StepNumber
    action: Action
    would_succeed: bool
    validation_errors: list[str] | None = None


class DryRunResults(WireModel):
    overall_success: bool
    steps_simulated: _Count
    step_results: list[DryRunStepResult] | None = None


class ValidationResults(WireModel):
    safety_checks_passed: bool | None = None
    dry_run_performed: bool | None = None
    dry_run_results: DryRunResults | None = None
    approval_received: bool | None = None
    approval_timestamp: Timestamp | None = None
    approved_by: str | None = None
    """Who approved (the ``kubernaut.ai/approved-by`` annotation stamped by the webhook)."""
    validation_errors: list[str] | None = None


class StepStatus(WireModel):
    step_number: StepNumber
    action: Action
    status: StepPhase
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None
    result: StepExecutionResult | None = None
    error_message: str | None = None
    retries_attempted: _Count | None = None
    execution_ref: ObjectReference | None = None
    """The KubernetesExecution running this step."""


class ExecutionMetrics(WireModel):
    total_duration: Duration | None = None
    step_success_rate: _Fraction | None = None
    rollbacks_performed: _Count | None = None
    resources_affected: _Count | None = None


class WorkflowResult(WireModel):
    outcome: Literal["Succeeded", "PartiallySucceeded", "Failed", "Unknown"]
    effectiveness_score: _Fraction | None = None
    resource_health: Literal["Healthy", "Degraded", "Unhealthy", "Unknown"] | None = None
    new_alerts_triggered: bool | None = None
    recommended_actions: list[str] | None = None


class WorkflowExecutionStatus(CommonStatus[WorkflowExecutionPhase]):
    current_step: _Count | None = None
    """Steps finished so far (completed, failed or skipped): progress against totalSteps."""
    total_steps: _Count | None = None
    steps_completed: _Count | None = None
    steps_failed: _Count | None = None
    steps_skipped: _Count | None = None
    execution_plan: ExecutionPlan | None = None
    validation_results: ValidationResults | None = None
    step_statuses: list[StepStatus] | None = None
    execution_metrics: ExecutionMetrics | None = None
    workflow_result: WorkflowResult | None = None
    planning_start_time: Timestamp | None = None
    validation_start_time: Timestamp | None = None
    execution_start_time: Timestamp | None = None
    monitoring_start_time: Timestamp | None = None
    completion_time: Timestamp | None = None
    failure_reason: str | None = None
    rollback_reason: str | None = None


class WorkflowExecution(WireModel):
    api_version: Literal["kubernaut.ai/v1alpha1"] = "kubernaut.ai/v1alpha1"
    kind: Literal["WorkflowExecution"] = "WorkflowExecution"
    metadata: ObjectMeta
    spec: WorkflowExecutionSpec
    status: WorkflowExecutionStatus | None = None
