"""AIAnalysis controller: ask the analyser for a workflow, and the approval policy about it.

Phases: Pending -> Investigating -> Completed (or Failed).

* The move to Investigating is recorded first, on its own: the analysis (an
  HTTP call, possibly slow) only ever runs for an object whose status says
  Investigating, confirmed by a live GET to be the latest version (the
  informer cache may lag behind the write of a result), so a result recorded
  as Completed or Failed is never asked for again.
* ``observe`` (I/O) runs the :class:`~reconciler.analysers.Analyser` and, for
  a selected workflow, ``PolicyEngine.require_approval`` over
  ``{environment, confidence, actions, severity, priority, namespace, workflow}``.
  An approval policy that cannot be evaluated requires approval (the safe
  answer) and says why.
* ``decide`` (pure) records the outcome: Completed with selectedWorkflow,
  confidence, rationale, analyzer, approvalRequired and approvalReason, or
  Failed with the analyser's reason.

A repeated reconcile between the analysis and the status write (a conflict,
a restart) asks the analyser again: analyses are at-least-once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from api.aianalysis import AIAnalysisSpec
from api.constants import GROUP, VERSION
from api.signal import Enrichment
from api.timestamps import format_timestamp
from reconciler.analysers.base import (
    Analyser,
    AnalysisFailure,
    AnalysisOutcome,
    AnalysisRequest,
    AnalysisResult,
)
from reconciler.controller import ClusterView
from reconciler.controllers.finalizer import (
    AuditCompleteness,
    audit_complete,
    deleting,
    finalize,
)
from reconciler.controllers.freshness import STALE_RECHECK_SECONDS, is_current
from reconciler.controllers.progress import Moves, opening
from reconciler.controllers.specs import object_key, parse_spec
from reconciler.effects import AuditNote, Effect, RequeueAfter
from reconciler.kube import Resource
from reconciler.transitions import current_phase
from webhook.policy import ApprovalRequirement, PolicyEngine, PolicyError

__all__ = [
    "AI_ANALYSES",
    "AIAnalysisController",
    "AIAnalysisObserved",
    "analysis_request",
    "approval_input",
]

JSON = dict[str, Any]
_log = logging.getLogger(__name__)

AI_ANALYSES: Final = Resource(GROUP, VERSION, "aianalyses", "AIAnalysis")
_RECHECK_SECONDS: Final = 5.0


@dataclass(frozen=True)
class AIAnalysisObserved:
    audit_complete: bool = True
    """Only asked while the object is being deleted."""
    invalid_spec: str | None = None
    outcome: AnalysisOutcome | None = None
    """The analyser's answer; only in Investigating."""
    approval: ApprovalRequirement | None = None
    """The approval policy's answer for a selected workflow."""
    stale: bool = False
    """The cached object is behind the API server: not analysed, look again shortly."""


def analysis_request(obj: JSON, spec: AIAnalysisSpec) -> AnalysisRequest:
    metadata = obj.get("metadata") or {}
    return AnalysisRequest(
        name=str(metadata.get("name", "")),
        namespace=str(metadata.get("namespace", "")),
        uid=str(metadata.get("uid", "")),
        remediation=spec.remediation_request_ref.name,
        signal=spec.signal,
        enrichment=spec.enrichment or Enrichment(),
    )


def approval_input(request: AnalysisRequest, result: AnalysisResult) -> JSON:
    """The input of ``kubernaut.approval.require_approval`` (policies/README.md)."""
    enrichment = request.enrichment
    return {
        "environment": enrichment.environment or "unknown",
        "confidence": result.confidence,
        "actions": sorted({step.action for step in result.workflow.steps}),
        "severity": enrichment.severity,
        "priority": enrichment.priority,
        "namespace": request.signal.target_resource.namespace or request.namespace,
        "workflow": result.workflow.name,
    }


