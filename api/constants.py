"""Group, version, kind names, finalizers, annotation and label keys of the wire contract."""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "ANNOTATION_APPROVAL",
    "ANNOTATION_APPROVED_AT",
    "ANNOTATION_APPROVED_BY",
    "ANNOTATION_CREATED_BY",
    "API_VERSION",
    "APPROVAL_APPROVED",
    "APPROVAL_REJECTED",
    "CATEGORY",
    "GROUP",
    "KINDS",
    "LABEL_ENVIRONMENT",
    "LABEL_REMEDIATION",
    "VERSION",
    "Kind",
    "finalizer_for",
    "parse_kind",
]

GROUP: Final = "kubernaut.ai"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
CATEGORY: Final = "kubernaut"
"""``kubectl get kubernaut`` lists every kind."""

Kind = Literal[
    "RemediationRequest",
    "SignalProcessing",
    "AIAnalysis",
    "WorkflowExecution",
    "KubernetesExecution",
    "NotificationRequest",
]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)

ANNOTATION_APPROVAL: Final = "kubernaut.ai/approval"
"""Set by a person on a RemediationRequest or WorkflowExecution: ``approved`` or ``rejected``."""
APPROVAL_APPROVED: Final = "approved"
APPROVAL_REJECTED: Final = "rejected"
ANNOTATION_APPROVED_BY: Final = "kubernaut.ai/approved-by"
"""Stamped by the mutating webhook from ``request.userInfo.username``; never set by a user."""
ANNOTATION_APPROVED_AT: Final = "kubernaut.ai/approved-at"
"""Stamped by the mutating webhook (RFC 3339 UTC)."""
ANNOTATION_CREATED_BY: Final = "kubernaut.ai/created-by"
"""Stamped by the mutating webhook on CREATE from ``request.userInfo.username``."""
LABEL_ENVIRONMENT: Final = "kubernaut.ai/environment"
"""Environment of a kubernaut object or a Namespace (production, staging, ...)."""
LABEL_REMEDIATION: Final = "kubernaut.ai/remediation"
"""On every child of a RemediationRequest: the RemediationRequest's name."""


def parse_kind(kind: str) -> Kind:
    """Return ``kind`` as a :data:`Kind`; ValueError naming the known kinds otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    return kind


def finalizer_for(kind: str) -> str:
    """The finalizer of a kind: ``<kind-lowercase>.kubernaut.ai/cleanup``."""
    return f"{parse_kind(kind).lower()}.{GROUP}/cleanup"
