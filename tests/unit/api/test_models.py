"""Wire behaviour of the models: error paths, static defaults, aliases and round trips."""

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.errors import FieldError
from api.kubernetesexecution import KubernetesExecution, RollbackInfo
from api.meta import ObjectMeta
from api.parameters import ACTIONS, ScaleDeploymentParams, StepParameters
from api.remediationrequest import RemediationRequest
from api.validation import parse_resource, validate_resource
from api.workflow import WorkflowDefinition, WorkflowStep
from api.workflowexecution import (
    ExecutionStrategy,
    WorkflowExecution,
    WorkflowExecutionSpec,
)

FINGERPRINT = "a" * 64
TARGET = {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"}
STEPS = "spec.workflowDefinition.steps"


def scale(replicas: Any = 3) -> dict[str, Any]:
    return {"scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": replicas}}


def step(number: int, action: str = "scaleDeployment", **extra: Any) -> dict[str, Any]:
    parameters = extra.pop("parameters", scale())
    return {
        "stepNumber": number,
        "name": f"s{number}",
        "action": action,
        "parameters": parameters,
        **extra,
    }


def wfe(*steps: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {"name": "w", "namespace": "shop"},
        "spec": {
            "remediationRequestRef": {"name": "rr"},
            "targetResource": TARGET,
            "workflowDefinition": {"name": "wf", "version": "1", "steps": list(steps)},
            **spec,
        },
    }


def rr(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationRequest",
        "metadata": {"name": "r", "namespace": "shop"},
        "spec": {
            "signalFingerprint": FINGERPRINT,
            "signalName": "KubePodCrashLooping",
            "severity": "critical",
            "signalType": "prometheus",
            "signalSource": "alertmanager",
            "targetResource": TARGET,
            **spec,
        },
    }


def errors_of(document: dict[str, Any]) -> list[FieldError]:
    outcome = validate_resource(document)
    assert not outcome.valid
    assert outcome.resource is None
    return outcome.errors


def paths_of(document: dict[str, Any]) -> list[str]:
    return [error.path for error in errors_of(document)]


def dump(model: Any) -> dict[str, Any]:
    result: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return result


# --- the error paths the issue names ----------------------------------------------------


def test_parameters_not_matching_the_action() -> None:
    document = wfe(step(1), step(2), step(3, "restartDeployment"))
    (error,) = errors_of(document)
    assert error.path == f"{STEPS}[2].parameters"
    assert "'scaleDeployment' does not match action 'restartDeployment'" in error.message


def test_two_parameter_blocks() -> None:
    parameters = {**scale(), "cordonNode": {"nodeName": "n1"}}
    (error,) = errors_of(wfe(step(1, parameters=parameters)))
    assert error.path == f"{STEPS}[0].parameters"
    assert "got 2: scaleDeployment, cordonNode" in error.message


def test_no_parameter_block() -> None:
    (error,) = errors_of(wfe(step(1, parameters={})))
    assert error.path == f"{STEPS}[0].parameters"
    assert error.message.startswith("exactly one parameter block is required")


def test_missing_parameters() -> None:
    document = wfe(step(1))
    del document["spec"]["workflowDefinition"]["steps"][0]["parameters"]
    assert errors_of(document) == [FieldError(f"{STEPS}[0].parameters", "Field required")]


def test_non_hex_fingerprint() -> None:
    assert paths_of(rr(signalFingerprint="G" * 64)) == ["spec.signalFingerprint"]
    assert paths_of(rr(signalFingerprint="A" * 64)) == ["spec.signalFingerprint"]
    assert paths_of(rr(signalFingerprint="a" * 63)) == ["spec.signalFingerprint"]


def test_negative_replica_count() -> None:
    (error,) = errors_of(wfe(step(1), step(2, parameters=scale(-1))))
    assert error.path == f"{STEPS}[1].parameters.scaleDeployment.replicas"
    assert "greater than or equal to 0" in error.message


def test_malformed_duration() -> None:
    (error,) = errors_of(wfe(step(1, timeout="5 minutes")))
    assert error.path == f"{STEPS}[0].timeout"
    assert "invalid duration '5 minutes'" in error.message
    assert paths_of(rr(timeouts={"global": "0s"})) == ["spec.timeouts.global"]


def test_rollback_spec_parameters_must_match_its_action() -> None:
    rollback = {"action": "rollbackDeployment", "parameters": scale(1)}
    assert paths_of(wfe(step(1, rollbackSpec=rollback))) == [f"{STEPS}[0].rollbackSpec.parameters"]


def test_unknown_action_reports_only_the_action() -> None:
    assert paths_of(wfe(step(1, "rebootCluster"))) == [f"{STEPS}[0].action"]


