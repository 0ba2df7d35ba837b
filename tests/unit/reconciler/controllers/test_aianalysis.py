"""AIAnalysis: decide over every phase and failure, and observe's analyser and approval calls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.workflow import WorkflowDefinition
from reconciler.analysers import (
    AnalysisFailure,
    AnalysisOutcome,
    AnalysisRequest,
    AnalysisResult,
)
from reconciler.controller import ClusterView
from reconciler.controllers.aianalysis import AIAnalysisController, AIAnalysisObserved
from reconciler.effects import (
    AddFinalizer,
    AuditNote,
    Effect,
    PatchStatus,
    RecordEvent,
    RemoveFinalizer,
    RequeueAfter,
)
from reconciler.kube import KubeClient, Resource
from webhook.policy import ApprovalRequirement, EmbeddedPolicyEngine, PolicyEngine

JSON = dict[str, Any]
NOW = datetime(2026, 11, 29, 7, 20, 0, tzinfo=UTC)
FINALIZER = "aianalysis.kubernaut.ai/cleanup"
POLICIES = Path(__file__).resolve().parents[4] / "policies"
WORKFLOW = WorkflowDefinition.model_validate(
    {
        "name": "restart-deployment",
        "version": "1.0.0",
        "steps": [
            {
                "stepNumber": 1,
                "name": "restart",
                "action": "restartDeployment",
                "parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
            }
        ],
    }
)
RESULT = AnalysisResult(WORKFLOW, 0.9, "crash loop: restart")


def _aia(phase: str | None = None, environment: str = "staging", **status: Any) -> JSON:
    obj: JSON = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "AIAnalysis",
        "metadata": {
            "name": "rr-web-analysis",
            "namespace": "shop",
            "uid": "aia-uid",
            "generation": 1,
            "resourceVersion": "3",
            "finalizers": [FINALIZER],
        },
        "spec": {
            "remediationRequestRef": {"name": "rr-web"},
            "signal": {
                "fingerprint": "b" * 64,
                "name": "KubePodCrashLooping",
                "severity": "critical",
                "targetResource": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "namespace": "shop",
                    "name": "web",
                },
            },
            "enrichment": {"targetFound": True, "environment": environment, "severity": "critical"},
        },
    }
    if phase is not None:
        obj["status"] = {
            "phase": phase,
            "phaseStartTime": "2026-11-29T07:19:00Z",
            "transitions": [{"phase": phase, "at": "2026-11-29T07:19:00Z", "reason": "T"}],
            **status,
        }
    return obj


class _Analyser:
    name = "fake"

    def __init__(self, outcome: AnalysisOutcome | Exception) -> None:
        self.outcome = outcome
        self.requests: list[AnalysisRequest] = []

    def analyse(self, request: AnalysisRequest) -> AnalysisOutcome:
        self.requests.append(request)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class _BrokenPolicy(PolicyEngine):
    def _evaluate(self, rules: Sequence[str], policy_input: Any) -> list[Any]:
        return ["yes" for _ in rules]  # not a boolean: PolicyEvaluationError

    def status(self) -> Any:
        raise NotImplementedError


@pytest.fixture(scope="module")
def policies() -> PolicyEngine:
    return EmbeddedPolicyEngine(POLICIES)


def _controller(
    outcome: AnalysisOutcome | Exception = RESULT, policy: PolicyEngine | None = None
) -> tuple[AIAnalysisController, _Analyser]:
    analyser = _Analyser(outcome)
    return AIAnalysisController(analyser, policy or _BrokenPolicy()), analyser


class _Live:
    """The API server's copy of the analysis, for the freshness check."""

    def __init__(self, resource_version: str = "3") -> None:
        self.resource_version = resource_version

    def get(self, resource: Resource, namespace: str | None, name: str) -> JSON:
        assert resource.plural == "aianalyses"
        return {"metadata": {"name": name, "resourceVersion": self.resource_version}}


def _view(resource_version: str = "3") -> ClusterView:
    fake: Any = _Live(resource_version)
    client: KubeClient = fake
    return ClusterView(client, {})


