"""The children of a RemediationRequest: names, references and the objects themselves (pure).

A RemediationRequest ``<rr>`` owns, flat, with ``controller: true`` and
``blockOwnerDeletion: true`` (so they go when it goes):

* SignalProcessing ``<rr>-signal``: the signal copied from the request's spec;
* AIAnalysis ``<rr>-analysis``: the signal plus SignalProcessing's enrichment;
* WorkflowExecution ``<rr>-workflow``: the selected workflow with the
  immutable targeting data (the request's reference and target resource);
* NotificationRequests ``<rr>-approval``, ``<rr>-escalation``,
  ``<rr>-completion`` (built in :mod:`reconciler.controllers.rr_notifications`).

Names derive from the request's name only, so a restarted reconciler finds
the children it already created. Every child carries the label
``kubernaut.ai/remediation: <rr>`` and, once SignalProcessing classified the
signal, ``kubernaut.ai/environment``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ValidationError

from api.constants import (
    API_VERSION,
    GROUP,
    LABEL_ENVIRONMENT,
    LABEL_REMEDIATION,
    VERSION,
    finalizer_for,
)
from api.errors import field_errors
from api.remediationrequest import RemediationRequestSpec
from api.resources import info_for
from api.signal import Enrichment, SignalContext
from api.workflow import WorkflowDefinition
from reconciler.cache import controller_owner
from reconciler.controllers.naming import MAX_NAME, child_name, label_value
from reconciler.kube import Resource

__all__ = [
    "AI_ANALYSES",
    "CHILD_RESOURCES",
    "NOTIFICATION_REQUESTS",
    "REMEDIATION_REQUESTS",
    "SIGNAL_PROCESSINGS",
    "WORKFLOW_EXECUTIONS",
    "ChildRole",
    "Classification",
    "Ownership",
    "ai_analysis",
    "child_labels",
    "child_metadata",
    "classification_of",
    "enrichment_of",
    "failure_text",
    "name_of",
    "ownership",
    "reference",
    "remediation_reference",
    "selected_workflow",
    "signal_processing",
    "workflow_execution",
]

JSON = dict[str, Any]

ChildRole = Literal["signal", "analysis", "workflow", "approval", "escalation", "completion"]
"""What a child is for; also the suffix of its name."""


def _resource(kind: str) -> Resource:
    return Resource(GROUP, VERSION, info_for(kind).plural, kind)


REMEDIATION_REQUESTS: Final = _resource("RemediationRequest")
SIGNAL_PROCESSINGS: Final = _resource("SignalProcessing")
AI_ANALYSES: Final = _resource("AIAnalysis")
WORKFLOW_EXECUTIONS: Final = _resource("WorkflowExecution")
NOTIFICATION_REQUESTS: Final = _resource("NotificationRequest")

CHILD_RESOURCES: Final[Mapping[ChildRole, Resource]] = {
    "signal": SIGNAL_PROCESSINGS,
    "analysis": AI_ANALYSES,
    "workflow": WORKFLOW_EXECUTIONS,
    "approval": NOTIFICATION_REQUESTS,
    "escalation": NOTIFICATION_REQUESTS,
    "completion": NOTIFICATION_REQUESTS,
}

# A label value: at most 63 characters, alphanumerics at both ends.
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _metadata(obj: JSON) -> JSON:
    return dict(obj.get("metadata") or {})


def _status(obj: JSON | None) -> JSON:
    return dict((obj or {}).get("status") or {})


def _dump(model: BaseModel) -> JSON:
    dumped: JSON = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def name_of(rr_name: str, role: ChildRole) -> str:
    """``<rr>-<role>``, shortened stably when longer than an object name may be."""
    return child_name(rr_name, role, MAX_NAME)


# ----------------------------------------------------------------- ownership

Ownership = Literal["ours", "stale", "foreign"]


def ownership(child: JSON, rr: JSON) -> Ownership:
    """Whose a child found under one of our names is.

    ``stale``: controlled by an earlier RemediationRequest of the same name
    (deleted and created again); the garbage collector removes it, and its
    deletion enqueues this request again. ``foreign``: anything else that is
    not controlled by this request.
    """
    owner = controller_owner(child) or {}
    metadata = _metadata(rr)
    if owner.get("uid") == metadata.get("uid"):
        return "ours"
    if (
        owner.get("kind") == "RemediationRequest"
        and owner.get("apiVersion") == API_VERSION
        and owner.get("name") == metadata.get("name")
    ):
        return "stale"
    return "foreign"


# ---------------------------------------------------------------- references


def remediation_reference(rr: JSON) -> JSON:
    """``{name, namespace, uid}`` of the request, as its children's specs carry it."""
    metadata = _metadata(rr)
    fields = {
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "uid": metadata.get("uid"),
    }
    return {key: value for key, value in fields.items() if value}


def reference(resource: Resource, name: str, namespace: str | None, child: JSON | None) -> JSON:
    """An ObjectReference for the status; with the uid once the child has been seen."""
    fields: JSON = {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "name": name,
        "namespace": namespace,
        "uid": _metadata(child or {}).get("uid"),
    }
    return {key: value for key, value in fields.items() if value}


# ------------------------------------------------------------ classification


@dataclass(frozen=True)
class Classification:
    """What SignalProcessing concluded about the signal (empty until it completed)."""

    environment: str | None = None
    severity: str | None = None
    priority: str | None = None


