"""A workflow definition: steps with typed parameters, dependencies and rollback specs.

Chosen by AIAnalysis, executed by WorkflowExecution (one KubernetesExecution
per step). Each step's ``parameters`` block must match its ``action``; the
step graph invariants live in :mod:`api.dag`.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, ValidationInfo, field_validator

from api.base import WireModel
from api.durations import Duration
from api.parameters import Action, StepParameters, check_parameters_match

__all__ = ["MAX_STEPS", "RollbackSpec", "StepNumber", "WorkflowDefinition", "WorkflowStep"]

MAX_STEPS: Final = 50

StepNumber = Annotated[int, Field(ge=1)]


def _match_action(parameters: StepParameters, info: ValidationInfo) -> StepParameters:
    action = info.data.get("action")
    return check_parameters_match(action if isinstance(action, str) else None, parameters)


class RollbackSpec(WireModel):
    """How to undo a step: another action with its own parameter block."""

    action: Action
    parameters: StepParameters
    timeout: Duration | None = None

    _parameters_match = field_validator("parameters")(_match_action)


class WorkflowStep(WireModel):
    step_number: StepNumber
    """Unique within the workflow; dependsOn refers to it."""
    name: Annotated[str, Field(min_length=1, max_length=253)]
    action: Action
    parameters: StepParameters
    """Exactly one block, named after the action."""
    critical_step: bool = False
    """A failed critical step fails the workflow and triggers rollback."""
    max_retries: Annotated[int, Field(ge=0, le=10)] | None = None
    timeout: Duration | None = None
    depends_on: Annotated[list[StepNumber], Field(max_length=MAX_STEPS)] | None = None
    """Step numbers that must complete first."""
    rollback_spec: RollbackSpec | None = None

    _parameters_match = field_validator("parameters")(_match_action)


class WorkflowDefinition(WireModel):
    name: Annotated[str, Field(min_length=1, max_length=253)]
    version: Annotated[str, Field(min_length=1, max_length=63)]
    steps: Annotated[list[WorkflowStep], Field(min_length=1, max_length=MAX_STEPS)]
