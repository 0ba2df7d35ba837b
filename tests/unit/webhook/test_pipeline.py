"""The admission pipeline over real AdmissionReview v1 documents and the shipped policies."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.workflowexecution import WorkflowTimeouts
from webhook.handler import handle
from webhook.pipeline import AdmissionPipeline, Endpoint
from webhook.policy import EmbeddedPolicyEngine, PolicyEngine, PolicyEvaluationError
from webhook.review import decode_review

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
NOW = datetime(2026, 11, 29, 7, 30, 0, tzinfo=UTC)
UID = "3b2c6a52-1c43-4a5e-9d39-3c0f7c1d6a11"
# The schema's static defaults of spec.timeouts (owned by api/).
STATIC_WORKFLOW_TIMEOUTS = WorkflowTimeouts().model_dump(mode="json", exclude_none=True)
PLURALS = {
    "RemediationRequest": "remediationrequests",
    "SignalProcessing": "signalprocessings",
    "AIAnalysis": "aianalyses",
    "WorkflowExecution": "workflowexecutions",
    "KubernetesExecution": "kubernetesexecutions",
    "NotificationRequest": "notificationrequests",
}


@pytest.fixture(scope="module")
def engine() -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine(ROOT / "policies")


@pytest.fixture
def pipeline(engine: EmbeddedPolicyEngine) -> AdmissionPipeline:
    return AdmissionPipeline(engine, clock=lambda: NOW)


def example(name: str) -> dict[str, Any]:
    document = yaml.safe_load((EXAMPLES / "valid" / name).read_text())
    assert isinstance(document, dict)
    return document


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    sub_resource: str = "",
    user: str = "alice",
    groups: tuple[str, ...] = ("system:authenticated",),
    dry_run: bool = False,
) -> dict[str, Any]:
    source = obj if obj is not None else old
    assert source is not None
    kind = source["kind"]
    request: dict[str, Any] = {
        "uid": UID,
        "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": kind},
        "resource": {"group": "kubernaut.ai", "version": "v1alpha1", "resource": PLURALS[kind]},
        "requestKind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": kind},
        "name": source["metadata"]["name"],
        "namespace": source["metadata"]["namespace"],
        "operation": operation,
        "userInfo": {"username": user, "groups": list(groups)},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}Options"},
    }
    if sub_resource:
        request["subResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def call(
    pipeline: AdmissionPipeline, endpoint: Endpoint, document: dict[str, Any]
) -> dict[str, Any]:
    answer = handle(pipeline, endpoint, json.dumps(document).encode())
    assert answer.status_code == 200, answer.body
    response = json.loads(answer.body)
    assert response["apiVersion"] == "admission.k8s.io/v1"
    assert response["kind"] == "AdmissionReview"
    assert response["response"]["uid"] == UID
    return dict(response["response"])


def patch_of(response: dict[str, Any]) -> list[dict[str, Any]]:
    if "patch" not in response:
        return []
    assert response["patchType"] == "JSONPatch"
    return list(json.loads(base64.b64decode(response["patch"])))


def stored(pipeline: AdmissionPipeline, obj: dict[str, Any], user: str = "alice") -> dict[str, Any]:
    """The object as the API server stores it after CREATE (mutated, then validated)."""
    request = decode_review(json.dumps(review(obj, user=user)).encode()).request
    mutated = pipeline.mutate(request)
    assert mutated.object is not None
    document = dict(mutated.object)
    assert call(pipeline, Endpoint.VALIDATE, review(document, user=user))["allowed"]
    return document


# -- CREATE -----------------------------------------------------------------------


def test_mutate_create_of_a_workflow_execution_gives_the_exact_patch(
    pipeline: AdmissionPipeline,
) -> None:
    response = call(pipeline, Endpoint.MUTATE, review(example("workflowexecution.yaml")))
    assert response["allowed"] is True
    steps = "/spec/workflowDefinition/steps"
    assert patch_of(response) == [
        {"op": "add", "path": f"{steps}/0/criticalStep", "value": False},
        {
            "op": "add",
            "path": f"{steps}/1/parameters/scaleDeployment/allowScaleToZero",
            "value": False,
        },
        {"op": "add", "path": f"{steps}/1/criticalStep", "value": False},
        {
            "op": "add",
            "path": f"{steps}/1/rollbackSpec/parameters/scaleDeployment/allowScaleToZero",
            "value": False,
        },
        {"op": "add", "path": "/spec/executionStrategy/safetyChecks/0/required", "value": True},
        {"op": "add", "path": "/spec/timeouts", "value": STATIC_WORKFLOW_TIMEOUTS},
        {"op": "add", "path": "/metadata/annotations", "value": {}},
        {"op": "add", "path": "/metadata/annotations/kubernaut.ai~1created-by", "value": "alice"},
        {"op": "add", "path": f"{steps}/0/maxRetries", "value": 3},
        {"op": "add", "path": f"{steps}/0/timeout", "value": "5m"},
        {"op": "add", "path": f"{steps}/1/maxRetries", "value": 3},
    ]


def test_production_workflow_gets_the_execution_strategy_of_its_environment(
    pipeline: AdmissionPipeline,
) -> None:
    obj = example("workflowexecution.yaml")
    obj["metadata"]["labels"]["kubernaut.ai/environment"] = "production"
    del obj["spec"]["executionStrategy"]
    operations = patch_of(call(pipeline, Endpoint.MUTATE, review(obj)))
    strategy = [op for op in operations if op["path"].startswith("/spec/executionStrategy")]
    # The schema's static default first, then the environment's policy defaults.
    assert strategy == [
        {"op": "add", "path": "/spec/executionStrategy", "value": {"maxParallel": 3}},
        {"op": "add", "path": "/spec/executionStrategy/approvalRequired", "value": True},
        {"op": "add", "path": "/spec/executionStrategy/dryRunFirst", "value": True},
        {"op": "add", "path": "/spec/executionStrategy/rollbackStrategy", "value": "automatic"},
    ]


def test_defaults_never_override_what_the_user_wrote(pipeline: AdmissionPipeline) -> None:
    obj = example("workflowexecution.yaml")
    obj["metadata"]["labels"]["kubernaut.ai/environment"] = "production"
    obj["spec"]["executionStrategy"] = {"approvalRequired": True, "dryRunFirst": False}
    for step in obj["spec"]["workflowDefinition"]["steps"]:
        step["maxRetries"] = 0
        step["timeout"] = "1s"
        step["criticalStep"] = True
    obj["spec"]["timeouts"] = {"planning": "2m"}
    operations = patch_of(call(pipeline, Endpoint.MUTATE, review(obj)))
    paths = {operation["path"] for operation in operations}
    assert all(operation["op"] == "add" for operation in operations)
    assert "/spec/executionStrategy/dryRunFirst" not in paths
    assert "/spec/executionStrategy/rollbackStrategy" in paths
    assert not [path for path in paths if path.endswith(("/maxRetries", "/timeout"))]
    assert not [path for path in paths if path.endswith("/criticalStep")]
    assert "/spec/timeouts/planning" not in paths
    assert "/spec/timeouts/validating" in paths


@pytest.mark.parametrize("name", sorted(path.name for path in (EXAMPLES / "valid").glob("*.yaml")))
def test_every_valid_example_is_admitted_on_create(pipeline: AdmissionPipeline, name: str) -> None:
    document = stored(pipeline, example(name))
    assert document["metadata"]["name"] == example(name)["metadata"]["name"]


def test_validate_create_reports_policy_warnings(pipeline: AdmissionPipeline) -> None:
    obj = stored(pipeline, example("workflowexecution.yaml"))
    del obj["spec"]["workflowDefinition"]["steps"][2]["rollbackSpec"]
    response = call(pipeline, Endpoint.VALIDATE, review(obj))
    assert response["allowed"] is True
    assert response["warnings"] == [
        "step 3 (restart): critical step has no rollbackSpec, so automatic rollback cannot undo it"
    ]


def test_every_policy_denial_is_reported_with_403(pipeline: AdmissionPipeline) -> None:
    obj = example("workflowexecution.yaml")
    steps = obj["spec"]["workflowDefinition"]["steps"]
    steps[1]["parameters"]["scaleDeployment"]["replicas"] = 80
    steps[0]["parameters"]["collectLogs"]["namespace"] = "kube-system"
    obj = stored_without_validation(pipeline, obj)
    response = call(pipeline, Endpoint.VALIDATE, review(obj))
    assert response["allowed"] is False
    status = response["status"]
    assert status["code"] == 403
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        "WorkflowExecution shop-staging/checkout-crashloop-7f3c2-workflow is forbidden "
        "(2 violations): step 1 (collect-logs): namespace kube-system is protected; "
        "remediation may not act in it; step 2 (add-capacity): replicas 80 exceeds the maximum 50"
    )
    assert [cause["message"] for cause in status["details"]["causes"]] == [
        "step 1 (collect-logs): namespace kube-system is protected; remediation may not act in it",
        "step 2 (add-capacity): replicas 80 exceeds the maximum 50",
    ]


def stored_without_validation(pipeline: AdmissionPipeline, obj: dict[str, Any]) -> dict[str, Any]:
    request = decode_review(json.dumps(review(obj)).encode()).request
    mutated = pipeline.mutate(request)
    assert mutated.object is not None
    return dict(mutated.object)


def test_schema_errors_are_422_and_list_every_path(pipeline: AdmissionPipeline) -> None:
    obj = example("remediationrequest.yaml")
    obj["spec"]["signalFingerprint"] = "nope"
    obj["spec"]["priority"] = "P0"
    obj["metadata"]["annotations"] = {"kubernaut.ai/created-by": "alice"}
    response = call(pipeline, Endpoint.VALIDATE, review(obj))
    status = response["status"]
    assert response["allowed"] is False
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    fields = [cause["field"] for cause in status["details"]["causes"]]
    assert fields == ["spec.signalFingerprint", "spec.priority"]
    assert status["message"].startswith(
        "RemediationRequest shop-staging/checkout-crashloop-7f3c2 is invalid (2 violations): "
        "spec.signalFingerprint: "
    )


@pytest.mark.parametrize(
    "path", sorted((EXAMPLES / "invalid").glob("*.yaml")), ids=lambda path: path.name
)
def test_every_invalid_example_is_denied_with_its_expected_path(
    pipeline: AdmissionPipeline, path: Path
) -> None:
    text = path.read_text()
    expected = next(
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("# expect:")
    )
    obj = yaml.safe_load(text)
    response = call(pipeline, Endpoint.VALIDATE, review(obj))
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    assert expected in [cause["field"] for cause in response["status"]["details"]["causes"]]


def test_dry_run_gets_the_same_answer(pipeline: AdmissionPipeline) -> None:
    obj = example("workflowexecution.yaml")
    wet = call(pipeline, Endpoint.MUTATE, review(obj))
    dry = call(pipeline, Endpoint.MUTATE, review(obj, dry_run=True))
    assert wet == dry


# -- UPDATE of the main resource ---------------------------------------------------------


def test_spec_is_immutable(pipeline: AdmissionPipeline) -> None:
    old = stored(pipeline, example("workflowexecution.yaml"))
    new = copy.deepcopy(old)
    new["spec"]["workflowDefinition"]["steps"][1]["parameters"]["scaleDeployment"]["replicas"] = 6
    new["spec"]["executionStrategy"]["maxParallel"] = 1
    response = call(pipeline, Endpoint.VALIDATE, review(new, operation="UPDATE", old=old))
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    assert [cause["field"] for cause in response["status"]["details"]["causes"]] == [
        "spec.executionStrategy.maxParallel",
        "spec.workflowDefinition.steps[1].parameters.scaleDeployment.replicas",
    ]


def test_metadata_update_is_allowed_and_not_mutated(pipeline: AdmissionPipeline) -> None:
    old = stored(pipeline, example("workflowexecution.yaml"))
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["workflowexecution.kubernaut.ai/cleanup"]
    update = review(new, operation="UPDATE", old=old, user="system:serviceaccount:k:reconciler")
    assert patch_of(call(pipeline, Endpoint.MUTATE, update)) == []
    assert call(pipeline, Endpoint.VALIDATE, update)["allowed"] is True


def test_changing_the_creator_is_denied(pipeline: AdmissionPipeline) -> None:
    old = stored(pipeline, example("remediationrequest.yaml"))
    new = copy.deepcopy(old)
    new["metadata"]["annotations"]["kubernaut.ai/created-by"] = "mallory"
    response = call(pipeline, Endpoint.VALIDATE, review(new, operation="UPDATE", old=old))
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "field": "metadata.annotations[kubernaut.ai/created-by]",
            "message": "cannot be changed after the object was created",
        }
    ]


# -- /status UPDATE ------------------------------------------------------------------------


def with_phase(obj: dict[str, Any], phase: str | None) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    if phase is None:
        result.pop("status", None)
    else:
        result["status"] = {"phase": phase}
    return result


@pytest.mark.parametrize(
    ("name", "old_phase", "new_phase"),
    [
        ("remediationrequest.yaml", None, "Pending"),
        ("remediationrequest.yaml", "Analyzing", "AwaitingApproval"),
        ("workflowexecution.yaml", "Executing", "RollingBack"),
        ("kubernetesexecution.yaml", "Verifying", "Executing"),
        ("notificationrequest.yaml", "Sending", "Retrying"),
        ("signalprocessing.yaml", "Enriching", "Failed"),
    ],
)
def test_legal_phase_transitions_are_allowed(
    pipeline: AdmissionPipeline, name: str, old_phase: str | None, new_phase: str
) -> None:
    obj = stored(pipeline, example(name))
    old, new = with_phase(obj, old_phase), with_phase(obj, new_phase)
    update = review(new, operation="UPDATE", old=old, sub_resource="status")
    assert patch_of(call(pipeline, Endpoint.MUTATE, update)) == []
    response = call(pipeline, Endpoint.VALIDATE, update)
    assert response["allowed"] is True, response


@pytest.mark.parametrize(
    ("old_phase", "new_phase", "message"),
    [
        (
            "Completed",
            "Executing",
            "Completed is a terminal phase of RemediationRequest; it cannot change to Executing",
        ),
        (
            "Pending",
            "Executing",
            "RemediationRequest cannot move from Pending to Executing; "
            "allowed: Pending, Failed, Processing, Skipped, TimedOut",
        ),
        ("Processing", None, "cannot be removed once set (was Processing)"),
        (
            None,
            "Processing",
            "RemediationRequest cannot move from no phase to Processing; allowed: Pending",
        ),
    ],
)
def test_illegal_phase_transitions_are_denied(
    pipeline: AdmissionPipeline, old_phase: str | None, new_phase: str | None, message: str
) -> None:
    obj = stored(pipeline, example("remediationrequest.yaml"))
    old, new = with_phase(obj, old_phase), with_phase(obj, new_phase)
    update = review(new, operation="UPDATE", old=old, sub_resource="status")
    response = call(pipeline, Endpoint.VALIDATE, update)
    assert response["allowed"] is False
    assert response["status"]["code"] == 422
    assert response["status"]["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "field": "status.phase", "message": message}
    ]


def test_status_schema_is_checked_on_status_updates(pipeline: AdmissionPipeline) -> None:
    obj = stored(pipeline, example("remediationrequest.yaml"))
    old = with_phase(obj, "Pending")
    new = with_phase(obj, "Processing")
    new["status"]["phaseStartTime"] = "yesterday"
    update = review(new, operation="UPDATE", old=old, sub_resource="status")
    response = call(pipeline, Endpoint.VALIDATE, update)
    assert response["allowed"] is False
    assert [cause["field"] for cause in response["status"]["details"]["causes"]] == [
        "status.phaseStartTime"
    ]


def test_status_updates_are_not_blocked_by_an_unchanged_spec_invalid_under_a_newer_schema(
    pipeline: AdmissionPipeline,
) -> None:
    obj = stored(pipeline, example("remediationrequest.yaml"))
    obj["spec"]["retiredField"] = "kept from an older version"
    old, new = with_phase(obj, "Pending"), with_phase(obj, "Processing")
    update = review(new, operation="UPDATE", old=old, sub_resource="status")
    assert call(pipeline, Endpoint.VALIDATE, update)["allowed"] is True


# -- DELETE --------------------------------------------------------------------------------


class _RecordingEngine(PolicyEngine):
    """Denies deletes of objects named 'keep'; records the inputs it sees."""

    def __init__(self) -> None:
        self.inputs: list[dict[str, Any]] = []

    def _evaluate(self, rules: Any, policy_input: Any) -> list[Any]:
        self.inputs.append(dict(policy_input))
        values: list[Any] = []
        for rule in rules:
            deny = policy_input["operation"] == "DELETE" and policy_input["name"] == "keep"
            if rule == "data.kubernaut.admission.deny" and deny:
                values.append(["keep may not be deleted"])
            else:
                values.append(None)
        return values

    def status(self) -> Any:
        raise NotImplementedError


def test_delete_is_judged_by_policy_with_a_null_object() -> None:
    engine = _RecordingEngine()
    pipeline = AdmissionPipeline(engine, clock=lambda: NOW)
    old = example("signalprocessing.yaml")
    response = call(pipeline, Endpoint.VALIDATE, review(None, operation="DELETE", old=old))
    assert response["allowed"] is True
    assert engine.inputs[-1]["object"] is None
    assert engine.inputs[-1]["oldObject"] == old
    old["metadata"]["name"] = "keep"
    response = call(pipeline, Endpoint.VALIDATE, review(None, operation="DELETE", old=old))
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["message"].endswith("keep may not be deleted")


def test_delete_with_shipped_policies_is_allowed_and_never_mutated(
    pipeline: AdmissionPipeline,
) -> None:
    old = example("workflowexecution.yaml")
    delete = review(None, operation="DELETE", old=old)
    assert call(pipeline, Endpoint.VALIDATE, delete) == {"uid": UID, "allowed": True}
    assert call(pipeline, Endpoint.MUTATE, delete) == {"uid": UID, "allowed": True}


# -- the policy input document ----------------------------------------------------------------


def test_policy_input_follows_the_contract() -> None:
    engine = _RecordingEngine()
    pipeline = AdmissionPipeline(engine, clock=lambda: NOW)
    obj = example("workflowexecution.yaml")
    call(pipeline, Endpoint.VALIDATE, review(obj, dry_run=True, groups=("ops",)))
    document = engine.inputs[-1]
    assert document == {
        "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["ops"]},
        "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "WorkflowExecution"},
        "resource": {
            "group": "kubernaut.ai",
            "version": "v1alpha1",
            "resource": "workflowexecutions",
        },
        "subResource": "",
        "namespace": "shop-staging",
        "name": "checkout-crashloop-7f3c2-workflow",
        "dryRun": True,
        "object": obj,
        "oldObject": None,
    }


# -- scope and failures ------------------------------------------------------------------------


def test_resources_outside_kubernaut_are_allowed_untouched(pipeline: AdmissionPipeline) -> None:
    document = review(example("workflowexecution.yaml"))
    request = document["request"]
    request["kind"] = {"group": "apps", "version": "v1", "kind": "Deployment"}
    request["resource"] = {"group": "apps", "version": "v1", "resource": "deployments"}
    request["object"] = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"bogus": 1}}
    for endpoint in Endpoint:
        assert call(pipeline, endpoint, document) == {"uid": UID, "allowed": True}


class _BrokenEngine(PolicyEngine):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def _evaluate(self, rules: Any, policy_input: Any) -> list[Any]:
        raise self.error

    def status(self) -> Any:
        raise NotImplementedError


@pytest.mark.parametrize("endpoint", list(Endpoint))
def test_a_policy_evaluation_error_is_a_denial_with_code_500(endpoint: Endpoint) -> None:
    pipeline = AdmissionPipeline(_BrokenEngine(PolicyEvaluationError("data.x: boom")))
    response = call(pipeline, endpoint, review(example("signalprocessing.yaml")))
    assert response["allowed"] is False
    assert response["status"]["code"] == 500
    assert "policy evaluation failed" in response["status"]["message"]
    assert "boom" in response["status"]["message"]


def test_a_bug_is_a_denial_with_code_500_and_a_logged_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = AdmissionPipeline(_BrokenEngine(KeyError("surprise")))
    response = call(pipeline, Endpoint.MUTATE, review(example("signalprocessing.yaml")))
    assert response["allowed"] is False
    assert response["status"]["code"] == 500
    assert "KeyError" in response["status"]["message"]
    failures = [record for record in caplog.records if record.exc_info]
    assert failures
    assert failures[0].getMessage() == "admission pipeline failed"
