"""Malformed and random reviews never make the pipeline raise; answers are always well formed."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhook.handler import handle
from webhook.pipeline import AdmissionPipeline, Endpoint
from webhook.policy import EmbeddedPolicyEngine
from webhook.review import MAX_REVIEW_BYTES

ROOT = Path(__file__).resolve().parents[3]
KINDS = [
    "RemediationRequest",
    "SignalProcessing",
    "AIAnalysis",
    "WorkflowExecution",
    "KubernetesExecution",
    "NotificationRequest",
    "Deployment",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)

field_names = st.sampled_from(
    [
        "apiVersion",
        "kind",
        "metadata",
        "spec",
        "status",
        "annotations",
        "labels",
        "name",
        "phase",
        "steps",
        "workflowDefinition",
        "kubernaut.ai/approval",
        "kubernaut.ai/approved-by",
    ]
)
objects = st.recursive(
    json_values,
    lambda children: st.dictionaries(field_names | st.text(max_size=6), children, max_size=6),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def pipeline() -> AdmissionPipeline:
    return AdmissionPipeline(EmbeddedPolicyEngine(ROOT / "policies"))


def _check_answer(status: int, body: bytes, uid: str | None) -> None:
    document = json.loads(body)
    if status == 400:
        assert document["kind"] == "Status"
        assert document["code"] == 400
        assert document["message"]
        return
    assert status == 200
    response = document["response"]
    assert document["kind"] == "AdmissionReview"
    assert response["uid"] == uid
    assert isinstance(response["allowed"], bool)
    if not response["allowed"]:
        assert response["status"]["code"] in (403, 422, 500)
        assert response["status"]["message"]
    if "patch" in response:
        assert isinstance(json.loads(base64.b64decode(response["patch"])), list)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=200) | json_values.map(lambda value: json.dumps(value).encode()))
def test_garbage_gets_400(pipeline: AdmissionPipeline, body: bytes) -> None:
    for endpoint in Endpoint:
        answer = handle(pipeline, endpoint, body)
        _check_answer(answer.status_code, answer.body, None)
        assert answer.status_code == 400


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    uid=st.text(min_size=1, max_size=36),
    kind=st.sampled_from(KINDS),
    operation=st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
    sub_resource=st.sampled_from(["", "status", "scale"]),
    obj=st.none() | objects,
    old=st.none() | objects,
    groups=st.lists(st.text(max_size=10), max_size=3),
    extra=st.dictionaries(st.text(max_size=6), json_values, max_size=3),
)
def test_random_reviews_always_get_a_well_formed_answer(  # noqa: PLR0917 - hypothesis arguments
    pipeline: AdmissionPipeline,
    uid: str,
    kind: str,
    operation: str,
    sub_resource: str,
    obj: Any,
    old: Any,
    groups: list[str],
    extra: dict[str, Any],
) -> None:
    group = "apps" if kind == "Deployment" else "kubernaut.ai"
    request = {
        **extra,
        "uid": uid,
        "kind": {"group": group, "version": "v1alpha1", "kind": kind},
        "resource": {"group": group, "version": "v1alpha1", "resource": kind.lower() + "s"},
        "subResource": sub_resource,
        "operation": operation,
        "userInfo": {"username": "u", "groups": groups},
        "object": obj,
        "oldObject": old,
    }
    body = json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()
    for endpoint in Endpoint:
        answer = handle(pipeline, endpoint, body)
        _check_answer(answer.status_code, answer.body, uid)
        objects_ok = (obj is None or isinstance(obj, dict)) and (
            old is None or isinstance(old, dict)
        )
        needs_object = operation in ("CREATE", "UPDATE") and obj is None
        needs_old = operation == "UPDATE" and old is None
        expected_400 = not objects_ok or needs_object or needs_old
        assert (answer.status_code == 400) == expected_400


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not valid JSON"),
        (b"", "empty request body"),
        (
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}
            ).encode(),
            "not an admission.k8s.io/v1 AdmissionReview",
        ),
        (b" " * (MAX_REVIEW_BYTES + 1), "exceeds the limit"),
    ],
)
def test_malformed_reviews_get_400_with_a_clear_message(
    pipeline: AdmissionPipeline, body: bytes, message: str
) -> None:
    answer = handle(pipeline, Endpoint.VALIDATE, body)
    assert answer.status_code == 400
    assert message in json.loads(answer.body)["message"]


def test_a_review_without_uid_gets_400(pipeline: AdmissionPipeline) -> None:
    body = json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "AIAnalysis"},
                "resource": {"group": "kubernaut.ai", "version": "v1alpha1", "resource": "x"},
                "operation": "CREATE",
                "object": {},
            },
        }
    ).encode()
    answer = handle(pipeline, Endpoint.MUTATE, body)
    assert answer.status_code == 400
    assert "request.uid" in json.loads(answer.body)["message"]
