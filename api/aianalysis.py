"""AIAnalysis: pick a workflow for an enriched signal and say whether it needs approval."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from api.base import WireModel
from api.meta import ObjectMeta, ObjectRef
from api.phases import AIAnalysisPhase
from api.signal import Enrichment, SignalContext
from api.status import CommonStatus
from api.timestamps import Timestamp
from api.workflow import WorkflowDefinition

__all__ = ["AIAnalysis", "AIAnalysisSpec", "AIAnalysisStatus"]


class AIAnalysisSpec(WireModel):
    remediation_request_ref: ObjectRef
    signal: SignalContext
    enrichment: Enrichment | None = None
    """SignalProcessing's results."""


class AIAnalysisStatus(CommonStatus[AIAnalysisPhase]):
    selected_workflow: WorkflowDefinition | None = None
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    rationale: str | None = None
    analyzer: str | None = None
    """Which analyser answered (catalog, http, ...)."""
    approval_required: bool | None = None
    approval_reason: str | None = None
    completion_time: Timestamp | None = None
    message: str | None = None


class AIAnalysis(WireModel):
    api_version: Literal["kubernaut.ai/v1alpha1"] = "kubernaut.ai/v1alpha1"
    kind: Literal["AIAnalysis"] = "AIAnalysis"
    metadata: ObjectMeta
    spec: AIAnalysisSpec
    status: AIAnalysisStatus | None = None