class AIAnalysisController:
    name = "aianalysis"
    resource = AI_ANALYSES
    owns: Sequence[Resource] = ()
    reads: Sequence[Resource] = ()

    def __init__(
        self,
        analyser: Analyser,
        policy: PolicyEngine,
        *,
        audit: AuditCompleteness | None = None,
    ) -> None:
        self._analyser = analyser
        self._policy = policy
        self._audit = audit

    # ------------------------------------------------------------------ observe

    def observe(self, obj: JSON, view: ClusterView) -> AIAnalysisObserved:
        if deleting(obj):
            return AIAnalysisObserved(audit_complete=audit_complete(self._audit, obj))
        spec = parse_spec(AIAnalysisSpec, obj)
        if isinstance(spec, str):
            return AIAnalysisObserved(invalid_spec=spec)
        if current_phase(obj) != "Investigating":
            return AIAnalysisObserved()
        if not is_current(view, AI_ANALYSES, obj):
            return AIAnalysisObserved(stale=True)
        request = analysis_request(obj, spec)
        outcome = self._analyse(obj, request)
        if isinstance(outcome, AnalysisFailure):
            return AIAnalysisObserved(outcome=outcome)
        return AIAnalysisObserved(outcome=outcome, approval=self._approval(obj, request, outcome))

    def _analyse(self, obj: JSON, request: AnalysisRequest) -> AnalysisOutcome:
        try:
            return self._analyser.analyse(request)
        except Exception as err:  # a plug-in's bug must fail the analysis, not the reconciler
            _log.exception(
                "analyser %s raised", self._analyser.name, extra={"object": object_key(obj)}
            )
            return AnalysisFailure("AnalyserError", f"analyser {self._analyser.name} failed: {err}")

    def _approval(
        self, obj: JSON, request: AnalysisRequest, result: AnalysisResult
    ) -> ApprovalRequirement:
        try:
            return self._policy.require_approval(approval_input(request, result))
        except PolicyError as err:
            _log.warning("approval policy failed: %s", err, extra={"object": object_key(obj)})
            return ApprovalRequirement(
                True, f"the approval policy could not be evaluated, so approval is required: {err}"
            )

    # ------------------------------------------------------------------- decide

    def decide(self, obj: JSON, observed: AIAnalysisObserved, now: datetime) -> list[Effect]:
        if deleting(obj):
            return finalize(obj, complete=observed.audit_complete, now=now)
        moves, proceed = opening(obj, now, observed.invalid_spec)
        if not proceed:
            return moves.effects
        if moves.phase == "Pending":
            moves.move(
                "Investigating",
                reason="InvestigationStarted",
                now=now,
                message=f"asking the {self._analyser.name} analyser",
                status={"analyzer": self._analyser.name},
            )
            return moves.effects
        outcome = observed.outcome
        if observed.stale:
            moves.add(RequeueAfter(STALE_RECHECK_SECONDS))
        elif outcome is None:
            moves.add(RequeueAfter(_RECHECK_SECONDS))
        elif isinstance(outcome, AnalysisFailure):
            moves.move(
                "Failed",
                reason=outcome.reason,
                now=now,
                message=outcome.message,
                status={
                    "message": outcome.message,
                    "analyzer": self._analyser.name,
                    "completionTime": format_timestamp(now),
                },
            )
        else:
            self._complete(moves, outcome, observed.approval, now)
        return moves.effects

    def _complete(
        self,
        moves: Moves,
        result: AnalysisResult,
        approval: ApprovalRequirement | None,
        now: datetime,
    ) -> None:
        required = True if approval is None else approval.required
        reason = approval.reason if approval is not None else "no approval decision was made"
        workflow = result.workflow
        message = (
            f"workflow {workflow.name} v{workflow.version} selected with confidence "
            f"{result.confidence:.2f}; "
            + (f"approval required: {reason}" if required else "no approval required")
        )
        selected = workflow.model_dump(mode="json", by_alias=True, exclude_none=True)
        moves.move(
            "Completed",
            reason="WorkflowSelected",
            now=now,
            message=message,
            status={
                "selectedWorkflow": selected,
                "confidence": result.confidence,
                "rationale": result.rationale,
                "analyzer": self._analyser.name,
                "approvalRequired": required,
                "approvalReason": reason,
                "message": message,
                "completionTime": format_timestamp(now),
            },
        )
        moves.add(
            AuditNote(
                note_type="analysis-result",
                discriminator=workflow.name,
                reason="WorkflowSelected",
                message=message,
                payload={
                    "workflow": workflow.name,
                    "version": workflow.version,
                    "confidence": result.confidence,
                    "analyzer": self._analyser.name,
                    "approvalRequired": required,
                },
            )
        )
