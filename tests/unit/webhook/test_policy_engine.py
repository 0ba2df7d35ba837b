"""The embedded engine's convenience methods on the shipped policies, with wire-contract inputs."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import pytest

from webhook.policy import (
    ApprovalRequirement,
    Classification,
    ConditionResult,
    EmbeddedPolicyEngine,
    PolicyEvaluationError,
)

POLICIES = Path(__file__).resolve().parents[3] / "policies"

GROUP = {"group": "kubernaut.ai", "version": "v1alpha1"}


def step(
    number: int, name: str, action: str, block: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "stepNumber": number,
        "name": name,
        "action": action,
        "parameters": {action: block},
        "criticalStep": False,
        "dependsOn": [number - 1] if number > 1 else [],
        **extra,
    }


def scale_steps(count: int, replicas: int = 3) -> list[dict[str, Any]]:
    return [
        step(
            n,
            f"scale-{n}",
            "scaleDeployment",
            {"namespace": "shop", "deployment": "web", "replicas": replicas},
            timeout="1m",
            maxRetries=2,
        )
        for n in range(1, count + 1)
    ]


def workflow_review(
    steps: list[dict[str, Any]],
    *,
    environment: str = "production",
    strategy: dict[str, Any] | None = None,
    operation: str = "CREATE",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "remediationRequestRef": {"name": "rr-web", "namespace": "shop"},
        "targetResource": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
        },
        "workflowDefinition": {"name": "scale-out", "version": "1", "steps": steps},
    }
    if strategy is not None:
        spec["executionStrategy"] = strategy
    obj = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {
            "name": "wfe-web",
            "namespace": "shop",
            "labels": {
                "kubernaut.ai/environment": environment,
                "kubernaut.ai/remediation": "rr-web",
            },
        },
        "spec": spec,
    }
    return {
        "operation": operation,
        "userInfo": {
            "username": "system:serviceaccount:kubernaut-system:kubernaut-reconciler",
            "groups": ["system:serviceaccounts", "system:authenticated"],
        },
        "kind": {**GROUP, "kind": "WorkflowExecution"},
        "resource": {**GROUP, "resource": "workflowexecutions"},
        "subResource": "",
        "namespace": "shop",
        "name": "wfe-web",
        "dryRun": False,
        "object": obj,
        "oldObject": None,
        "namespaceLabels": {"kubernetes.io/metadata.name": "shop"},
    }


SAFE_STRATEGY = {"approvalRequired": True, "dryRunFirst": True, "rollbackStrategy": "manual"}


def approval_review(
    user: str, groups: list[str], decision: str, environment: str
) -> dict[str, Any]:
    old: dict[str, Any] = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationRequest",
        "metadata": {
            "name": "rr-web",
            "namespace": "shop",
            "labels": {"kubernaut.ai/environment": environment},
            "annotations": {"kubernaut.ai/created-by": "carol"},
        },
        "spec": {"signalName": "HighErrorRate", "severity": "critical"},
    }
    new = copy.deepcopy(old)
    new["metadata"]["annotations"]["kubernaut.ai/approval"] = decision
    return {
        "operation": "UPDATE",
        "userInfo": {"username": user, "groups": groups},
        "kind": {**GROUP, "kind": "RemediationRequest"},
        "resource": {**GROUP, "resource": "remediationrequests"},
        "subResource": "",
        "namespace": "shop",
        "name": "rr-web",
        "dryRun": False,
        "object": new,
        "oldObject": old,
    }


def deployment(replicas: int, ready: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready},
    }


def restart_input(target: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "action": "restartDeployment",
        "parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
        "targetKind": "Deployment",
        "target": target,
    }


@pytest.fixture(scope="module")
def engine() -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine(POLICIES)


def test_valid_production_workflow_is_allowed(engine: EmbeddedPolicyEngine) -> None:
    decision = engine.admission_decision(workflow_review(scale_steps(10), strategy=SAFE_STRATEGY))
    assert decision.allowed
    assert decision.deny == ()
    assert decision.warn == ()


def test_every_violation_is_reported_and_names_the_step(engine: EmbeddedPolicyEngine) -> None:
    steps = [
        step(
            1,
            "scale-web",
            "scaleDeployment",
            {"namespace": "shop", "deployment": "web", "replicas": 80},
        ),
        step(
            2, "fix-dns", "restartDeployment", {"namespace": "kube-system", "deployment": "coredns"}
        ),
        step(
            3,
            "drain",
            "drainNode",
            {"nodeName": "n1", "ignoreDaemonSets": True, "deleteLocalData": False},
        ),
    ]
    decision = engine.admission_decision(workflow_review(steps, strategy=SAFE_STRATEGY))
    assert not decision.allowed
    assert "step 1 (scale-web): replicas 80 exceeds the maximum 50" in decision.deny
    assert any(
        msg.startswith("step 2 (fix-dns): namespace kube-system is protected")
        for msg in decision.deny
    )
    assert any(
        msg.startswith("step 3 (drain): drainNode of node n1 is not allowed")
        for msg in decision.deny
    )
    assert len(decision.deny) == 3
    assert list(decision.deny) == sorted(decision.deny)


def test_warnings_are_returned(engine: EmbeddedPolicyEngine) -> None:
    steps = scale_steps(2)
    steps[0]["criticalStep"] = True
    strategy = {"approvalRequired": True, "dryRunFirst": False, "rollbackStrategy": "automatic"}
    decision = engine.admission_decision(workflow_review(steps, strategy=strategy))
    assert decision.allowed
    assert len(decision.warn) == 2
    assert any(
        "step 1 (scale-1): critical step has no rollbackSpec" in msg for msg in decision.warn
    )


def test_mutation_defaults_are_json_pointers_for_absent_fields(
    engine: EmbeddedPolicyEngine,
) -> None:
    steps = scale_steps(2)
    del steps[1]["timeout"]
    defaults = engine.mutation_defaults(
        workflow_review(steps, strategy={"approvalRequired": False})
    )
    assert defaults == {
        "/spec/executionStrategy/dryRunFirst": True,
        "/spec/executionStrategy/rollbackStrategy": "automatic",
        "/spec/workflowDefinition/steps/1/timeout": "5m",
    }


def test_mutation_defaults_whole_strategy_when_absent(engine: EmbeddedPolicyEngine) -> None:
    defaults = engine.mutation_defaults(workflow_review(scale_steps(1)))
    assert defaults == {
        "/spec/executionStrategy": {
            "approvalRequired": True,
            "dryRunFirst": True,
            "rollbackStrategy": "automatic",
        }
    }


def test_mutation_defaults_empty_for_other_kinds(engine: EmbeddedPolicyEngine) -> None:
    review = approval_review("alice", ["kubernaut-approvers"], "approved", "production")
    assert engine.mutation_defaults(review) == {}


def test_approval_denials(engine: EmbeddedPolicyEngine) -> None:
    allowed = approval_review(
        "alice", ["system:authenticated", "kubernaut-approvers"], "approved", "production"
    )
    assert engine.approval_denials(allowed) == ()
    own = approval_review(
        "carol", ["system:authenticated", "kubernaut-approvers"], "approved", "production"
    )
    assert engine.approval_denials(own) == (
        "carol may not approve RemediationRequest rr-web: nobody approves a request they created",
    )
    outsider = approval_review("bob", ["system:authenticated"], "approved", "production")
    assert len(engine.approval_denials(outsider)) == 1


def test_require_approval(engine: EmbeddedPolicyEngine) -> None:
    confident = {"environment": "staging", "confidence": 0.95, "actions": ["restartDeployment"]}
    assert engine.require_approval(confident) == ApprovalRequirement(False, "")
    unsure = {"environment": "staging", "confidence": 0.6, "actions": ["restartDeployment"]}
    assert engine.require_approval(unsure) == ApprovalRequirement(
        True, "confidence 0.6 is below the threshold 0.8"
    )
    required, reason = engine.require_approval(
        {"environment": "production", "confidence": 0.99, "actions": ["deletePod"]}
    )
    assert required
    assert reason == "destructive action deletePod in production"


def test_classify(engine: EmbeddedPolicyEngine) -> None:
    signal = {
        "signal": {
            "name": "HighErrorRate",
            "severity": "sev1",
            "labels": {"alertname": "HighErrorRate"},
        },
        "namespaceLabels": {"env": "production"},
        "targetLabels": {"app": "web"},
    }
    assert engine.classify(signal) == Classification("production", "critical", "P0")
    assert engine.classify({"signal": {"severity": "info"}}) == Classification(
        "unknown", "low", "P3"
    )


def test_precondition(engine: EmbeddedPolicyEngine) -> None:
    assert engine.precondition("deployment_has_ready_replica", restart_input(deployment(3, 2))) == (
        ConditionResult(True, ())
    )
    allowed, messages = engine.precondition("deployment_has_ready_replica", restart_input(None))
    assert not allowed
    assert messages == ("deployment shop/web not found",)


def test_unknown_precondition_is_not_allowed(engine: EmbeddedPolicyEngine) -> None:
    allowed, messages = engine.precondition("no_such_condition", restart_input(deployment(1, 1)))
    assert not allowed
    assert "no_such_condition is not defined" in messages[0]


def test_invalid_condition_name_is_an_error(engine: EmbeddedPolicyEngine) -> None:
    with pytest.raises(PolicyEvaluationError, match="not a valid condition name"):
        engine.precondition("x; true", restart_input(None))


def test_evaluate_generic_and_undefined(engine: EmbeddedPolicyEngine) -> None:
    assert engine.evaluate("data.kubernaut.config.maxSteps", {}) == 20
    assert engine.evaluate("data.kubernaut.no_such_package.rule", {}) is None
    with pytest.raises(PolicyEvaluationError, match="is not a rule reference"):
        engine.evaluate("1 + 1", {})


def test_evaluations_from_many_threads(engine: EmbeddedPolicyEngine) -> None:
    review = workflow_review(scale_steps(3, replicas=99), strategy=SAFE_STRATEGY)
    results: list[tuple[str, ...]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                results.append(engine.admission_decision(review).deny)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 80
    assert all(len(deny) == 3 for deny in results)


def test_validation_decision_combines_admission_and_approval(engine: EmbeddedPolicyEngine) -> None:
    review = approval_review("carol", ["kubernaut-approvers"], "approved", "production")
    decision = engine.validation_decision(review)
    assert decision.deny == engine.approval_denials(review)
    bad = workflow_review(scale_steps(1, replicas=0), strategy=SAFE_STRATEGY)
    assert engine.validation_decision(bad) == engine.admission_decision(bad)
    assert len(engine.validation_decision(bad).deny) == 1