def _phases(effects: Sequence[Effect]) -> list[str]:
    return [
        effect.phase_change.to_phase
        for effect in effects
        if isinstance(effect, PatchStatus) and effect.phase_change is not None
    ]


def _status(effects: Sequence[Effect]) -> JSON:
    status: JSON = {}
    for effect in effects:
        if isinstance(effect, PatchStatus):
            status.update(effect.changes)
    return status


# ------------------------------------------------------------------------ decide


def test_a_new_analysis_records_investigating_before_any_analysis() -> None:
    controller, _ = _controller()
    obj = _aia()
    obj["metadata"]["finalizers"] = []
    effects = controller.decide(obj, AIAnalysisObserved(), NOW)
    assert effects[0] == AddFinalizer(FINALIZER)
    assert _phases(effects) == ["Pending", "Investigating"]
    assert _status(effects)["analyzer"] == "fake"


def test_a_result_completes_with_the_workflow_confidence_and_approval() -> None:
    controller, _ = _controller()
    observed = AIAnalysisObserved(
        outcome=RESULT, approval=ApprovalRequirement(True, "confidence 0.9 is below 0.95")
    )
    effects = controller.decide(_aia("Investigating"), observed, NOW)

    assert _phases(effects) == ["Completed"]
    status = _status(effects)
    assert status["selectedWorkflow"]["name"] == "restart-deployment"
    assert status["selectedWorkflow"]["steps"][0]["parameters"] == {
        "restartDeployment": {"namespace": "shop", "deployment": "web"}
    }
    assert status["confidence"] == 0.9
    assert status["rationale"] == "crash loop: restart"
    assert status["analyzer"] == "fake"
    assert status["approvalRequired"] is True
    assert status["approvalReason"] == "confidence 0.9 is below 0.95"
    assert status["completionTime"] == "2026-11-29T07:20:00Z"
    notes = [effect for effect in effects if isinstance(effect, AuditNote)]
    assert len(notes) == 1
    assert notes[0].payload["approvalRequired"] is True


def test_a_result_without_approval_says_so() -> None:
    controller, _ = _controller()
    observed = AIAnalysisObserved(outcome=RESULT, approval=ApprovalRequirement(False, ""))
    status = _status(controller.decide(_aia("Investigating"), observed, NOW))
    assert status["approvalRequired"] is False
    assert "no approval required" in status["message"]


def test_a_failure_fails_with_the_analysers_reason() -> None:
    controller, _ = _controller()
    failure = AnalysisFailure("AnalyserTimeout", "service did not answer within 30s")
    effects = controller.decide(_aia("Investigating"), AIAnalysisObserved(outcome=failure), NOW)
    assert _phases(effects) == ["Failed"]
    change = next(e.phase_change for e in effects if isinstance(e, PatchStatus) and e.phase_change)
    assert change.reason == "AnalyserTimeout"
    assert _status(effects)["message"] == "service did not answer within 30s"
    assert any(isinstance(e, RecordEvent) and e.type == "Warning" for e in effects)


def test_investigating_without_an_outcome_looks_again_later() -> None:
    controller, _ = _controller()
    effects = controller.decide(_aia("Investigating"), AIAnalysisObserved(), NOW)
    assert effects == [RequeueAfter(5.0)]


def test_an_invalid_spec_fails() -> None:
    controller, _ = _controller()
    effects = controller.decide(_aia(), AIAnalysisObserved(invalid_spec="invalid spec: x"), NOW)
    assert _phases(effects) == ["Pending", "Failed"]


@pytest.mark.parametrize("phase", ["Completed", "Failed"])
def test_terminal_analyses_are_left_alone(phase: str) -> None:
    controller, _ = _controller()
    assert controller.decide(_aia(phase), AIAnalysisObserved(outcome=RESULT), NOW) == []


