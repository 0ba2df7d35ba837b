"""Validate a wire document as a kubernaut object: schema first, then the invariants.

This is what the admission webhook calls (and the offline ``kubernaut admit``):
one entry point, every problem reported with its Kubernetes-style field path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError

from api.aianalysis import AIAnalysis
from api.constants import API_VERSION, KINDS
from api.dag import step_dag_errors
from api.errors import FieldError, field_errors
from api.resources import RESOURCES, Resource
from api.workflowexecution import WorkflowExecution

__all__ = ["ValidationOutcome", "invariant_errors", "parse_resource", "validate_resource"]


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    """The parsed object when valid, otherwise every error found."""

    resource: Resource | None
    errors: list[FieldError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_resource(document: Mapping[str, Any]) -> Resource:
    """Parse a wire document (camelCase names only) into its kind's model.

    Raises ValidationError for schema errors; does not check invariants
    (use :func:`validate_resource` for the full verdict). ValueError for a
    document that is not a kubernaut object at all.
    """
    errors = _identity_errors(document)
    if errors:
        raise ValueError("; ".join(str(error) for error in errors))
    model = RESOURCES[document["kind"]].model
    return cast(Resource, model.model_validate(document, by_alias=True, by_name=False))


def validate_resource(document: object) -> ValidationOutcome:
    """Schema and invariant errors of a wire document; the parsed object if there are none."""
    if not isinstance(document, Mapping):
        return ValidationOutcome(None, [FieldError("", "expected an object")])
    errors = _identity_errors(document)
    if errors:
        return ValidationOutcome(None, errors)
    try:
        resource = parse_resource(document)
    except ValidationError as error:
        return ValidationOutcome(None, field_errors(error))
    errors = invariant_errors(resource)
    return ValidationOutcome(None if errors else resource, errors)


def invariant_errors(resource: Resource) -> list[FieldError]:
    """Rules beyond the per-field schema: the step graphs of workflows."""
    if isinstance(resource, WorkflowExecution):
        return step_dag_errors(resource.spec.workflow_definition.steps)
    if isinstance(resource, AIAnalysis) and resource.status and resource.status.selected_workflow:
        return step_dag_errors(
            resource.status.selected_workflow.steps, path="status.selectedWorkflow.steps"
        )
    return []


def _identity_errors(document: Mapping[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    api_version = document.get("apiVersion")
    if api_version != API_VERSION:
        errors.append(FieldError("apiVersion", f"expected {API_VERSION!r}, got {api_version!r}"))
    kind = document.get("kind")
    if kind not in KINDS:
        errors.append(FieldError("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}"))
    return errors
