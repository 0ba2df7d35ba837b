from datetime import UTC, datetime, timedelta

import pytest

from api.constants import KINDS, finalizer_for
from api.meta import (
    MAX_TRANSITIONS,
    Condition,
    Transition,
    append_transition,
    next_transition_index,
    set_condition,
)

T0 = datetime(2026, 11, 29, 7, 20, 3, tzinfo=UTC)


def transition(i: int) -> Transition:
    return Transition(phase="Executing", at=T0 + timedelta(seconds=i), reason=f"r{i}")


def test_append_transition_keeps_the_newest_fifty() -> None:
    history: list[Transition] = []
    for i in range(MAX_TRANSITIONS + 7):
        history = append_transition(history, transition(i))
        assert len(history) == min(i + 1, MAX_TRANSITIONS)
    assert len(history) == MAX_TRANSITIONS
    assert history[0].reason == "r7"
    assert history[-1].reason == f"r{MAX_TRANSITIONS + 6}"
    # Indexes are absolute: they survive the cap, so audit keys stay stable.
    assert [t.index for t in history] == list(range(7, MAX_TRANSITIONS + 7))
    assert next_transition_index(history) == MAX_TRANSITIONS + 7


def test_append_transition_does_not_mutate_and_accepts_none() -> None:
    original = [transition(0)]
    result = append_transition(original, transition(1))
    assert len(original) == 1
    assert original[0].index is None
    assert [t.reason for t in result] == ["r0", "r1"]
    assert [t.index for t in result] == [None, 1]
    assert append_transition(None, transition(2)) == [transition(2).model_copy(update={"index": 0})]
    explicit = transition(3).model_copy(update={"index": 40})
    assert append_transition(result, explicit)[-1].index == 40
    assert next_transition_index(None) == 0


def condition(status: str, at: datetime, reason: str = "R") -> Condition:
    return Condition.model_validate(
        {"type": "Ready", "status": status, "reason": reason, "lastTransitionTime": at}
    )


def test_set_condition_keeps_transition_time_when_status_unchanged() -> None:
    first = condition("False", T0)
    later = T0 + timedelta(minutes=5)
    same = set_condition([first], condition("False", later, reason="StillWaiting"))
    assert same[0].last_transition_time == T0
    assert same[0].reason == "StillWaiting"
    changed = set_condition(same, condition("True", later))
    assert changed[0].last_transition_time == later
    other = Condition(type="Degraded", status="Unknown", reason="X", last_transition_time=T0)
    assert [c.type for c in set_condition(changed, other)] == ["Ready", "Degraded"]
    assert set_condition(None, first) == [first]


def test_condition_reason_follows_kubernetes_rules() -> None:
    with pytest.raises(ValueError, match="pattern"):
        condition("True", T0, reason="not a reason")


@pytest.mark.parametrize("kind", KINDS)
def test_finalizer_names(kind: str) -> None:
    assert finalizer_for(kind) == f"{kind.lower()}.kubernaut.ai/cleanup"


def test_finalizer_for_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown kind 'Deployment'"):
        finalizer_for("Deployment")
