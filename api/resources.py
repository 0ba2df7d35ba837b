"""The registry of kubernaut kinds: names, model classes and printer columns, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from api.aianalysis import AIAnalysis
from api.base import WireModel
from api.constants import API_VERSION, GROUP, KINDS, VERSION, Kind, finalizer_for, parse_kind
from api.kubernetesexecution import KubernetesExecution
from api.notificationrequest import NotificationRequest
from api.remediationrequest import RemediationRequest
from api.signalprocessing import SignalProcessing
from api.workflowexecution import WorkflowExecution

__all__ = [
    "API_VERSION",
    "GROUP",
    "RESOURCES",
    "VERSION",
    "PrinterColumn",
    "Resource",
    "ResourceInfo",
    "finalizer_for",
    "info_for",
    "info_for_plural",
    "model_for",
]

Resource = (
    RemediationRequest
    | SignalProcessing
    | AIAnalysis
    | WorkflowExecution
    | KubernetesExecution
    | NotificationRequest
)
"""Any kubernaut object."""

ColumnType = Literal["string", "integer", "number", "boolean", "date"]


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry of the CRD."""

    name: str
    type: ColumnType
    json_path: str
    description: str
    priority: int = 0
    """0: shown by ``kubectl get``; 1: only with ``-o wide``."""


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    kind: Kind
    plural: str
    singular: str
    short_names: tuple[str, ...]
    model: type[WireModel]
    columns: tuple[PrinterColumn, ...]

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def crd_name(self) -> str:
        """``<plural>.kubernaut.ai``"""
        return f"{self.plural}.{GROUP}"

    @property
    def finalizer(self) -> str:
        return finalizer_for(self.kind)


def _phase() -> PrinterColumn:
    return PrinterColumn("Phase", "string", ".status.phase", "Current phase")


def _age() -> PrinterColumn:
    return PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation")


def _info(
    kind: Kind, plural: str, short: str, model: type[WireModel], *columns: PrinterColumn
) -> ResourceInfo:
    return ResourceInfo(
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        short_names=(short,),
        model=model,
        columns=(_phase(), *columns, _age()),
    )


RESOURCES: Final[Mapping[Kind, ResourceInfo]] = {
    info.kind: info
    for info in (
        _info(
            "RemediationRequest",
            "remediationrequests",
            "rr",
            RemediationRequest,
            PrinterColumn("Signal", "string", ".spec.signalName", "Alert or event name"),
            PrinterColumn("Severity", "string", ".spec.severity", "Severity as reported"),
            PrinterColumn("Target", "string", ".spec.targetResource.name", "Target resource"),
            PrinterColumn("Outcome", "string", ".status.outcome", "Final outcome", priority=1),
        ),
        _info(
            "SignalProcessing",
            "signalprocessings",
            "sp",
            SignalProcessing,
            PrinterColumn("Environment", "string", ".status.environment", "Classified environment"),
            PrinterColumn("Priority", "string", ".status.priority", "Classified priority"),
        ),
        _info(
            "AIAnalysis",
            "aianalyses",
            "aia",
            AIAnalysis,
            PrinterColumn("Workflow", "string", ".status.selectedWorkflow.name", "Chosen workflow"),
            PrinterColumn("Confidence", "number", ".status.confidence", "Confidence 0..1"),
            PrinterColumn(
                "Approval", "boolean", ".status.approvalRequired", "Whether approval is required"
            ),
        ),
        _info(
            "WorkflowExecution",
            "workflowexecutions",
            "wfe",
            WorkflowExecution,
            PrinterColumn(
                "Workflow", "string", ".spec.workflowDefinition.name", "Workflow being run"
            ),
            PrinterColumn("Step", "integer", ".status.currentStep", "Current step"),
            PrinterColumn("Total", "integer", ".status.totalSteps", "Number of steps"),
        ),
        _info(
            "KubernetesExecution",
            "kubernetesexecutions",
            "ke",
            KubernetesExecution,
            PrinterColumn("Action", "string", ".spec.action", "Action of the step"),
            PrinterColumn("Step", "integer", ".spec.stepNumber", "Step number in the workflow"),
            PrinterColumn("Attempts", "integer", ".status.attempts", "Jobs created"),
            PrinterColumn("Job", "string", ".status.jobName", "Current Job", priority=1),
        ),
        _info(
            "NotificationRequest",
            "notificationrequests",
            "notif",
            NotificationRequest,
            PrinterColumn("Type", "string", ".spec.type", "Notification type"),
            PrinterColumn("Priority", "string", ".spec.priority", "Notification priority"),
        ),
    )
}
assert tuple(RESOURCES) == KINDS

_BY_PLURAL: Final = {info.plural: info for info in RESOURCES.values()}


def info_for(kind: str) -> ResourceInfo:
    """Registry entry of a kind; ValueError for an unknown kind."""
    return RESOURCES[parse_kind(kind)]


def info_for_plural(plural: str) -> ResourceInfo:
    """Registry entry of a resource plural (``workflowexecutions``); ValueError if unknown."""
    try:
        return _BY_PLURAL[plural]
    except KeyError:
        raise ValueError(
            f"unknown resource {plural!r}: expected one of {', '.join(_BY_PLURAL)}"
        ) from None


def model_for(kind: str) -> type[WireModel]:
    """The pydantic model class of a kind."""
    return info_for(kind).model
