"""What a controller's pure ``decide`` asks for; the executor carries it out.

Effects are plain frozen data: comparing the effects a ``decide`` returns is
how its unit tests read. All of them concern the object being reconciled
unless they name another one (children, Jobs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.kube import Resource

JSON = dict[str, Any]


@dataclass(frozen=True)
class PhaseChange:
    """A phase transition carried by a :class:`PatchStatus` (for metrics, Events and audit)."""

    kind: str
    from_phase: str | None
    to_phase: str
    reason: str
    message: str = ""
    # Absolute index of this transition in the object's history (audit key).
    index: int = 0
    seconds_in_previous_phase: float | None = None


@dataclass(frozen=True)
class PatchStatus:
    """Merge ``changes`` into ``status`` through the /status subresource.

    Sent with the object's resourceVersion as precondition: a concurrent change
    makes it fail with 409 and the reconcile is re-run on the fresh object.
    """

    changes: JSON
    phase_change: PhaseChange | None = None


@dataclass(frozen=True)
class PatchMetadata:
    """Merge labels and annotations into ``metadata`` (resourceVersion-guarded)."""

    labels: dict[str, str | None] = field(default_factory=dict)
    annotations: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class AddFinalizer:
    name: str


@dataclass(frozen=True)
class RemoveFinalizer:
    name: str


@dataclass(frozen=True)
class CreateChild:
    """Create ``body`` (a complete object with its ownerReferences). An existing one is fine."""

    resource: Resource
    body: JSON


@dataclass(frozen=True)
class DeleteObject:
    resource: Resource
    namespace: str | None
    name: str
    propagation: Literal["Background", "Foreground", "Orphan"] = "Background"


@dataclass(frozen=True)
class RecordEvent:
    """A Kubernetes Event about the reconciled object."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class AuditNote:
    """A notable event for the audit trail that is not a phase transition.

    ``(note_type, discriminator)`` identifies the occurrence (e.g. "job-created",
    the Job's name): the same note recorded twice is stored once.
    """

    note_type: str
    discriminator: str
    reason: str
    message: str
    payload: JSON = field(default_factory=dict)


@dataclass(frozen=True)
class RequeueAfter:
    """Reconcile again after ``seconds`` (timeouts, polling) even without a change."""

    seconds: float


Effect = (
    PatchStatus
    | PatchMetadata
    | AddFinalizer
    | RemoveFinalizer
    | CreateChild
    | DeleteObject
    | RecordEvent
    | AuditNote
    | RequeueAfter
)
