"""The signal and its enrichment, as handed from one child of a remediation to the next."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from api.base import WireModel
from api.meta import TargetResource
from api.remediationrequest import Fingerprint

__all__ = ["Enrichment", "OwnerChainEntry", "Priority", "Severity", "SignalContext"]

Severity = Literal["critical", "high", "medium", "low"]
"""Normalised severity (policies/data/classification.json maps source severities onto it)."""
Priority = Literal["P0", "P1", "P2", "P3"]


class SignalContext(WireModel):
    """The signal, copied from the RemediationRequest's spec."""

    fingerprint: Fingerprint
    name: Annotated[str, Field(min_length=1, max_length=253)]
    severity: Annotated[str, Field(min_length=1, max_length=63)]
    """Severity as the source reported it."""
    type: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    source: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    target_resource: TargetResource
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class OwnerChainEntry(WireModel):
    """One owner of the target, nearest first (Pod -> ReplicaSet -> Deployment)."""

    api_version: str | None = None
    kind: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]
    namespace: str | None = None


class Enrichment(WireModel):
    """What SignalProcessing learnt about the signal from the cluster and classification."""

    target_found: bool | None = None
    """Whether the target resource exists."""
    owner_chain: list[OwnerChainEntry] | None = None
    target_labels: dict[str, str] | None = None
    """Labels of the target resource (the classification policy's ``targetLabels``)."""
    namespace_labels: dict[str, str] | None = None
    """Labels of the target's namespace."""
    environment: str | None = None
    """production, staging, development, ... (classification)."""
    severity: Severity | None = None
    """Normalised severity."""
    priority: Priority | None = None
    classification_reasons: list[str] | None = None
    """Why environment, severity and priority were chosen."""
