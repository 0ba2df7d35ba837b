"""SignalProcessing: the pure decide over every phase, timeout and failure, and observe's reads."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.controller import ClusterView
from reconciler.controllers.finalizer import AUDIT_RECHECK_SECONDS
from reconciler.controllers.signalprocessing import (
    PHASE_TIMEOUT,
    RETRY_SECONDS,
    SignalProcessingController,
    SignalProcessingObserved,
)
from reconciler.controllers.sp_targets import TargetSnapshot, read_target, resource_for
from reconciler.effects import (
    AddFinalizer,
    Effect,
    PatchStatus,
    RecordEvent,
    RemoveFinalizer,
    RequeueAfter,
)
from reconciler.kube import ApiError, KubeClient, Resource
from webhook.policy import Classification, EmbeddedPolicyEngine, PolicyEngine

JSON = dict[str, Any]
NOW = datetime(2026, 11, 29, 7, 20, 0, tzinfo=UTC)
FINALIZER = "signalprocessing.kubernaut.ai/cleanup"
POLICIES = Path(__file__).resolve().parents[4] / "policies"
CLASSIFIED = Classification(environment="production", severity="high", priority="P1")
FOUND = TargetSnapshot(
    found=True,
    labels={"app": "web"},
    namespace_labels={"kubernaut.ai/environment": "production"},
    owner_chain=(
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop"},
    ),
)


def _sp(phase: str | None = None, *, started: datetime = NOW, **status: Any) -> JSON:
    obj: JSON = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "SignalProcessing",
        "metadata": {
            "name": "rr-web-processing",
            "namespace": "shop",
            "uid": "sp-uid",
            "generation": 1,
            "resourceVersion": "7",
            "finalizers": [FINALIZER],
        },
        "spec": {
            "remediationRequestRef": {"name": "rr-web"},
            "signal": {
                "fingerprint": "a" * 64,
                "name": "KubePodCrashLooping",
                "severity": "sev2",
                "targetResource": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "namespace": "shop",
                    "name": "web-5d9c7b8f6-x2x9q",
                },
            },
        },
    }
    if phase is not None:
        stamp = started.strftime("%Y-%m-%dT%H:%M:%SZ")
        obj["status"] = {
            "phase": phase,
            "phaseStartTime": stamp,
            "transitions": [{"phase": phase, "at": stamp, "reason": "Test", "index": 0}],
            **status,
        }
    return obj


class _Engine(PolicyEngine):
    """A policy engine that must never be reached (decide tests) or answers fixed values."""

    def __init__(self, value: Any = None) -> None:
        self.value = value
        self.inputs: list[Any] = []

    def _evaluate(self, rules: Sequence[str], policy_input: Any) -> list[Any]:
        self.inputs.append(policy_input)
        return [self.value for _ in rules]

    def status(self) -> Any:
        raise NotImplementedError


def _controller(engine: PolicyEngine | None = None) -> SignalProcessingController:
    return SignalProcessingController(engine or _Engine())


def _phases(effects: Sequence[Effect]) -> list[str]:
    return [
        effect.phase_change.to_phase
        for effect in effects
        if isinstance(effect, PatchStatus) and effect.phase_change is not None
    ]


def _final_status(effects: Sequence[Effect]) -> JSON:
    status: JSON = {}
    for effect in effects:
        if isinstance(effect, PatchStatus):
            status.update(effect.changes)
    return status


# ------------------------------------------------------------------------ decide


def test_a_new_object_gets_its_finalizer_and_runs_every_phase_in_one_reconcile() -> None:
    obj = _sp()
    obj["metadata"]["finalizers"] = []
    observed = SignalProcessingObserved(target=FOUND, classification=CLASSIFIED)

    effects = _controller().decide(obj, observed, NOW)

    assert effects[0] == AddFinalizer(FINALIZER)
    assert _phases(effects) == ["Pending", "Enriching", "Classifying", "Completed"]
    indexes = [
        effect.phase_change.index
        for effect in effects
        if isinstance(effect, PatchStatus) and effect.phase_change
    ]
    assert indexes == [0, 1, 2, 3]
    status = _final_status(effects)
    assert status["phase"] == "Completed"
    assert status["targetFound"] is True
    assert status["ownerChain"] == [dict(FOUND.owner_chain[0])]
    assert status["targetLabels"] == {"app": "web"}
    assert status["namespaceLabels"] == {"kubernaut.ai/environment": "production"}
    assert (status["environment"], status["severity"], status["priority"]) == (
        "production",
        "high",
        "P1",
    )
    assert len(status["classificationReasons"]) == 3
    assert status["completionTime"] == "2026-11-29T07:20:00Z"
    assert [t["phase"] for t in status["transitions"]] == [
        "Pending",
        "Enriching",
        "Classifying",
        "Completed",
    ]
    assert sum(isinstance(effect, RecordEvent) for effect in effects) == 4


def test_a_missing_target_completes_with_target_found_false_and_the_reason() -> None:
    missing = TargetSnapshot(found=False, reason="Pod shop/web-1 not found")
    observed = SignalProcessingObserved(target=missing, classification=CLASSIFIED)

    effects = _controller().decide(_sp("Enriching"), observed, NOW)

    assert _phases(effects) == ["Classifying", "Completed"]
    status = _final_status(effects)
    assert status["targetFound"] is False
    assert status["message"] == "Pod shop/web-1 not found"
    assert status["phase"] == "Completed"


def test_classifying_uses_the_recorded_enrichment_and_completes() -> None:
    effects = _controller().decide(
        _sp("Classifying", targetFound=True),
        SignalProcessingObserved(classification=CLASSIFIED),
        NOW,
    )
    assert _phases(effects) == ["Completed"]


@pytest.mark.parametrize(
    ("phase", "observed", "reason"),
    [
        ("Enriching", SignalProcessingObserved(error="reading the target failed: 503"), "Enrich"),
        (
            "Classifying",
            SignalProcessingObserved(error="classification failed: bad policy"),
            "Classif",
        ),
    ],
)
def test_transient_errors_retry_until_the_phase_deadline_then_fail(
    phase: str, observed: SignalProcessingObserved, reason: str
) -> None:
    controller = _controller()
    early = controller.decide(_sp(phase), observed, NOW + timedelta(seconds=30))
    assert early == [RequeueAfter(RETRY_SECONDS)]

    near = controller.decide(_sp(phase), observed, NOW + PHASE_TIMEOUT - timedelta(seconds=4))
    assert near == [RequeueAfter(4.0)]

    late = controller.decide(_sp(phase), observed, NOW + PHASE_TIMEOUT)
    assert _phases(late) == ["Failed"]
    status = _final_status(late)
    assert observed.error is not None
    assert observed.error in status["message"]
    change = next(e.phase_change for e in late if isinstance(e, PatchStatus) and e.phase_change)
    assert change.reason.startswith(reason)
    assert any(isinstance(e, RecordEvent) and e.type == "Warning" for e in late)


def test_enriched_but_unclassified_records_classifying_and_waits() -> None:
    observed = SignalProcessingObserved(target=FOUND, error="classification failed: boom")
    effects = _controller().decide(_sp("Enriching"), observed, NOW + timedelta(minutes=5))
    assert _phases(effects) == ["Classifying"]
    assert effects[-1] == RequeueAfter(RETRY_SECONDS)  # the new phase's deadline starts now


def test_an_invalid_spec_fails_at_once() -> None:
    effects = _controller().decide(
        _sp(), SignalProcessingObserved(invalid_spec="invalid spec: signal: missing"), NOW
    )
    assert _phases(effects) == ["Pending", "Failed"]
    assert _final_status(effects)["message"] == "invalid spec: signal: missing"


@pytest.mark.parametrize("phase", ["Completed", "Failed"])
def test_terminal_objects_are_left_alone(phase: str) -> None:
    assert _controller().decide(_sp(phase), SignalProcessingObserved(), NOW) == []


def _deleting(at: datetime) -> JSON:
    obj = _sp("Completed")
    obj["metadata"]["deletionTimestamp"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return obj


def test_deletion_removes_the_finalizer_once_the_audit_trail_is_complete() -> None:
    effects = _controller().decide(
        _deleting(NOW), SignalProcessingObserved(audit_complete=True), NOW
    )
    assert effects[-1] == RemoveFinalizer(FINALIZER)
    assert isinstance(effects[0], RecordEvent)
    assert effects[0].type == "Normal"


def test_deletion_waits_for_the_audit_trail_within_the_grace_period() -> None:
    effects = _controller().decide(
        _deleting(NOW), SignalProcessingObserved(audit_complete=False), NOW + timedelta(minutes=1)
    )
    assert effects == [RequeueAfter(AUDIT_RECHECK_SECONDS)]
    last = _controller().decide(
        _deleting(NOW),
        SignalProcessingObserved(audit_complete=False),
        NOW + timedelta(minutes=10, seconds=-2),
    )
    assert last == [RequeueAfter(2.0)]


def test_deletion_gives_up_waiting_after_the_grace_period() -> None:
    effects = _controller().decide(
        _deleting(NOW), SignalProcessingObserved(audit_complete=False), NOW + timedelta(minutes=10)
    )
    assert effects[-1] == RemoveFinalizer(FINALIZER)
    assert isinstance(effects[0], RecordEvent)
    assert effects[0].reason == "AuditIncomplete"


# ----------------------------------------------------------------------- observe


class _Client:
    """Answers GETs from a dict of objects by (plural, namespace, name), else 404."""

    def __init__(self, objects: dict[tuple[str, str | None, str], JSON]) -> None:
        self.objects = objects
        self.failures: dict[tuple[str, str | None, str], ApiError] = {}
        self.gets: list[tuple[str, str | None, str]] = []

    def get(self, resource: Resource, namespace: str | None, name: str) -> JSON:
        key = (resource.plural, namespace, name)
        self.gets.append(key)
        if key in self.failures:
            raise self.failures[key]
        if key not in self.objects:
            raise ApiError(404, "NotFound", f"{resource.plural} {name} not found")
        return copy.deepcopy(self.objects[key])


def _view(client: _Client) -> ClusterView:
    fake: Any = client
    kube: KubeClient = fake
    return ClusterView(kube, {})


def _owned(kind: str, name: str, uid: str, owner: tuple[str, str, str, str] | None) -> JSON:
    metadata: JSON = {"name": name, "namespace": "shop", "uid": uid, "labels": {"app": "web"}}
    if owner is not None:
        api_version, owner_kind, owner_name, owner_uid = owner
        metadata["ownerReferences"] = [
            {
                "apiVersion": api_version,
                "kind": owner_kind,
                "name": owner_name,
                "uid": owner_uid,
                "controller": True,
            }
        ]
    return {"kind": kind, "metadata": metadata}


def _cluster() -> _Client:
    return _Client(
        {
            ("namespaces", None, "shop"): {
                "metadata": {"name": "shop", "labels": {"kubernaut.ai/environment": "production"}}
            },
            ("pods", "shop", "web-5d9c7b8f6-x2x9q"): _owned(
                "Pod",
                "web-5d9c7b8f6-x2x9q",
                "pod",
                ("apps/v1", "ReplicaSet", "web-5d9c7b8f6", "rs"),
            ),
            ("replicasets", "shop", "web-5d9c7b8f6"): _owned(
                "ReplicaSet", "web-5d9c7b8f6", "rs", ("apps/v1", "Deployment", "web", "deploy")
            ),
            ("deployments", "shop", "web"): _owned("Deployment", "web", "deploy", None),
        }
    )


@pytest.fixture(scope="module")
def policies() -> PolicyEngine:
    return EmbeddedPolicyEngine(POLICIES)


def test_observe_reads_the_owner_chain_and_classifies_with_the_shipped_policy(
    policies: PolicyEngine,
) -> None:
    controller = SignalProcessingController(policies)
    observed = controller.observe(_sp("Enriching"), _view(_cluster()))

    assert observed.error is None
    assert observed.target is not None
    assert observed.target.found
    assert [(e["kind"], e["name"]) for e in observed.target.owner_chain] == [
        ("ReplicaSet", "web-5d9c7b8f6"),
        ("Deployment", "web"),
    ]
    assert observed.target.namespace_labels == {"kubernaut.ai/environment": "production"}
    # sev2 is an alias of high; production + high is P1 in policies/data/classification.json.
    assert observed.classification == CLASSIFIED


def test_observe_in_classifying_reads_nothing_and_uses_the_recorded_labels() -> None:
    engine = _Engine({"environment": "staging", "severity": "low", "priority": "P3"})
    client = _cluster()
    obj = _sp("Classifying", targetLabels={"tier": "a"}, namespaceLabels={"env": "staging"})

    observed = SignalProcessingController(engine).observe(obj, _view(client))

    assert client.gets == []
    assert observed.classification == Classification("staging", "low", "P3")
    assert engine.inputs[0]["targetLabels"] == {"tier": "a"}
    assert engine.inputs[0]["namespaceLabels"] == {"env": "staging"}
    assert engine.inputs[0]["signal"]["severity"] == "sev2"


def test_observe_reports_retriable_api_errors_for_a_retry() -> None:
    client = _cluster()
    client.failures[("pods", "shop", "web-5d9c7b8f6-x2x9q")] = ApiError(503, "Unavailable", "busy")
    observed = SignalProcessingController(_Engine()).observe(_sp("Enriching"), _view(client))
    assert observed.target is None
    assert observed.classification is None
    assert observed.error is not None
    assert "503" in observed.error


def test_observe_reports_a_policy_error_for_a_retry() -> None:
    observed = SignalProcessingController(_Engine("not an object")).observe(
        _sp("Enriching"), _view(_cluster())
    )
    assert observed.target is not None
    assert observed.target.found
    assert observed.classification is None
    assert observed.error is not None
    assert "must be an object" in observed.error


def test_observe_of_an_invalid_spec_reports_it() -> None:
    obj = _sp("Enriching")
    del obj["spec"]["signal"]["targetResource"]
    observed = SignalProcessingController(_Engine()).observe(obj, _view(_cluster()))
    assert observed.invalid_spec is not None
    assert "targetResource" in observed.invalid_spec


def test_observe_asks_the_audit_only_when_deleting() -> None:
    class _Audit:
        def is_complete(self, obj: JSON) -> bool:
            return False

    controller = SignalProcessingController(_Engine(), audit=_Audit())
    obj = _sp("Completed")
    obj["metadata"]["deletionTimestamp"] = "2026-11-29T07:20:00Z"
    assert controller.observe(obj, _view(_Client({}))).audit_complete is False


# ----------------------------------------------------------------- target reads


def _target(kind: str, name: str, namespace: str | None = "shop", api: str = "v1") -> Any:
    from api.meta import TargetResource

    return TargetResource(api_version=api, kind=kind, namespace=namespace, name=name)


def test_unknown_kinds_are_not_found_with_a_reason() -> None:
    snapshot = read_target(_view(_Client({})), _target("Widget", "w", api="example.com/v1"))
    assert not snapshot.found
    assert "Widget" in snapshot.reason
    assert "not one kubernaut reads" in snapshot.reason


def test_a_missing_namespace_or_object_is_not_found() -> None:
    client = _cluster()
    no_namespace = read_target(_view(client), _target("Pod", "x", namespace="gone"))
    assert (no_namespace.found, no_namespace.reason) == (False, "namespace gone not found")
    no_pod = read_target(_view(client), _target("Pod", "x"))
    assert (no_pod.found, no_pod.reason) == (False, "Pod shop/x not found")
    assert no_pod.namespace_labels == {"kubernaut.ai/environment": "production"}


def test_a_forbidden_target_is_not_found_with_the_refusal() -> None:
    client = _cluster()
    client.failures[("deployments", "shop", "web")] = ApiError(403, "Forbidden", "no")
    snapshot = read_target(_view(client), _target("Deployment", "web", api="apps/v1"))
    assert not snapshot.found
    assert "403" in snapshot.reason


def test_cluster_scoped_targets_have_no_namespace_labels() -> None:
    client = _Client({("nodes", None, "n1"): {"metadata": {"name": "n1", "labels": {"a": "b"}}}})
    snapshot = read_target(_view(client), _target("Node", "n1", namespace=None))
    assert snapshot.found
    assert snapshot.labels == {"a": "b"}
    assert snapshot.namespace_labels == {}


def test_the_owner_chain_is_bounded_and_stops_at_cycles_and_unknown_kinds() -> None:
    objects: dict[tuple[str, str | None, str], JSON] = {
        ("namespaces", None, "shop"): {"metadata": {"name": "shop"}},
    }
    for index in range(10):  # a chain of ten ReplicaSets, each owned by the next
        objects[("replicasets", "shop", f"rs{index}")] = _owned(
            "ReplicaSet",
            f"rs{index}",
            f"u{index}",
            ("apps/v1", "ReplicaSet", f"rs{index + 1}", f"u{index + 1}"),
        )
    long_chain = read_target(_view(_Client(objects)), _target("ReplicaSet", "rs0", api="apps/v1"))
    assert len(long_chain.owner_chain) == 5

    objects[("replicasets", "shop", "loop")] = _owned(
        "ReplicaSet", "loop", "loop-uid", ("apps/v1", "ReplicaSet", "loop", "loop-uid")
    )
    assert (
        read_target(
            _view(_Client(objects)), _target("ReplicaSet", "loop", api="apps/v1")
        ).owner_chain
        == ()
    )

    objects[("pods", "shop", "p")] = _owned("Pod", "p", "p", ("example.com/v1", "Widget", "w", "w"))
    chain = read_target(_view(_Client(objects)), _target("Pod", "p")).owner_chain
    assert chain == (
        {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "namespace": "shop"},
    )


def test_resource_mapping_covers_the_documented_kinds() -> None:
    for api_version, kind in [
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("apps/v1", "ReplicaSet"),
        ("v1", "Pod"),
        ("v1", "Service"),
        ("v1", "ConfigMap"),
    ]:
        resource = resource_for(api_version, kind)
        assert resource is not None
        assert resource.kind == kind
        assert resource.namespaced
    node = resource_for("v1", "Node")
    assert node is not None
    assert not node.namespaced
    assert resource_for("apps/v1beta1", "Deployment") is None
