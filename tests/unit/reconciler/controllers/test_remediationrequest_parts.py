"""RemediationRequest helpers: duplicates and occurrences, deadlines, child names and ownership."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.remediationrequest import RemediationTimeouts
from reconciler.controllers.naming import MAX_NAME
from reconciler.controllers.remediationrequest import (
    RemediationObservation,
    RemediationRequestController,
)
from reconciler.controllers.rr_children import name_of, ownership
from reconciler.controllers.rr_duplicates import occurrences, original_of, same_signal
from reconciler.controllers.rr_timeouts import deadlines
from reconciler.effects import CreateChild, PatchStatus, RecordEvent

JSON = dict[str, Any]
NOW = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
FINGERPRINT = "cd" * 32
CONTROLLER = RemediationRequestController()


def request(
    name: str,
    phase: str | None = None,
    *,
    created: str = "2026-11-29T07:59:00Z",
    fingerprint: str = FINGERPRINT,
    target: str = "web",
    namespace: str = "shop",
    duplicate_of: JSON | None = None,
    deleting: bool = False,
    occurrences: int | None = None,
) -> JSON:
    metadata: JSON = {
        "name": name,
        "namespace": namespace,
        "uid": f"{name}-uid",
        "creationTimestamp": created,
        "finalizers": ["remediationrequest.kubernaut.ai/cleanup"],
    }
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-29T07:59:30Z"
    obj: JSON = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationRequest",
        "metadata": metadata,
        "spec": {
            "signalFingerprint": fingerprint,
            "signalName": "HighLatency",
            "severity": "high",
            "signalType": "prometheus",
            "signalSource": "alertmanager",
            "targetResource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": target,
            },
        },
    }
    if phase is not None:
        status: JSON = {"phase": phase, "phaseStartTime": "2026-11-29T07:59:50Z"}
        if duplicate_of is not None:
            status["duplicateOf"] = duplicate_of
        if occurrences is not None:
            status["occurrences"] = occurrences
        obj["status"] = status
    return obj


def decide(obj: JSON, peers: Sequence[JSON]) -> list[Any]:
    return list(CONTROLLER.decide(obj, RemediationObservation(peers=tuple(peers)), NOW))


def phases(effects: Sequence[Any]) -> list[str]:
    return [
        e.phase_change.to_phase for e in effects if isinstance(e, PatchStatus) and e.phase_change
    ]


# ---------------------------------------------------------------- duplicates


def test_same_signal_needs_fingerprint_target_and_namespace() -> None:
    a = request("a")
    assert same_signal(a, request("b"))
    assert not same_signal(a, request("b", fingerprint="ef" * 32))
    assert not same_signal(a, request("b", target="api"))
    assert not same_signal(a, request("b", namespace="other"))


def test_a_duplicate_of_an_active_request_is_skipped() -> None:
    original = request("first", "Executing", created="2026-11-29T07:00:00Z")
    duplicate = request("second", "Pending")
    effects = decide(duplicate, [original, duplicate])
    assert phases(effects) == ["Skipped"]
    change = next(e for e in effects if isinstance(e, PatchStatus) and e.phase_change)
    assert change.changes["duplicateOf"] == {"name": "first", "uid": "first-uid"}
    assert change.changes["outcome"] == "Skipped"
    assert "duplicate of the active RemediationRequest first" in change.changes["message"]
    assert not [e for e in effects if isinstance(e, CreateChild)]


@pytest.mark.parametrize(
    "peer",
    [
        pytest.param(request("first", "Completed", created="2026-11-29T07:00:00Z"), id="finished"),
        pytest.param(request("first", "Skipped", created="2026-11-29T07:00:00Z"), id="skipped"),
        pytest.param(
            request("first", "Executing", created="2026-11-29T07:00:00Z", deleting=True),
            id="being-deleted",
        ),
        pytest.param(request("first", "Executing", target="api"), id="other-target"),
        pytest.param(request("first", "Executing", fingerprint="ef" * 32), id="other-signal"),
    ],
)
def test_no_duplicate_without_an_active_request_for_the_same_signal(peer: JSON) -> None:
    assert phases(decide(request("second", "Pending"), [peer])) == ["Processing"]


def test_two_requests_created_at_once_resolve_the_same_way_in_any_order() -> None:
    a = request("alpha", "Pending", created="2026-11-29T07:59:00Z")
    b = request("beta", "Pending", created="2026-11-29T07:59:00Z")
    for first, second in itertools.permutations([a, b]):
        assert original_of(first, [first, second]) in (None, a)
        assert original_of(second, [first, second]) in (None, a)
    assert phases(decide(a, [a, b])) == ["Processing"]
    assert phases(decide(b, [a, b])) == ["Skipped"]
    # Not even a phase yet: the same verdict.
    fresh_b = request("beta", created="2026-11-29T07:59:00Z")
    assert phases(decide(fresh_b, [a, fresh_b])) == ["Pending", "Skipped"]


def test_the_oldest_pending_request_is_the_original() -> None:
    old = request("zulu", "Pending", created="2026-11-29T07:58:00Z")
    new = request("alpha", "Pending", created="2026-11-29T07:59:00Z")
    assert original_of(new, [old, new]) is old
    assert original_of(old, [old, new]) is None


def test_a_request_already_started_stays_the_original() -> None:
    # "alpha" sorts first but reached the cache after "beta" had started.
    started = request("beta", "Processing", created="2026-11-29T07:59:00Z")
    late = request("alpha", "Pending", created="2026-11-29T07:59:00Z")
    assert original_of(late, [started, late]) is started
    assert phases(decide(late, [started, late])) == ["Skipped"]


def test_occurrences_count_the_skipped_duplicates_pointing_at_the_original() -> None:
    original = request("first", "Processing")
    peers = [
        original,
        request("d1", "Skipped", duplicate_of={"name": "first", "uid": "first-uid"}),
        request("d2", "Skipped", duplicate_of={"name": "first"}),
        request("d3", "Skipped", duplicate_of={"name": "first", "uid": "older-first-uid"}),
        request("d4", "Skipped", duplicate_of={"name": "other"}),
        request("d5", "Pending"),
    ]
    assert occurrences(original, peers) == 3


def test_the_original_records_its_occurrences_when_they_change() -> None:
    original = request("first", "Processing", occurrences=1)
    duplicate = request("d1", "Skipped", duplicate_of={"name": "first", "uid": "first-uid"})
    effects = decide(original, [original, duplicate])
    assert PatchStatus({"occurrences": 2}) in effects
    assert [e.reason for e in effects if isinstance(e, RecordEvent)] == ["DuplicateSignal"]
    settled = request("first", "Processing", occurrences=2)
    assert not [e for e in decide(settled, [settled, duplicate]) if isinstance(e, PatchStatus)]


def test_related_keys_point_a_skipped_duplicate_at_its_original() -> None:
    duplicate = request("d1", "Skipped", duplicate_of={"name": "first", "uid": "first-uid"})
    assert CONTROLLER.related_keys(duplicate) == [("shop", "first")]
    assert CONTROLLER.related_keys(request("first", "Processing")) == []


# ----------------------------------------------------------------- deadlines


def test_deadlines_use_creation_and_phase_start() -> None:
    obj = request("a", "Analyzing", created="2026-11-29T07:30:00Z")
    found = deadlines(obj, RemediationTimeouts())
    assert found.overall is not None
    assert found.phase is not None
    assert found.overall.at == datetime(2026, 11, 29, 8, 30, tzinfo=UTC)
    assert found.phase.at == datetime(2026, 11, 29, 8, 9, 50, tzinfo=UTC)
    assert found.seconds_to_next(NOW) == 590.0
    assert found.passed_overall(NOW) is None
    assert found.passed_phase(NOW + timedelta(minutes=10)) is found.phase


def test_pending_has_only_the_global_deadline() -> None:
    found = deadlines(request("a", "Pending"), RemediationTimeouts())
    assert found.phase is None
    assert found.seconds_to_next(NOW) == 3540.0
    assert found.seconds_to_next(NOW + timedelta(hours=2)) is None


# ----------------------------------------------------------- names, owners


def test_child_names_are_deterministic_and_fit() -> None:
    assert name_of("crash", "signal") == "crash-signal"
    long = "r" * 250
    name = name_of(long, "escalation")
    assert len(name) <= MAX_NAME
    assert name.endswith("-escalation")
    assert name == name_of(long, "escalation")
    assert name != name_of("r" * 249 + "s", "escalation")


def _owned(kind: str, name: str, uid: str) -> JSON:
    return {
        "metadata": {
            "ownerReferences": [
                {
                    "apiVersion": "kubernaut.ai/v1alpha1",
                    "kind": kind,
                    "name": name,
                    "uid": uid,
                    "controller": True,
                }
            ]
        }
    }


def test_ownership_of_a_child_found_under_our_name() -> None:
    rr = request("crash")
    assert ownership(_owned("RemediationRequest", "crash", "crash-uid"), rr) == "ours"
    assert ownership(_owned("RemediationRequest", "crash", "earlier-uid"), rr) == "stale"
    assert ownership(_owned("RemediationRequest", "other", "x"), rr) == "foreign"
    assert ownership(_owned("WorkflowExecution", "crash", "x"), rr) == "foreign"
    assert ownership({"metadata": {}}, rr) == "foreign"
