"""AdmissionReview decoding and response documents."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from webhook.review import MAX_REVIEW_BYTES, MalformedReviewError, decode_review, review_response


def _review(**request_overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "WorkflowExecution"},
        "resource": {
            "group": "kubernaut.ai",
            "version": "v1alpha1",
            "resource": "workflowexecutions",
        },
        "subResource": "status",
        "name": "wf",
        "namespace": "shop",
        "operation": "UPDATE",
        "userInfo": {"username": "alice", "groups": ["ops", "system:authenticated"]},
        "object": {"spec": {}},
        "oldObject": {"spec": {}},
        "dryRun": True,
        "options": {"kind": "UpdateOptions"},
    }
    request.update(request_overrides)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def test_decodes_every_field_the_pipeline_reads() -> None:
    review = decode_review(json.dumps(_review()).encode())
    request = review.request
    assert request.uid == "705ab4f5-6393-11e8-b7cc-42010a800002"
    assert request.kind.kind == "WorkflowExecution"
    assert request.resource.resource == "workflowexecutions"
    assert request.sub_resource == "status"
    assert request.operation == "UPDATE"
    assert request.user_info.username == "alice"
    assert request.user_info.groups == ("ops", "system:authenticated")
    assert request.old_object == {"spec": {}}
    assert request.dry_run is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty request body"),
        (b"{not json", "not valid JSON"),
        (b"[]", "not an admission.k8s.io/v1 AdmissionReview"),
        (
            json.dumps({**_review(), "apiVersion": "admission.k8s.io/v1beta1"}).encode(),
            "apiVersion",
        ),
        (json.dumps({**_review(), "kind": "Pod"}).encode(), "kind"),
        (json.dumps(_review(uid="")).encode(), "request.uid"),
        (json.dumps(_review(operation="PATCH")).encode(), "request.operation"),
        (json.dumps({k: v for k, v in _review().items() if k != "request"}).encode(), "request"),
    ],
)
def test_malformed_bodies_are_rejected_with_a_message_naming_the_problem(
    body: bytes, message: str
) -> None:
    with pytest.raises(MalformedReviewError, match=message):
        decode_review(body)


def test_a_missing_uid_is_named() -> None:
    review = _review()
    del review["request"]["uid"]
    with pytest.raises(MalformedReviewError, match=r"request\.uid: Field required"):
        decode_review(json.dumps(review).encode())


def test_oversized_body_is_rejected_before_parsing() -> None:
    with pytest.raises(MalformedReviewError, match="exceeds the limit"):
        decode_review(b" " * (MAX_REVIEW_BYTES + 1))


def test_allowed_response_with_patch_and_warnings() -> None:
    patch = [{"op": "add", "path": "/spec/x", "value": 1}]
    document = review_response("u1", allowed=True, patch=patch, warnings=["careful"])
    response = document["response"]
    assert document["apiVersion"] == "admission.k8s.io/v1"
    assert document["kind"] == "AdmissionReview"
    assert response["uid"] == "u1"
    assert response["allowed"] is True
    assert "status" not in response
    assert response["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(response["patch"])) == patch
    assert response["warnings"] == ["careful"]


def test_denial_carries_code_and_message_and_no_patch() -> None:
    response = review_response("u2", allowed=False, message="no")["response"]
    assert response == {"uid": "u2", "allowed": False, "status": {"code": 403, "message": "no"}}


def test_an_empty_patch_is_omitted() -> None:
    response = review_response("u3", allowed=True, patch=[])["response"]
    assert "patch" not in response
    assert "patchType" not in response