def test_strings_are_not_coerced_to_numbers() -> None:
    assert paths_of(wfe(step(1, parameters=scale("3")))) == [
        f"{STEPS}[0].parameters.scaleDeployment.replicas"
    ]


def test_unknown_fields_are_rejected_in_spec_and_status() -> None:
    document = rr(priority="P0")
    document["status"] = {"phase": "Pending", "colour": "red"}
    assert paths_of(document) == ["spec.priority", "status.colour"]


def test_snake_case_names_are_not_accepted_on_the_wire() -> None:
    document = rr()
    document["spec"]["signal_name"] = document["spec"].pop("signalName")
    assert paths_of(document) == ["spec.signalName", "spec.signal_name"]


def test_invalid_phase_for_the_kind() -> None:
    document = rr()
    document["status"] = {"phase": "RolledBack"}
    assert paths_of(document) == ["status.phase"]


def test_wrong_api_version_kind_and_non_objects() -> None:
    document = rr()
    document["apiVersion"] = "kubernaut.io/v1"
    document["kind"] = "Pod"
    assert paths_of(document) == ["apiVersion", "kind"]
    assert errors_of([])[0].message == "expected an object"  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="apiVersion"):
        parse_resource({"kind": "RemediationRequest"})


def test_restart_pod_needs_exactly_one_of_pod_name_and_selector() -> None:
    both = {"restartPod": {"namespace": "shop", "podName": "p", "selector": "app=web"}}
    neither = {"restartPod": {"namespace": "shop"}}
    for parameters in (both, neither):
        assert paths_of(wfe(step(1, "restartPod", parameters=parameters))) == [
            f"{STEPS}[0].parameters.restartPod"
        ]


def test_dag_errors_come_after_a_clean_schema() -> None:
    document = wfe(step(1, dependsOn=[2]), step(2, dependsOn=[1]))
    assert paths_of(document) == [f"{STEPS}[0].dependsOn"]


def test_selected_workflow_of_an_analysis_is_checked_too() -> None:
    document: dict[str, Any] = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "AIAnalysis",
        "metadata": {"name": "a"},
        "spec": {
            "remediationRequestRef": {"name": "rr"},
            "signal": {
                "fingerprint": FINGERPRINT,
                "name": "n",
                "severity": "s",
                "targetResource": TARGET,
            },
        },
        "status": {
            "phase": "Completed",
            "confidence": 0.9,
            "selectedWorkflow": {"name": "wf", "version": "1", "steps": [step(1, dependsOn=[3])]},
        },
    }
    assert paths_of(document) == ["status.selectedWorkflow.steps[0].dependsOn[0]"]
    document["status"]["confidence"] = 1.5
    assert paths_of(document) == ["status.confidence"]


# --- static defaults and round trips -------------------------------------------------


def test_static_defaults_are_added_and_nothing_else() -> None:
    document = wfe(step(1), step(2, dependsOn=[]))
    result = dump(parse_resource(document))
    expected = copy.deepcopy(document)
    expected["spec"]["workflowDefinition"]["steps"][0]["criticalStep"] = False
    expected["spec"]["workflowDefinition"]["steps"][1]["criticalStep"] = False
    for s in expected["spec"]["workflowDefinition"]["steps"]:
        s["parameters"]["scaleDeployment"]["allowScaleToZero"] = False
    expected["spec"]["executionStrategy"] = {"maxParallel": 3}
    expected["spec"]["timeouts"] = {"planning": "30s", "validating": "5m", "monitoring": "10m"}
    assert result == expected


def test_defaults_never_override_what_the_user_set() -> None:
    document = wfe(
        step(
            1,
            criticalStep=True,
            parameters={"drainNode": {"nodeName": "n", "ignoreDaemonSets": False}},
            action="drainNode",
        ),
        executionStrategy={"maxParallel": 1, "approvalRequired": False},
        timeouts={"planning": "30s"},
    )
    result = dump(parse_resource(document))
    assert result["spec"]["executionStrategy"] == {"maxParallel": 1, "approvalRequired": False}
    assert result["spec"]["timeouts"]["planning"] == "30s"
    first = result["spec"]["workflowDefinition"]["steps"][0]
    assert first["criticalStep"] is True
    assert first["parameters"]["drainNode"] == {
        "nodeName": "n",
        "ignoreDaemonSets": False,
        "deleteLocalData": False,
    }


def test_policy_defaulted_fields_have_no_static_default() -> None:
    # The mutation policy fills these per environment; a static default would hide them.
    strategy = ExecutionStrategy()
    assert strategy.approval_required is None
    assert strategy.dry_run_first is None
    assert strategy.rollback_strategy is None
    assert strategy.effective_rollback_strategy == "automatic"
    assert strategy.effective_approval_required is False
    s = WorkflowStep.model_validate(step(1))
    assert s.timeout is None
    assert s.max_retries is None


