from itertools import pairwise

import pytest

from api.constants import KINDS, Kind
from api.phases import (
    PHASES,
    TERMINAL_PHASES,
    allowed_next,
    initial_phase,
    is_allowed_transition,
    is_terminal,
)

# The normal path of each kind, and its variants, from creation (None) on.
NORMAL_PATHS = [
    ("RemediationRequest", [None, "Pending", "Processing", "Analyzing", "Executing", "Completed"]),
    (
        "RemediationRequest",
        ["Pending", "Processing", "Analyzing", "AwaitingApproval", "Executing", "Completed"],
    ),
    ("RemediationRequest", ["Pending", "Skipped"]),
    ("RemediationRequest", ["Pending", "Processing", "Analyzing", "AwaitingApproval", "Failed"]),
    ("RemediationRequest", ["Pending", "Processing", "TimedOut"]),
    ("SignalProcessing", [None, "Pending", "Enriching", "Classifying", "Completed"]),
    ("SignalProcessing", ["Pending", "Enriching", "Failed"]),
    ("AIAnalysis", [None, "Pending", "Investigating", "Completed"]),
    ("AIAnalysis", ["Pending", "Investigating", "Failed"]),
    (
        "WorkflowExecution",
        [None, "Pending", "Planning", "Validating", "Executing", "Monitoring", "Completed"],
    ),
    (
        "WorkflowExecution",
        ["Pending", "Planning", "Validating", "AwaitingApproval", "Executing", "Monitoring"],
    ),
    ("WorkflowExecution", ["Executing", "RollingBack", "RolledBack"]),
    ("WorkflowExecution", ["Monitoring", "RollingBack", "Failed"]),
    ("WorkflowExecution", ["Planning", "Failed"]),
    (
        "KubernetesExecution",
        [None, "Pending", "Validating", "Executing", "Executing", "Verifying", "Completed"],
    ),
    ("KubernetesExecution", ["Verifying", "Executing", "Verifying", "Completed"]),
    ("KubernetesExecution", ["Executing", "TimedOut"]),
    ("KubernetesExecution", ["Validating", "Failed"]),
    (
        "NotificationRequest",
        [None, "Pending", "Sending", "Retrying", "Sending", "Retrying", "Sending", "Sent"],
    ),
    ("NotificationRequest", ["Pending", "Sending", "PartiallySent"]),
    ("NotificationRequest", ["Sending", "Retrying", "Failed"]),
]


@pytest.mark.parametrize(("kind", "path"), NORMAL_PATHS)
def test_normal_paths_are_allowed(kind: Kind, path: list[str | None]) -> None:
    for old, new in pairwise(path):
        assert is_allowed_transition(kind, old, new), f"{kind}: {old} -> {new}"


REJECTED = [
    ("RemediationRequest", "Completed", "Executing"),
    ("RemediationRequest", "Pending", "Executing"),
    ("RemediationRequest", "Processing", "Skipped"),
    ("RemediationRequest", "Failed", "Pending"),
    ("RemediationRequest", None, "Processing"),
    ("RemediationRequest", "Pending", None),
    ("RemediationRequest", "Pending", "Sent"),
    ("SignalProcessing", "Completed", "Enriching"),
    ("SignalProcessing", "Pending", "Classifying"),
    ("AIAnalysis", "Completed", "Investigating"),
    ("AIAnalysis", "Pending", "Completed"),
    ("WorkflowExecution", "Completed", "Executing"),
    ("WorkflowExecution", "RolledBack", "Executing"),
    ("WorkflowExecution", "Planning", "Executing"),
    ("WorkflowExecution", "Executing", "Completed"),
    ("WorkflowExecution", "Executing", "TimedOut"),
    ("KubernetesExecution", "Completed", "Executing"),
    ("KubernetesExecution", "Pending", "Executing"),
    ("NotificationRequest", "Sent", "Sending"),
    ("NotificationRequest", "Pending", "Sent"),
]


@pytest.mark.parametrize(("kind", "old", "new"), REJECTED)
def test_illegal_transitions_are_rejected(kind: Kind, old: str | None, new: str | None) -> None:
    assert not is_allowed_transition(kind, old, new)


@pytest.mark.parametrize("kind", KINDS)
def test_terminal_phases_have_no_way_out(kind: Kind) -> None:
    for terminal in TERMINAL_PHASES[kind]:
        assert is_terminal(kind, terminal)
        assert allowed_next(kind, terminal) == frozenset()
        for other in PHASES[kind]:
            assert is_allowed_transition(kind, terminal, other) == (other == terminal)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_starts_pending_and_can_always_fail(kind: Kind) -> None:
    assert initial_phase(kind) == "Pending"
    assert allowed_next(kind, None) == {"Pending"}
    assert is_allowed_transition(kind, None, None)
    assert TERMINAL_PHASES[kind] <= set(PHASES[kind])
    for phase in PHASES[kind]:
        assert is_allowed_transition(kind, phase, phase)
        if not is_terminal(kind, phase):
            assert "Failed" in allowed_next(kind, phase)


@pytest.mark.parametrize("kind", KINDS)
def test_every_phase_is_reachable_from_pending(kind: Kind) -> None:
    reached = {"Pending"}
    frontier = ["Pending"]
    while frontier:
        for successor in allowed_next(kind, frontier.pop()):
            if successor not in reached:
                reached.add(successor)
                frontier.append(successor)
    assert reached == set(PHASES[kind])


def test_unknown_phases_and_kinds() -> None:
    assert not is_allowed_transition("RemediationRequest", "Pending", "Bogus")
    assert allowed_next("RemediationRequest", "Bogus") == frozenset()
    with pytest.raises(ValueError, match="unknown kind 'Pod'"):
        is_allowed_transition("Pod", None, "Pending")
    with pytest.raises(ValueError, match="unknown kind"):
        is_terminal("Pod", "Completed")
