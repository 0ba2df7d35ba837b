"""RemediationRequest: one signal to remediate; the orchestrator's object."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field

from api.base import WireModel
from api.durations import Duration
from api.meta import ObjectMeta, ObjectRef, ObjectReference, TargetResource
from api.phases import RemediationRequestPhase
from api.status import CommonStatus
from api.timestamps import Timestamp

__all__ = [
    "FINGERPRINT_PATTERN",
    "Fingerprint",
    "RemediationOutcome",
    "RemediationRequest",
    "RemediationRequestSpec",
    "RemediationRequestStatus",
    "RemediationTimeouts",
]

FINGERPRINT_PATTERN: Final = r"^[0-9a-f]{64}$"
Fingerprint = Annotated[str, Field(pattern=FINGERPRINT_PATTERN)]
"""SHA-256 of the signal's identity, 64 lower-case hex characters."""

RemediationOutcome = Literal["Succeeded", "Failed", "TimedOut", "Skipped", "Rejected"]


class RemediationTimeouts(WireModel):
    """Time allowed in total and per phase before the request is TimedOut."""

    global_: Duration = Field(default="1h", alias="global")
    """From creation to a terminal phase."""
    processing: Duration = "5m"
    analyzing: Duration = "10m"
    awaiting_approval: Duration = "15m"
    executing: Duration = "30m"


class RemediationRequestSpec(WireModel):
    signal_fingerprint: Fingerprint
    signal_name: Annotated[str, Field(min_length=1, max_length=253)]
    """Alert or event name, e.g. KubePodCrashLooping."""
    severity: Annotated[str, Field(min_length=1, max_length=63)]
    """Severity as the source reported it; SignalProcessing normalises it."""
    signal_type: Annotated[str, Field(min_length=1, max_length=63)]
    """Kind of source, e.g. prometheus or kubernetes-event."""
    signal_source: Annotated[str, Field(min_length=1, max_length=253)]
    """Which source instance sent it, e.g. an Alertmanager name."""
    target_resource: TargetResource
    signal_labels: dict[str, str] | None = None
    signal_annotations: dict[str, str] | None = None
    firing_time: Timestamp | None = None
    received_time: Timestamp | None = None
    timeouts: RemediationTimeouts = Field(
        default_factory=RemediationTimeouts, json_schema_extra={"default": {}}
    )


class RemediationRequestStatus(CommonStatus[RemediationRequestPhase]):
    signal_processing_ref: ObjectReference | None = None
    ai_analysis_ref: ObjectReference | None = None
    workflow_execution_ref: ObjectReference | None = None
    notification_refs: list[ObjectReference] | None = None
    duplicate_of: ObjectRef | None = None
    """The active request this one duplicates (phase Skipped)."""
    occurrences: Annotated[int, Field(ge=1)] | None = None
    """How many times the signal was seen while this request was active."""
    steps_completed: Annotated[int, Field(ge=0)] | None = None
    steps_total: Annotated[int, Field(ge=0)] | None = None
    steps_failed: Annotated[int, Field(ge=0)] | None = None
    start_time: Timestamp | None = None
    completion_time: Timestamp | None = None
    outcome: RemediationOutcome | None = None
    message: str | None = None


class RemediationRequest(WireModel):
    api_version: Literal["kubernaut.ai/v1alpha1"] = "kubernaut.ai/v1alpha1"
    kind: Literal["RemediationRequest"] = "RemediationRequest"
    metadata: ObjectMeta
    spec: RemediationRequestSpec
    status: RemediationRequestStatus | None = None