def classification_of(signal_processing: JSON | None) -> Classification:
    status = _status(signal_processing)

    def text(key: str) -> str | None:
        value = status.get(key)
        return value if isinstance(value, str) and value else None

    return Classification(text("environment"), text("severity"), text("priority"))


def enrichment_of(signal_processing: JSON) -> JSON:
    """SignalProcessing's enrichment fields in wire form; ValueError when they are invalid."""
    status = _status(signal_processing)
    names = {field.alias or key for key, field in Enrichment.model_fields.items()}
    fields = {key: value for key, value in status.items() if key in names}
    try:
        enrichment = Enrichment.model_validate(fields, by_alias=True, by_name=False)
    except ValidationError as err:
        problems = "; ".join(str(error) for error in field_errors(err, prefix="status"))
        raise ValueError(f"invalid enrichment: {problems}") from None
    return _dump(enrichment)


def selected_workflow(analysis: JSON) -> JSON | None:
    """AIAnalysis's selected workflow in wire form (None when none was selected).

    ValueError when it is not a valid workflow definition.
    """
    raw = _status(analysis).get("selectedWorkflow")
    if not raw:
        return None
    try:
        workflow = WorkflowDefinition.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError as err:
        problems = "; ".join(
            str(error) for error in field_errors(err, prefix="status.selectedWorkflow")
        )
        raise ValueError(f"invalid selected workflow: {problems}") from None
    # Passed through as the analysis wrote it: no schema defaults filled in here, so the
    # mutation policy still sees which step fields were left to it.
    passed: JSON = workflow.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return passed


def failure_text(child: JSON) -> str:
    """Why a child failed, in its own words: message, failure or rollback reason, transition."""
    status = _status(child)
    parts: list[str] = []
    for key in ("failureReason", "rollbackReason", "message"):
        value = status.get(key)
        if isinstance(value, str) and value and value not in parts:
            parts.append(value)
    if not parts:
        history = status.get("transitions") or []
        last = history[-1] if history and isinstance(history[-1], dict) else {}
        for key in ("reason", "message"):
            value = last.get(key)
            if isinstance(value, str) and value:
                parts.append(value)
    return "; ".join(parts) or "no reason given"


# ------------------------------------------------------------------ builders


def child_labels(rr: JSON, environment: str | None) -> dict[str, str]:
    labels = {LABEL_REMEDIATION: label_value(str(_metadata(rr)["name"]))}
    if environment and len(environment) <= 63 and _LABEL_VALUE.match(environment):
        labels[LABEL_ENVIRONMENT] = environment
    return labels


def child_metadata(rr: JSON, role: ChildRole, environment: str | None = None) -> JSON:
    metadata = _metadata(rr)
    return {
        "name": name_of(str(metadata["name"]), role),
        "namespace": metadata.get("namespace"),
        "labels": child_labels(rr, environment),
        # The child's own cleanup finalizer from the start: its controller does not
        # have to spend a write adding it.
        "finalizers": [finalizer_for(CHILD_RESOURCES[role].kind)],
        "ownerReferences": [
            {
                "apiVersion": API_VERSION,
                "kind": "RemediationRequest",
                "name": metadata["name"],
                "uid": metadata["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def _signal(spec: RemediationRequestSpec) -> JSON:
    return _dump(
        SignalContext(
            fingerprint=spec.signal_fingerprint,
            name=spec.signal_name,
            severity=spec.severity,
            type=spec.signal_type,
            source=spec.signal_source,
            target_resource=spec.target_resource,
            labels=spec.signal_labels,
            annotations=spec.signal_annotations,
        )
    )


def signal_processing(rr: JSON, spec: RemediationRequestSpec) -> JSON:
    """``<rr>-signal``: enrich and classify the signal."""
    return {
        "apiVersion": API_VERSION,
        "kind": "SignalProcessing",
        "metadata": child_metadata(rr, "signal"),
        "spec": {"remediationRequestRef": remediation_reference(rr), "signal": _signal(spec)},
    }


def ai_analysis(
    rr: JSON, spec: RemediationRequestSpec, enrichment: JSON, environment: str | None
) -> JSON:
    """``<rr>-analysis``: choose a workflow for the enriched signal."""
    body: JSON = {"remediationRequestRef": remediation_reference(rr), "signal": _signal(spec)}
    if enrichment:
        body["enrichment"] = enrichment
    return {
        "apiVersion": API_VERSION,
        "kind": "AIAnalysis",
        "metadata": child_metadata(rr, "analysis", environment),
        "spec": body,
    }


def workflow_execution(
    rr: JSON,
    spec: RemediationRequestSpec,
    workflow: JSON,
    *,
    approval_required: bool,
    environment: str | None,
) -> JSON:
    """``<rr>-workflow``: run the selected workflow against the request's target.

    ``approvalRequired`` is always set explicitly: absent, the mutation
    policy would fill it per environment and could ask a second time for an
    approval the request already got (or skip one the analysis required).
    The rest of the strategy is left to the mutation policy's defaults.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkflowExecution",
        "metadata": child_metadata(rr, "workflow", environment),
        "spec": {
            "remediationRequestRef": remediation_reference(rr),
            "targetResource": _dump(spec.target_resource),
            "workflowDefinition": workflow,
            "executionStrategy": {"approvalRequired": approval_required},
        },
    }
