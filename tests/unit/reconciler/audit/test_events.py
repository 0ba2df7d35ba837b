from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.audit.events import (
    MAX_MESSAGE_CHARS,
    InvalidObjectError,
    clean_json,
    clean_text,
    events_from_object,
    expected_event_keys,
    notable_event,
    parse_timestamp,
    transition_event,
)


def _rr() -> dict[str, Any]:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationRequest",
        "metadata": {"uid": "uid-rr", "namespace": "shop", "name": "rr-1"},
        "spec": {"signalFingerprint": "f" * 64},
        "status": {
            "phase": "Processing",
            "transitions": [
                {"phase": "Pending", "at": "2026-11-29T07:20:03Z", "reason": "Created"},
                {
                    "phase": "Processing",
                    "at": "2026-11-29T07:20:05Z",
                    "reason": "SignalProcessingCreated",
                    "message": "sp created",
                },
            ],
        },
    }


def _child() -> dict[str, Any]:
    return {
        "kind": "WorkflowExecution",
        "metadata": {
            "uid": "uid-wfe",
            "namespace": "shop",
            "name": "rr-1-workflow",
            "labels": {"kubernaut.ai/remediation": "rr-1"},
        },
        "status": {"transitions": [{"phase": "Pending", "at": "2026-11-29T07:21:00Z"}]},
    }


def test_transition_event_carries_identity_phases_and_time() -> None:
    event = transition_event(_rr(), 1)
    assert event.object_uid == "uid-rr"
    assert event.event_key == "transition/1"
    assert event.transition_index == 1
    assert (event.phase_from, event.phase_to) == ("Pending", "Processing")
    assert event.remediation == "rr-1"
    assert event.signal_fingerprint == "f" * 64
    assert event.reason == "SignalProcessingCreated"
    assert event.message == "sp created"
    assert event.occurred_at == datetime(2026, 11, 29, 7, 20, 5, tzinfo=UTC)
    assert event.payload["transition"]["phase"] == "Processing"


def test_first_transition_has_no_previous_phase() -> None:
    event = transition_event(_rr(), 0)
    assert event.phase_from is None
    assert event.message == ""


def test_child_is_correlated_by_remediation_label() -> None:
    event = transition_event(_child(), 0)
    assert event.remediation == "rr-1"
    assert event.signal_fingerprint is None
    assert event.kind == "WorkflowExecution"


def test_events_from_object_derives_every_transition_in_order() -> None:
    derived = events_from_object(_rr())
    assert [event.event_key for event in derived] == ["transition/0", "transition/1"]
    assert expected_event_keys(_rr()) == {"transition/0", "transition/1"}


def test_derivation_is_deterministic() -> None:
    assert events_from_object(_rr()) == events_from_object(copy.deepcopy(_rr()))


def test_object_without_transitions_has_no_events() -> None:
    obj = _rr()
    del obj["status"]
    assert events_from_object(obj) == []
    assert expected_event_keys(obj) == frozenset()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda obj: obj["metadata"].pop("uid"), "metadata.uid"),
        (lambda obj: obj.pop("kind"), "no kind"),
        (lambda obj: obj["status"]["transitions"][1].update(at="yesterday"), "RFC 3339"),
        (lambda obj: obj["status"]["transitions"][1].update(at="2026-11-29T07:20:05"), "zone"),
        (lambda obj: obj["status"]["transitions"][1].pop("phase"), "no phase"),
    ],
)
def test_invalid_objects_are_rejected_clearly(mutate: Any, message: str) -> None:
    obj = _rr()
    mutate(obj)
    with pytest.raises(InvalidObjectError, match=message):
        transition_event(obj, 1)


def test_index_out_of_range_is_rejected() -> None:
    with pytest.raises(InvalidObjectError, match="no transition with index 5"):
        transition_event(_rr(), 5)


def test_a_capped_history_keys_events_by_their_absolute_index() -> None:
    rr = _rr()
    # The oldest entries fell off the front: positions 0 and 1 hold indexes 70 and 71.
    rr["status"]["transitions"][0]["index"] = 70
    rr["status"]["transitions"][1]["index"] = 71
    assert expected_event_keys(rr) == {"transition/70", "transition/71"}
    event = transition_event(rr, 71)
    assert event.event_key == "transition/71"
    assert event.transition_index == 71
    assert event.phase_from == "Pending"
    assert event.phase_to == "Processing"
    assert [e.transition_index for e in events_from_object(rr)] == [70, 71]
    with pytest.raises(InvalidObjectError, match="holds 70, 71"):
        transition_event(rr, 1)


def test_oversized_message_is_truncated_with_marker() -> None:
    obj = _rr()
    obj["status"]["transitions"][1]["message"] = "x" * (MAX_MESSAGE_CHARS + 10)
    event = transition_event(obj, 1)
    assert event.message.startswith("x" * MAX_MESSAGE_CHARS)
    assert event.message.endswith("…[truncated 10 chars]")
    assert event.payload["transition"]["message"] == event.message


def test_nul_and_lone_surrogates_become_replacement_characters() -> None:
    assert clean_text("a\x00b\ud800c") == "a\ufffdb\ufffdc"
    assert clean_text(b"ok\xff") == "ok\ufffd"
    assert clean_json({"k\x00": ["v\x00", 1, None, True, 2.5]}) == {
        "k\ufffd": ["v\ufffd", 1, None, True, 2.5]
    }


def test_non_finite_numbers_become_strings_json_can_hold() -> None:
    assert clean_json({"score": float("nan"), "big": float("inf")}) == {
        "score": "nan",
        "big": "inf",
    }


def test_sql_significant_characters_are_kept_verbatim() -> None:
    text = "'; DROP TABLE audit_events; -- \\ % $1"
    assert clean_text(text) == text


def test_parse_timestamp_accepts_offsets_and_normalises_to_utc() -> None:
    assert parse_timestamp("2026-11-29T09:20:03+02:00") == datetime(
        2026, 11, 29, 7, 20, 3, tzinfo=UTC
    )


def test_notable_event_has_a_deterministic_key() -> None:
    at = datetime(2026, 11, 29, 7, 22, tzinfo=UTC)
    first = notable_event(
        _child(), note_type="job-created", discriminator="step-1-0", occurred_at=at, reason="Job"
    )
    again = notable_event(
        _child(), note_type="job-created", discriminator="step-1-0", occurred_at=at, reason="Job"
    )
    assert first == again
    assert first.event_key == "note/job-created/step-1-0"
    assert first.transition_index is None
    assert first.phase_from is None  # the child's status has no phase yet


def test_notable_event_rejects_a_bad_type_or_naive_time() -> None:
    with pytest.raises(InvalidObjectError, match="note type"):
        notable_event(
            _child(),
            note_type="Job Created",
            discriminator="x",
            occurred_at=datetime.now(UTC),
            reason="r",
        )
    with pytest.raises(InvalidObjectError, match="time-zone"):
        notable_event(
            _child(),
            note_type="job-created",
            discriminator="x",
            occurred_at=datetime(2026, 1, 1),
            reason="r",
        )