def test_remediation_request_timeouts_default() -> None:
    result = dump(parse_resource(rr(timeouts={"global": "2h"})))
    assert result["spec"]["timeouts"] == {
        "global": "2h",
        "processing": "5m",
        "analyzing": "10m",
        "awaitingApproval": "15m",
        "executing": "30m",
    }


def test_full_status_round_trips() -> None:
    document = rr()
    document["metadata"].update(
        {
            "uid": "0f0e",
            "resourceVersion": "42",
            "generation": 1,
            "creationTimestamp": "2026-11-29T07:20:03Z",
            "finalizers": ["remediationrequest.kubernaut.ai/cleanup"],
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1", "extra": 1}
            ],
            "somethingNew": {"kept": True},
        }
    )
    document["status"] = {
        "phase": "Executing",
        "phaseStartTime": "2026-11-29T07:21:00Z",
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "Executing",
                "message": "",
                "lastTransitionTime": "2026-11-29T07:21:00Z",
            }
        ],
        "transitions": [
            {"phase": "Pending", "at": "2026-11-29T07:20:03Z", "reason": "Created"},
            {
                "phase": "Executing",
                "at": "2026-11-29T07:21:00Z",
                "reason": "Approved",
                "message": "m",
            },
        ],
        "workflowExecutionRef": {
            "apiVersion": "kubernaut.ai/v1alpha1",
            "kind": "WorkflowExecution",
            "name": "w",
            "namespace": "shop",
        },
        "duplicateOf": {"name": "r0"},
        "occurrences": 3,
        "stepsCompleted": 1,
        "stepsTotal": 3,
    }
    parsed = parse_resource(document)
    assert isinstance(parsed, RemediationRequest)
    assert parsed.status is not None
    assert parsed.status.phase_start_time == datetime(2026, 11, 29, 7, 21, tzinfo=UTC)
    result = dump(parsed)
    expected = copy.deepcopy(document)
    expected["spec"]["timeouts"] = result["spec"]["timeouts"]
    assert result == expected


def test_transitions_are_capped_at_fifty() -> None:
    document = rr()
    entry = {"phase": "Pending", "at": "2026-11-29T07:20:03Z", "reason": "r"}
    document["status"] = {"transitions": [entry] * 51}
    assert paths_of(document) == ["status.transitions"]


def test_python_construction_by_attribute_name() -> None:
    spec = WorkflowExecutionSpec.model_validate(wfe(step(1))["spec"])
    built = WorkflowExecution(metadata=ObjectMeta(name="w", namespace="shop"), spec=spec)
    result = dump(built)
    assert result["apiVersion"] == "kubernaut.ai/v1alpha1"
    assert result["kind"] == "WorkflowExecution"
    assert result["metadata"] == {"name": "w", "namespace": "shop"}
    parameters = StepParameters(
        scale_deployment=ScaleDeploymentParams(namespace="a", deployment="b", replicas=0)
    )
    assert parameters.action == "scaleDeployment"
    assert parameters.block == parameters.scale_deployment
    definition = WorkflowDefinition(
        name="wf",
        version="1",
        steps=[
            WorkflowStep(step_number=1, name="s", action="scaleDeployment", parameters=parameters)
        ],
    )
    assert dump(definition)["steps"][0]["parameters"]["scaleDeployment"]["replicas"] == 0


def test_every_action_has_a_block_of_the_same_wire_name() -> None:
    aliases = [field.alias for field in StepParameters.model_fields.values()]
    assert aliases == list(ACTIONS)


def test_rollback_info_needs_matching_action() -> None:
    info = RollbackInfo.model_validate(
        {"available": True, "action": "scaleDeployment", "parameters": scale(2)}
    )
    assert info.parameters is not None
    assert info.parameters.action == "scaleDeployment"
    with pytest.raises(ValueError, match="does not match"):
        RollbackInfo.model_validate(
            {"available": True, "action": "uncordonNode", "parameters": scale(2)}
        )
    with pytest.raises(ValueError, match="need an action"):
        RollbackInfo.model_validate({"available": True, "parameters": scale(2)})


def test_kubernetes_execution_parameters_must_match() -> None:
    document: dict[str, Any] = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "KubernetesExecution",
        "metadata": {"name": "k"},
        "spec": {
            "workflowExecutionRef": {"name": "w"},
            "stepNumber": 1,
            "action": "cordonNode",
            "parameters": {"uncordonNode": {"nodeName": "n"}},
            "targetResource": {"apiVersion": "v1", "kind": "Node", "name": "n"},
        },
    }
    assert paths_of(document) == ["spec.parameters"]
    document["spec"]["parameters"] = {"cordonNode": {"nodeName": "n"}}
    parsed = parse_resource(document)
    assert isinstance(parsed, KubernetesExecution)
    assert dump(parsed)["spec"]["dryRun"] is False


EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "valid"
T = "2026-11-29T07:25:00Z"
STATUSES: dict[str, dict[str, Any]] = {
    "signalprocessing.yaml": {
        "phase": "Completed",
        "targetFound": True,
        "ownerChain": [{"kind": "Deployment", "name": "checkout"}],
        "namespaceLabels": {"team": "payments"},
        "environment": "staging",
        "severity": "medium",
        "priority": "P3",
        "classificationReasons": ["namespace label"],
        "completionTime": T,
    },
    "aianalysis.yaml": {
        "phase": "Completed",
        "selectedWorkflow": {
            "name": "restart",
            "version": "1",
            "steps": [
                step(
                    1,
                    "restartDeployment",
                    parameters={"restartDeployment": {"namespace": "a", "deployment": "b"}},
                )
            ],
        },
        "confidence": 0.92,
        "rationale": "crash loop after config change",
        "analyzer": "catalog",
        "approvalRequired": False,
        "approvalReason": "confidence above threshold",
    },
    "workflowexecution.yaml": {
        "phase": "Executing",
        "currentStep": 3,
        "totalSteps": 3,
        "executionPlan": {"levels": [[1, 2], [3]], "strategy": "sequential-with-parallel"},
        "validationResults": {
            "safetyChecksPassed": True,
            "dryRunPerformed": True,
            "dryRunResults": {
                "overallSuccess": True,
                "stepsSimulated": 3,
                "stepResults": [{"stepNumber": 1, "action": "collectLogs", "wouldSucceed": True}],
            },
        },
        "stepStatuses": [
            {
                "stepNumber": 2,
                "action": "scaleDeployment",
                "status": "Completed",
                "startTime": T,
                "endTime": T,
                "retriesAttempted": 0,
                "result": {
                    "success": True,
                    "executionTime": "1.5s",
                    "scaleResult": {
                        "previousReplicas": 2,
                        "newReplicas": 4,
                        "namespace": "shop-staging",
                        "deployment": "checkout",
                    },
                    "resourcesAffected": [
                        {"kind": "Deployment", "name": "checkout", "changeType": "scaled"}
                    ],
                },
                "executionRef": {
                    "apiVersion": "kubernaut.ai/v1alpha1",
                    "kind": "KubernetesExecution",
                    "name": "step-2",
                },
            }
        ],
        "executionMetrics": {"totalDuration": "2m", "stepSuccessRate": 1.0},
        "workflowResult": {"outcome": "Succeeded", "effectivenessScore": 0.8},
        "executionStartTime": T,
    },
    "kubernetesexecution.yaml": {
        "phase": "Completed",
        "attempts": 2,
        "jobName": "checkout-crashloop-7f3c2-workflow-step-2-2",
        "executionResult": {"success": True},
        "validationResults": {
            "preConditionResults": [
                {"conditionType": "deployment-exists", "passed": True, "evaluationTime": T}
            ]
        },
        "rollbackInfo": {
            "available": True,
            "action": "scaleDeployment",
            "parameters": scale(2),
        },
    },
    "notificationrequest.yaml": {
        "phase": "PartiallySent",
        "deliveryAttempts": [
            {"channel": "log", "attempt": 1, "at": T, "outcome": "Success"},
            {"channel": "slack", "attempt": 1, "at": T, "outcome": "Failure", "error": "503"},
        ],
        "successfulDeliveries": 1,
        "failedDeliveries": 1,
    },
}


@pytest.mark.parametrize("name", sorted(STATUSES))
def test_status_round_trips(name: str) -> None:
    document = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    document["status"] = STATUSES[name]
    result = dump(parse_resource(document))
    assert_contains(result["status"], STATUSES[name])
    assert result["status"].keys() == STATUSES[name].keys()
    assert dump(parse_resource(result)) == result


def assert_contains(outer: Any, inner: Any, path: str = "status") -> None:
    """``outer`` equals ``inner`` except for added object keys (static defaults)."""
    if isinstance(inner, dict):
        assert isinstance(outer, dict), path
        for key, value in inner.items():
            assert key in outer, f"{path}.{key} was dropped"
            assert_contains(outer[key], value, f"{path}.{key}")
    elif isinstance(inner, list):
        assert isinstance(outer, list), path
        assert len(outer) == len(inner), path
        for index, (a, b) in enumerate(zip(outer, inner, strict=True)):
            assert_contains(a, b, f"{path}[{index}]")
    else:
        assert outer == inner, path
