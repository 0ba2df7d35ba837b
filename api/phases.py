"""Phases of every kind and the transitions allowed between them: the one table.

The reconciler moves phases only along these edges and the webhook rejects a
``/status`` update that does not follow one. Staying in the same phase is
always allowed (a retried KubernetesExecution stays Executing); terminal
phases have no way out. An object is created without a phase and its first
phase is ``Pending``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, get_args

from api.constants import KINDS, Kind, parse_kind

__all__ = [
    "INITIAL_PHASE",
    "PHASES",
    "TERMINAL_PHASES",
    "AIAnalysisPhase",
    "KubernetesExecutionPhase",
    "NotificationRequestPhase",
    "RemediationRequestPhase",
    "SignalProcessingPhase",
    "WorkflowExecutionPhase",
    "allowed_next",
    "initial_phase",
    "is_allowed_transition",
    "is_terminal",
]

RemediationRequestPhase = Literal[
    "Pending",
    "Processing",
    "Analyzing",
    "AwaitingApproval",
    "Executing",
    "Completed",
    "Failed",
    "TimedOut",
    "Skipped",
]
SignalProcessingPhase = Literal["Pending", "Enriching", "Classifying", "Completed", "Failed"]
AIAnalysisPhase = Literal["Pending", "Investigating", "Completed", "Failed"]
WorkflowExecutionPhase = Literal[
    "Pending",
    "Planning",
    "Validating",
    "AwaitingApproval",
    "Executing",
    "Monitoring",
    "RollingBack",
    "Completed",
    "Failed",
    "RolledBack",
]
KubernetesExecutionPhase = Literal[
    "Pending", "Validating", "Executing", "Verifying", "Completed", "Failed", "TimedOut"
]
NotificationRequestPhase = Literal[
    "Pending", "Sending", "Retrying", "Sent", "PartiallySent", "Failed"
]

INITIAL_PHASE: Final = "Pending"

PHASES: Final[Mapping[Kind, tuple[str, ...]]] = {
    "RemediationRequest": get_args(RemediationRequestPhase),
    "SignalProcessing": get_args(SignalProcessingPhase),
    "AIAnalysis": get_args(AIAnalysisPhase),
    "WorkflowExecution": get_args(WorkflowExecutionPhase),
    "KubernetesExecution": get_args(KubernetesExecutionPhase),
    "NotificationRequest": get_args(NotificationRequestPhase),
}
"""Every phase of each kind, in the order of the normal path."""

TERMINAL_PHASES: Final[Mapping[Kind, frozenset[str]]] = {
    "RemediationRequest": frozenset({"Completed", "Failed", "TimedOut", "Skipped"}),
    "SignalProcessing": frozenset({"Completed", "Failed"}),
    "AIAnalysis": frozenset({"Completed", "Failed"}),
    "WorkflowExecution": frozenset({"Completed", "Failed", "RolledBack"}),
    "KubernetesExecution": frozenset({"Completed", "Failed", "TimedOut"}),
    "NotificationRequest": frozenset({"Sent", "PartiallySent", "Failed"}),
}

# Forward edges of each kind; the failure exits of _ALWAYS are added to every
# non-terminal phase below.
_FORWARD: Final[Mapping[Kind, Mapping[str, frozenset[str]]]] = {
    "RemediationRequest": {
        "Pending": frozenset({"Processing", "Skipped"}),  # Skipped: duplicate of an active one
        "Processing": frozenset({"Analyzing"}),
        "Analyzing": frozenset({"AwaitingApproval", "Executing"}),
        "AwaitingApproval": frozenset({"Executing"}),
        "Executing": frozenset({"Completed"}),
    },
    "SignalProcessing": {
        "Pending": frozenset({"Enriching"}),
        "Enriching": frozenset({"Classifying"}),
        "Classifying": frozenset({"Completed"}),
    },
    "AIAnalysis": {
        "Pending": frozenset({"Investigating"}),
        "Investigating": frozenset({"Completed"}),
    },
    "WorkflowExecution": {
        "Pending": frozenset({"Planning"}),
        "Planning": frozenset({"Validating"}),
        "Validating": frozenset({"AwaitingApproval", "Executing"}),
        "AwaitingApproval": frozenset({"Executing"}),
        "Executing": frozenset({"Monitoring", "RollingBack"}),
        "Monitoring": frozenset({"Completed", "RollingBack"}),
        "RollingBack": frozenset({"RolledBack"}),
    },
    "KubernetesExecution": {
        "Pending": frozenset({"Validating"}),
        "Validating": frozenset({"Executing"}),
        "Executing": frozenset({"Verifying"}),
        "Verifying": frozenset({"Completed", "Executing"}),  # Executing: retry after a failed check
    },
    "NotificationRequest": {
        "Pending": frozenset({"Sending"}),
        "Sending": frozenset({"Retrying", "Sent", "PartiallySent"}),
        "Retrying": frozenset({"Sending"}),
    },
}

# Exits open from every non-terminal phase of a kind.
_ALWAYS: Final[Mapping[Kind, frozenset[str]]] = {
    "RemediationRequest": frozenset({"Failed", "TimedOut"}),
    "SignalProcessing": frozenset({"Failed"}),
    "AIAnalysis": frozenset({"Failed"}),
    "WorkflowExecution": frozenset({"Failed"}),
    "KubernetesExecution": frozenset({"Failed", "TimedOut"}),
    "NotificationRequest": frozenset({"Failed"}),
}


def _build_table() -> dict[Kind, dict[str, frozenset[str]]]:
    table: dict[Kind, dict[str, frozenset[str]]] = {}
    for kind in KINDS:
        terminal = TERMINAL_PHASES[kind]
        table[kind] = {
            phase: frozenset()
            if phase in terminal
            else _FORWARD[kind].get(phase, frozenset()) | _ALWAYS[kind]
            for phase in PHASES[kind]
        }
    return table


_TABLE: Final = _build_table()


def _phases_of(kind: str) -> dict[str, frozenset[str]]:
    return _TABLE[parse_kind(kind)]


def initial_phase(kind: str) -> str:
    """The phase a new object of ``kind`` enters first."""
    _phases_of(kind)
    return INITIAL_PHASE


def is_terminal(kind: str, phase: str) -> bool:
    """True when ``phase`` ends the life of an object of ``kind``."""
    return phase in TERMINAL_PHASES[parse_kind(kind)]


def allowed_next(kind: str, phase: str | None) -> frozenset[str]:
    """Phases an object of ``kind`` may move to from ``phase`` (None: not yet started).

    Staying in ``phase`` is always allowed and not listed. Unknown phases have
    no successors.
    """
    table = _phases_of(kind)
    if phase is None:
        return frozenset({INITIAL_PHASE})
    return table.get(phase, frozenset())


def is_allowed_transition(kind: str, old: str | None, new: str | None) -> bool:
    """Whether a status update may move an object of ``kind`` from ``old`` to ``new``.

    ``old`` None means the object has no phase yet: only ``Pending`` (or still
    no phase) is allowed. Unknown phase names are never allowed, and a phase
    cannot be removed once set.
    """
    table = _phases_of(kind)
    if new is None:
        return old is None
    if new not in table:
        return False
    if old == new:
        return True
    return new in allowed_next(kind, old)
