"""The analyser interface: an enriched signal in, a workflow with a confidence out.

An analyser never raises for an expected problem (no match, a service that
is down or answers nonsense): it returns an :class:`AnalysisFailure` whose
``reason`` (CamelCase) and ``message`` end up in the AIAnalysis status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from api.signal import Enrichment, SignalContext
from api.workflow import WorkflowDefinition

__all__ = ["Analyser", "AnalysisFailure", "AnalysisOutcome", "AnalysisRequest", "AnalysisResult"]


@dataclass(frozen=True)
class AnalysisRequest:
    """What an analyser gets: the signal, SignalProcessing's enrichment and where it came from."""

    name: str
    """The AIAnalysis object's name."""
    namespace: str
    signal: SignalContext
    enrichment: Enrichment
    remediation: str = ""
    """The RemediationRequest's name."""
    uid: str = ""


@dataclass(frozen=True)
class AnalysisResult:
    workflow: WorkflowDefinition
    confidence: float
    """0..1; below the approval policy's threshold a person must approve."""
    rationale: str


@dataclass(frozen=True)
class AnalysisFailure:
    reason: str
    """CamelCase, e.g. NoMatchingWorkflow, AnalyserTimeout."""
    message: str


AnalysisOutcome = AnalysisResult | AnalysisFailure


class Analyser(Protocol):
    name: str
    """Recorded in ``status.analyzer`` (catalog, http, ...)."""

    def analyse(self, request: AnalysisRequest) -> AnalysisOutcome: ...
