"""SignalProcessing controller: enrich a signal from the cluster, then classify it with Rego.

Phases: Pending -> Enriching -> Classifying -> Completed (or Failed). Every
move is its own recorded status write; when everything is at hand they
happen in one reconcile.

* ``observe`` (I/O): in Pending/Enriching it reads the target named by
  ``spec.signal.targetResource``, its namespace and its owner chain
  (:mod:`reconciler.controllers.sp_targets`); then it evaluates
  ``kubernaut.classification`` (``PolicyEngine.classify``) over the signal,
  the target's labels and the namespace's labels (in Classifying those come
  from the recorded status, so nothing is read twice).
* ``decide`` (pure) records the enrichment on the way to Classifying and the
  classification on the way to Completed. A missing target is a result
  (``targetFound: false`` and the reason in ``status.message``), not a
  failure. Retriable API trouble and policy errors are retried every
  :data:`RETRY_SECONDS` until the phase has lasted :data:`PHASE_TIMEOUT`,
  then the object fails with the last error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from api.constants import GROUP, VERSION
from api.signal import SignalContext
from api.signalprocessing import SignalProcessingSpec
from api.timestamps import format_timestamp
from reconciler.controller import ClusterView
from reconciler.controllers.finalizer import (
    AuditCompleteness,
    audit_complete,
    deleting,
    finalize,
)
from reconciler.controllers.progress import Moves, opening
from reconciler.controllers.sp_targets import TargetSnapshot, read_target
from reconciler.controllers.specs import object_key, parse_spec
from reconciler.effects import Effect, RequeueAfter
from reconciler.kube import ApiError, Resource
from reconciler.transitions import phase_started, terminal
from webhook.policy import Classification, PolicyEngine, PolicyError

__all__ = [
    "PHASE_TIMEOUT",
    "RETRY_SECONDS",
    "SIGNAL_PROCESSINGS",
    "SignalProcessingController",
    "SignalProcessingObserved",
    "classification_input",
]

JSON = dict[str, Any]
_log = logging.getLogger(__name__)

SIGNAL_PROCESSINGS: Final = Resource(GROUP, VERSION, "signalprocessings", "SignalProcessing")
PHASE_TIMEOUT: Final = timedelta(minutes=2)
"""Longest Enriching or Classifying may keep failing before the object fails."""
RETRY_SECONDS: Final = 10.0


@dataclass(frozen=True)
class SignalProcessingObserved:
    audit_complete: bool = True
    """Only asked while the object is being deleted."""
    invalid_spec: str | None = None
    target: TargetSnapshot | None = None
    """Read in Pending and Enriching."""
    classification: Classification | None = None
    error: str | None = None
    """Why the target or the classification could not be had this time (retried)."""


def classification_input(
    signal: SignalContext, target_labels: dict[str, str], namespace_labels: dict[str, str]
) -> JSON:
    """The input of ``kubernaut.classification`` (policies/README.md)."""
    return {
        "signal": signal.model_dump(mode="json", exclude_none=True),
        "targetLabels": target_labels,
        "namespaceLabels": namespace_labels,
    }


class SignalProcessingController:
    name = "signalprocessing"
    resource = SIGNAL_PROCESSINGS
    owns: Sequence[Resource] = ()
    reads: Sequence[Resource] = ()

    def __init__(
        self,
        policy: PolicyEngine,
        *,
        audit: AuditCompleteness | None = None,
        phase_timeout: timedelta = PHASE_TIMEOUT,
    ) -> None:
        self._policy = policy
        self._audit = audit
        self._phase_timeout = phase_timeout

    # ------------------------------------------------------------------ observe

    def observe(self, obj: JSON, view: ClusterView) -> SignalProcessingObserved:
        if deleting(obj):
            return SignalProcessingObserved(audit_complete=audit_complete(self._audit, obj))
        if terminal(obj):
            return SignalProcessingObserved()
        spec = parse_spec(SignalProcessingSpec, obj)
        if isinstance(spec, str):
            return SignalProcessingObserved(invalid_spec=spec)
        status = obj.get("status") or {}
        target: TargetSnapshot | None = None
        if status.get("phase") == "Classifying":
            target_labels = dict(status.get("targetLabels") or {})
            namespace_labels = dict(status.get("namespaceLabels") or {})
        else:
            try:
                target = read_target(view, spec.signal.target_resource)
            except ApiError as err:
                return SignalProcessingObserved(error=f"reading the target failed: {err}")
            target_labels, namespace_labels = target.labels, target.namespace_labels
        try:
            classification = self._policy.classify(
                classification_input(spec.signal, target_labels, namespace_labels)
            )
        except PolicyError as err:
            _log.warning("classification policy failed: %s", err, extra={"object": object_key(obj)})
            return SignalProcessingObserved(target=target, error=f"classification failed: {err}")
        return SignalProcessingObserved(target=target, classification=classification)

    # ------------------------------------------------------------------- decide

    def decide(self, obj: JSON, observed: SignalProcessingObserved, now: datetime) -> list[Effect]:
        if deleting(obj):
            return finalize(obj, complete=observed.audit_complete, now=now)
        moves, proceed = opening(obj, now, observed.invalid_spec)
        if not proceed:
            return moves.effects
        if moves.phase == "Pending":
            moves.move("Enriching", reason="EnrichmentStarted", now=now)
        if moves.phase == "Enriching":
            if observed.target is None:
                return self._retry_or_fail(moves, "EnrichmentFailed", observed, now)
            moves.move(
                "Classifying",
                reason="Enriched",
                now=now,
                message=_enrichment_message(observed.target),
                status=_enrichment_status(observed.target),
            )
        if observed.classification is None:
            return self._retry_or_fail(moves, "ClassificationFailed", observed, now)
        classification = observed.classification
        moves.move(
            "Completed",
            reason="Classified",
            now=now,
            message=f"environment {classification.environment}, severity "
            f"{classification.severity}, priority {classification.priority}",
            status=_classification_status(moves.obj, classification, now),
        )
        return moves.effects

    def _retry_or_fail(
        self, moves: Moves, reason: str, observed: SignalProcessingObserved, now: datetime
    ) -> list[Effect]:
        error = observed.error or "no result"
        started = phase_started(moves.obj) or now
        remaining = (started + self._phase_timeout - now).total_seconds()
        if remaining > 0:
            moves.add(RequeueAfter(min(RETRY_SECONDS, remaining)))
            return moves.effects
        message = f"{moves.phase} did not finish within {_seconds(self._phase_timeout)}: {error}"
        moves.move(
            "Failed",
            reason=reason,
            now=now,
            message=message,
            status={"message": message, "completionTime": format_timestamp(now)},
        )
        return moves.effects


def _enrichment_status(target: TargetSnapshot) -> JSON:
    status: JSON = {
        "targetFound": target.found,
        "targetLabels": target.labels,
        "namespaceLabels": target.namespace_labels,
        "ownerChain": list(target.owner_chain),
    }
    if not target.found:
        status["message"] = target.reason
    return status


def _enrichment_message(target: TargetSnapshot) -> str:
    if not target.found:
        return f"target not found: {target.reason}"
    owners = " -> ".join(f"{entry['kind']}/{entry['name']}" for entry in target.owner_chain)
    return f"target found; owners: {owners}" if owners else "target found; no controlling owner"


def _classification_status(obj: JSON, classification: Classification, now: datetime) -> JSON:
    raw_severity = ((obj.get("spec") or {}).get("signal") or {}).get("severity", "")
    return {
        "environment": classification.environment,
        "severity": classification.severity,
        "priority": classification.priority,
        "classificationReasons": [
            f"environment {classification.environment} from the target's and its "
            "namespace's labels (kubernaut.classification)",
            f"severity {classification.severity} normalised from {raw_severity!r}",
            f"priority {classification.priority} for {classification.severity} severity in "
            f"{classification.environment}",
        ],
        "completionTime": format_timestamp(now),
    }


def _seconds(value: timedelta) -> str:
    return f"{int(value.total_seconds())}s"
