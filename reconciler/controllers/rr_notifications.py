"""The NotificationRequests of a RemediationRequest: approval, escalation, completion (pure).

* ``<rr>-approval`` (type Approval) when the analysis needs a person's
  approval: what would run and how to approve or reject it.
* ``<rr>-escalation`` (type Escalation) when the request Failed or TimedOut:
  why, so a person takes over.
* ``<rr>-completion`` (type Completion, priority low) when it Completed.

Priority follows SignalProcessing's classification (P0..P3), else its
normalised severity, else the severity the source reported when it is one of
critical/high/medium/low; an escalation or approval without any of those is
``high``. Channels come from the controller's settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from api.constants import ANNOTATION_APPROVAL, API_VERSION
from api.notificationrequest import Channel, NotificationPriority, NotificationType
from reconciler.controllers.rr_children import (
    ChildRole,
    Classification,
    child_metadata,
    remediation_reference,
)

__all__ = [
    "Outcome",
    "approval_notification",
    "completion_notification",
    "escalation_notification",
    "priority_of",
]

JSON = dict[str, Any]

_PRIORITIES: Final[dict[str, NotificationPriority]] = {
    "P0": "critical",
    "P1": "high",
    "P2": "medium",
    "P3": "low",
}
_SEVERITIES: Final[dict[str, NotificationPriority]] = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "low": "low",
}
_MAX_SUBJECT: Final = 500
_MAX_BODY: Final = 65536


def priority_of(
    classification: Classification, reported_severity: str | None
) -> NotificationPriority:
    """Notification priority from the classification, else the severity; ``high`` by default."""
    if classification.priority in _PRIORITIES:
        return _PRIORITIES[classification.priority]
    for severity in (classification.severity, (reported_severity or "").lower()):
        if severity in _SEVERITIES:
            return _SEVERITIES[severity]
    return "high"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _spec(rr: JSON) -> JSON:
    return dict(rr.get("spec") or {})


def _target(rr: JSON) -> str:
    target = _spec(rr).get("targetResource") or {}
    kind = target.get("kind") or "resource"
    namespace = target.get("namespace")
    name = target.get("name") or "?"
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _signal(rr: JSON) -> str:
    return str(_spec(rr).get("signalName") or "signal")


def _rr_key(rr: JSON) -> str:
    metadata = rr.get("metadata") or {}
    return f"{metadata.get('namespace')}/{metadata.get('name')}"


@dataclass(frozen=True)
class Outcome:
    """How a request ended, for an escalation or completion notice."""

    phase: str
    reason: str
    message: str


def _context(rr: JSON, classification: Classification, **extra: str) -> dict[str, str]:
    metadata = rr.get("metadata") or {}
    context = {
        "remediation": str(metadata.get("name")),
        "namespace": str(metadata.get("namespace") or ""),
        "signal": _signal(rr),
        "target": _target(rr),
    }
    if classification.environment:
        context["environment"] = classification.environment
    context.update(extra)
    return context


def _notification(
    rr: JSON,
    role: ChildRole,
    *,
    type_: NotificationType,
    priority: NotificationPriority,
    subject: str,
    body: str,
    channels: Sequence[Channel],
    classification: Classification,
    context: dict[str, str],
) -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": "NotificationRequest",
        "metadata": child_metadata(rr, role, classification.environment),
        "spec": {
            "type": type_,
            "priority": priority,
            "subject": _clip(subject, _MAX_SUBJECT),
            "body": _clip(body, _MAX_BODY),
            "channels": [
                channel.model_dump(mode="json", by_alias=True, exclude_none=True)
                for channel in channels
            ],
            "metadata": context,
            "remediationRequestRef": remediation_reference(rr),
        },
    }


def _steps(workflow: JSON) -> list[str]:
    lines = []
    for step in workflow.get("steps") or []:
        after = step.get("dependsOn")
        suffix = f" (after {', '.join(str(n) for n in after)})" if after else ""
        lines.append(
            f"  {step.get('stepNumber')}. {step.get('name')}: {step.get('action')}{suffix}"
        )
    return lines


def approval_notification(
    rr: JSON,
    analysis: JSON,
    workflow: JSON,
    *,
    classification: Classification,
    channels: Sequence[Channel],
) -> JSON:
    """``<rr>-approval``: the workflow waiting for a decision, and how to give it."""
    metadata = rr.get("metadata") or {}
    status = dict(analysis.get("status") or {})
    name, namespace = metadata.get("name"), metadata.get("namespace")
    confidence = status.get("confidence")
    lines = [
        f"RemediationRequest {_rr_key(rr)} needs approval before it runs workflow "
        f"{workflow.get('name')} {workflow.get('version')} against {_target(rr)}.",
        "",
        f"Signal: {_signal(rr)} (severity {_spec(rr).get('severity')})",
    ]
    if classification.environment:
        lines.append(f"Environment: {classification.environment}")
    if isinstance(confidence, int | float):
        lines.append(f"Analysis confidence: {confidence:.2f}")
    for label, key in (("Why approval", "approvalReason"), ("Rationale", "rationale")):
        if status.get(key):
            lines.append(f"{label}: {status[key]}")
    lines += ["", "Steps:", *_steps(workflow), ""]
    lines += [
        "Approve:",
        f"  kubectl annotate remediationrequest {name} -n {namespace} "
        f"{ANNOTATION_APPROVAL}=approved",
        "Reject:",
        f"  kubectl annotate remediationrequest {name} -n {namespace} "
        f"{ANNOTATION_APPROVAL}=rejected",
    ]
    return _notification(
        rr,
        "approval",
        type_="Approval",
        priority=priority_of(classification, _spec(rr).get("severity")),
        subject=f"Approval required: {workflow.get('name')} for {_signal(rr)} on {_target(rr)}",
        body="\n".join(lines),
        channels=channels,
        classification=classification,
        context=_context(rr, classification, workflow=str(workflow.get("name"))),
    )


def escalation_notification(
    rr: JSON,
    outcome: Outcome,
    *,
    classification: Classification,
    channels: Sequence[Channel],
) -> JSON:
    """``<rr>-escalation``: the request Failed or TimedOut; a person has to take over."""
    lines = [
        f"RemediationRequest {_rr_key(rr)} ended {outcome.phase} ({outcome.reason}).",
        "",
        f"Signal: {_signal(rr)} (severity {_spec(rr).get('severity')})",
        f"Target: {_target(rr)}",
    ]
    if classification.environment:
        lines.append(f"Environment: {classification.environment}")
    lines += ["", f"Reason: {outcome.message}", "", "The incident needs manual attention."]
    if outcome.phase == "TimedOut":
        lines.append(
            "Children already started (e.g. a WorkflowExecution) keep running to their own end."
        )
    return _notification(
        rr,
        "escalation",
        type_="Escalation",
        priority=priority_of(classification, _spec(rr).get("severity")),
        subject=f"Remediation {outcome.phase}: {_signal(rr)} on {_target(rr)}",
        body="\n".join(lines),
        channels=channels,
        classification=classification,
        context=_context(rr, classification, phase=outcome.phase, reason=outcome.reason),
    )


def completion_notification(
    rr: JSON,
    outcome: Outcome,
    *,
    classification: Classification,
    channels: Sequence[Channel],
) -> JSON:
    """``<rr>-completion``: the workflow ran and the request Completed."""
    status = dict(rr.get("status") or {})
    lines = [
        f"RemediationRequest {_rr_key(rr)} completed: {outcome.message}",
        "",
        f"Signal: {_signal(rr)}",
        f"Target: {_target(rr)}",
    ]
    if status.get("stepsTotal") is not None:
        lines.append(
            f"Steps: {status.get('stepsCompleted', 0)} of {status['stepsTotal']} completed, "
            f"{status.get('stepsFailed', 0)} failed"
        )
    return _notification(
        rr,
        "completion",
        type_="Completion",
        priority="low",
        subject=f"Remediation completed: {_signal(rr)} on {_target(rr)}",
        body="\n".join(lines),
        channels=channels,
        classification=classification,
        context=_context(rr, classification, phase=outcome.phase, reason=outcome.reason),
    )
