"""Phase moves: the table is enforced, history is appended with stable indexes, Events follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.meta import MAX_TRANSITIONS
from reconciler.effects import PatchStatus, RecordEvent
from reconciler.transitions import IllegalTransitionError, move_to, next_transition_index, terminal

NOW = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)


def _obj(kind: str = "KubernetesExecution", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": kind,
        "metadata": {"name": "ke", "namespace": "shop", "uid": "u", "generation": 3},
        "status": status,
    }


def test_first_move_from_no_phase_to_pending() -> None:
    patch, event = move_to(_obj(), "Pending", reason="Created", now=NOW)
    assert isinstance(patch, PatchStatus)
    assert patch.changes == {
        "phase": "Pending",
        "phaseStartTime": "2026-11-29T08:00:00Z",
        "transitions": [
            {"phase": "Pending", "at": "2026-11-29T08:00:00Z", "reason": "Created", "index": 0}
        ],
        "observedGeneration": 3,
    }
    assert patch.phase_change is not None
    assert patch.phase_change.from_phase is None
    assert patch.phase_change.seconds_in_previous_phase is None
    assert event == RecordEvent("Normal", "Created", "new -> Pending: Created")


def test_move_merges_extra_status_and_measures_time_in_the_previous_phase() -> None:
    obj = _obj(
        phase="Executing",
        phaseStartTime="2026-11-29T07:59:30Z",
        transitions=[
            {"phase": "Executing", "at": "2026-11-29T07:59:30Z", "reason": "x", "index": 4}
        ],
    )
    patch, event = move_to(
        obj, "Failed", reason="JobFailed", message="exit 1", now=NOW, status={"attempts": 2}
    )
    assert isinstance(patch, PatchStatus)
    assert patch.changes["attempts"] == 2
    assert patch.changes["transitions"][-1] == {
        "phase": "Failed",
        "at": "2026-11-29T08:00:00Z",
        "reason": "JobFailed",
        "message": "exit 1",
        "index": 5,
    }
    assert patch.phase_change is not None
    assert patch.phase_change.seconds_in_previous_phase == 30.0
    assert event == RecordEvent("Warning", "JobFailed", "Executing -> Failed: exit 1")


@pytest.mark.parametrize(
    ("kind", "old", "new"),
    [
        ("KubernetesExecution", "Completed", "Executing"),
        ("WorkflowExecution", "Pending", "Completed"),
        ("RemediationRequest", "Failed", "Processing"),
    ],
)
def test_illegal_moves_are_refused(kind: str, old: str, new: str) -> None:
    with pytest.raises(IllegalTransitionError, match=f"from {old} to {new}"):
        move_to(_obj(kind, phase=old), new, reason="x", now=NOW)


def test_staying_in_a_phase_is_not_a_move() -> None:
    with pytest.raises(IllegalTransitionError, match="already"):
        move_to(_obj(phase="Executing"), "Executing", reason="x", now=NOW)


def test_history_is_capped_but_indexes_keep_counting() -> None:
    history = [
        {"phase": "Executing", "at": "2026-11-29T07:00:00Z", "reason": "r", "index": i}
        for i in range(100, 100 + MAX_TRANSITIONS)
    ]
    obj = _obj(phase="Executing", transitions=history)
    assert next_transition_index(obj) == 100 + MAX_TRANSITIONS
    patch, _ = move_to(obj, "Verifying", reason="JobSucceeded", now=NOW + timedelta(seconds=1))
    assert isinstance(patch, PatchStatus)
    transitions = patch.changes["transitions"]
    assert len(transitions) == MAX_TRANSITIONS
    assert transitions[0]["index"] == 101
    assert transitions[-1]["index"] == 100 + MAX_TRANSITIONS


def test_terminal() -> None:
    assert terminal(_obj(phase="Completed"))
    assert not terminal(_obj(phase="Executing"))
    assert not terminal(_obj())