def test_deletion_waits_for_the_audit_then_removes_the_finalizer() -> None:
    controller, _ = _controller()
    obj = _aia("Completed")
    obj["metadata"]["deletionTimestamp"] = "2026-11-29T07:20:00Z"
    waiting = controller.decide(obj, AIAnalysisObserved(audit_complete=False), NOW)
    assert waiting == [RequeueAfter(5.0)]
    late = controller.decide(
        obj, AIAnalysisObserved(audit_complete=False), NOW + timedelta(minutes=11)
    )
    assert late[-1] == RemoveFinalizer(FINALIZER)
    done = controller.decide(obj, AIAnalysisObserved(audit_complete=True), NOW)
    assert done[-1] == RemoveFinalizer(FINALIZER)


# ----------------------------------------------------------------------- observe


@pytest.mark.parametrize("phase", [None, "Pending", "Completed", "Failed"])
def test_the_analyser_is_only_asked_while_investigating(phase: str | None) -> None:
    controller, analyser = _controller()
    assert controller.observe(_aia(phase), _view()).outcome is None
    assert analyser.requests == []


def test_investigating_asks_the_analyser_with_the_signal_and_enrichment(
    policies: PolicyEngine,
) -> None:
    controller, analyser = _controller(policy=policies)
    observed = controller.observe(_aia("Investigating"), _view())
    assert observed.outcome == RESULT
    (request,) = analyser.requests
    assert (request.name, request.namespace, request.remediation) == (
        "rr-web-analysis",
        "shop",
        "rr-web",
    )
    assert request.signal.name == "KubePodCrashLooping"
    assert request.enrichment.environment == "staging"
    # 0.9 is above the shipped threshold 0.8 and restartDeployment is not destructive.
    assert observed.approval == ApprovalRequirement(False, "")


@pytest.mark.parametrize(
    ("confidence", "environment", "actions", "expected"),
    [
        (0.75, "staging", "restartDeployment", "confidence 0.75 is below the threshold 0.8"),
        (0.95, "production", "rollbackDeployment", "destructive action rollbackDeployment"),
    ],
)
def test_the_approval_policy_decides_with_its_reason(
    policies: PolicyEngine, confidence: float, environment: str, actions: str, expected: str
) -> None:
    parameters = {actions: {"namespace": "shop", "deployment": "web"}}
    workflow = WorkflowDefinition.model_validate(
        {
            "name": "w",
            "version": "1",
            "steps": [{"stepNumber": 1, "name": "s", "action": actions, "parameters": parameters}],
        }
    )
    controller, _ = _controller(AnalysisResult(workflow, confidence, "r"), policies)
    observed = controller.observe(_aia("Investigating", environment=environment), _view())
    assert observed.approval is not None
    assert observed.approval.required
    assert expected in observed.approval.reason


def test_an_approval_policy_error_requires_approval() -> None:
    controller, _ = _controller(policy=_BrokenPolicy())
    observed = controller.observe(_aia("Investigating"), _view())
    assert observed.approval is not None
    assert observed.approval.required
    assert "could not be evaluated" in observed.approval.reason


def test_an_analyser_that_raises_fails_the_analysis() -> None:
    controller, _ = _controller(RuntimeError("plug-in bug"))
    observed = controller.observe(_aia("Investigating"), _view())
    assert observed.outcome == AnalysisFailure("AnalyserError", "analyser fake failed: plug-in bug")


def test_an_analyser_failure_skips_the_approval_policy() -> None:
    failure = AnalysisFailure("NoMatchingWorkflow", "nothing")
    controller, _ = _controller(failure)
    observed = controller.observe(_aia("Investigating"), _view())
    assert observed.outcome == failure
    assert observed.approval is None


def test_observe_reports_an_invalid_spec() -> None:
    controller, analyser = _controller()
    obj = _aia("Investigating")
    obj["spec"]["signal"]["fingerprint"] = "nope"
    observed = controller.observe(obj, _view())
    assert observed.invalid_spec is not None
    assert "fingerprint" in observed.invalid_spec
    assert analyser.requests == []


def test_a_stale_cached_analysis_is_not_analysed_again() -> None:
    controller, analyser = _controller()
    observed = controller.observe(_aia("Investigating"), _view(resource_version="4"))
    assert observed.stale
    assert observed.outcome is None
    assert analyser.requests == []
    assert controller.decide(_aia("Investigating"), observed, NOW) == [RequeueAfter(1.0)]
