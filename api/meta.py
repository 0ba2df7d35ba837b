"""Types every kind shares: object metadata, references, conditions and phase transitions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from api.base import WireModel
from api.timestamps import Timestamp

__all__ = [
    "MAX_TRANSITIONS",
    "Condition",
    "ConditionStatus",
    "Name",
    "ObjectMeta",
    "ObjectRef",
    "ObjectReference",
    "OwnerReference",
    "TargetResource",
    "Transition",
    "append_transition",
    "next_transition_index",
    "set_condition",
]

MAX_TRANSITIONS: Final = 50
"""``status.transitions`` keeps the most recent this many entries."""

Name = Annotated[str, Field(min_length=1, max_length=253)]
"""A Kubernetes object name (non-empty; the API server checks the exact syntax)."""

ConditionStatus = Literal["True", "False", "Unknown"]


class _PermissiveModel(BaseModel):
    """Kubernetes-owned structures: known fields typed, anything else kept as is."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="allow",
    )


class OwnerReference(_PermissiveModel):
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(_PermissiveModel):
    """Standard object metadata; owned by the API server, so unknown fields are kept."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    managed_fields: list[dict[str, Any]] | None = None


class ObjectRef(WireModel):
    """A reference to a kubernaut object, by default in the referrer's namespace."""

    name: Name
    namespace: str | None = None
    uid: str | None = None


class ObjectReference(WireModel):
    """A fully qualified reference to a child object, as recorded in a status."""

    api_version: str
    kind: str
    name: Name
    namespace: str | None = None
    uid: str | None = None


class TargetResource(WireModel):
    """The Kubernetes object a signal is about and a remediation acts on."""

    api_version: Annotated[str, Field(min_length=1)]
    kind: Annotated[str, Field(min_length=1)]
    namespace: str | None = None
    """Empty for cluster-scoped targets such as Nodes."""
    name: Name


class Condition(WireModel):
    """A status condition in the metav1.Condition shape."""

    type: Annotated[str, Field(min_length=1, max_length=316)]
    status: ConditionStatus
    reason: Annotated[
        str,
        Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
    ]
    message: Annotated[str, Field(max_length=32768)] = ""
    last_transition_time: Timestamp
    observed_generation: Annotated[int, Field(ge=0)] | None = None


class Transition(WireModel):
    """One entry of the phase history from which the audit trail can be rebuilt."""

    phase: Annotated[str, Field(min_length=1)]
    at: Timestamp
    reason: Annotated[str, Field(min_length=1)]
    message: str | None = None
    index: Annotated[int, Field(ge=0)] | None = None
    """Position in the whole history, stable when the cap drops old entries (the audit key)."""


def next_transition_index(transitions: Sequence[Transition] | None) -> int:
    """The ``index`` the next transition gets: one more than the last entry's."""
    if not transitions:
        return 0
    last = transitions[-1]
    return (len(transitions) - 1 if last.index is None else last.index) + 1


def append_transition(
    transitions: Sequence[Transition] | None, transition: Transition
) -> list[Transition]:
    """Return a new history with ``transition`` appended, keeping the newest MAX_TRANSITIONS.

    A transition without an ``index`` gets the next one.
    """
    if transition.index is None:
        transition = transition.model_copy(update={"index": next_transition_index(transitions)})
    history = [*(transitions or ()), transition]
    return history[-MAX_TRANSITIONS:]


def set_condition(conditions: Sequence[Condition] | None, condition: Condition) -> list[Condition]:
    """Return new conditions with ``condition`` set, like ``meta.SetStatusCondition``.

    A condition whose status did not change keeps its ``lastTransitionTime``;
    reason, message and observedGeneration are always updated.
    """
    result: list[Condition] = []
    replaced = False
    for existing in conditions or ():
        if existing.type != condition.type:
            result.append(existing)
            continue
        replaced = True
        if existing.status == condition.status:
            result.append(
                condition.model_copy(update={"last_transition_time": existing.last_transition_time})
            )
        else:
            result.append(condition)
    if not replaced:
        result.append(condition)
    return result
