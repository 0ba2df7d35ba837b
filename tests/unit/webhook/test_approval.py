"""Approval stamps, forgery checks and the approval policies, through the real pipeline."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from webhook.handler import handle
from webhook.patch import apply_patch
from webhook.pipeline import AdmissionPipeline, Endpoint

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 29, 7, 30, 0, tzinfo=UTC)
STAMP_TIME = "2026-11-29T07:30:00Z"
UID = "a4d3b1b6-7e38-4d69-8f0e-5b8f3b2d9c01"
APPROVAL = "kubernaut.ai/approval"
APPROVED_BY = "kubernaut.ai/approved-by"
APPROVED_AT = "kubernaut.ai/approved-at"
CREATED_BY = "kubernaut.ai/created-by"
PERSON = ("system:authenticated",)
APPROVER = ("kubernaut-approvers", "system:authenticated")
RECONCILER = "system:serviceaccount:kubernaut-system:kubernaut-reconciler"


@pytest.fixture(scope="module")
def pipeline() -> AdmissionPipeline:
    from webhook.policy import EmbeddedPolicyEngine

    return AdmissionPipeline(EmbeddedPolicyEngine(ROOT / "policies"), clock=lambda: NOW)


def review(
    obj: dict[str, Any], old: dict[str, Any] | None, user: str, groups: tuple[str, ...]
) -> bytes:
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": UID,
                "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": obj["kind"]},
                "resource": {
                    "group": "kubernaut.ai",
                    "version": "v1alpha1",
                    "resource": obj["kind"].lower() + "s",
                },
                "name": obj["metadata"]["name"],
                "namespace": obj["metadata"]["namespace"],
                "operation": "UPDATE" if old is not None else "CREATE",
                "userInfo": {"username": user, "groups": list(groups)},
                "object": obj,
                "oldObject": old,
            },
        }
    ).encode()


def mutate(
    pipeline: AdmissionPipeline,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    user: str,
    groups: tuple[str, ...],
) -> list[dict[str, Any]]:
    answer = handle(pipeline, Endpoint.MUTATE, review(obj, old, user, groups))
    response = json.loads(answer.body)["response"]
    assert response["uid"] == UID
    assert response["allowed"] is True
    return list(json.loads(base64.b64decode(response["patch"]))) if "patch" in response else []


def validate(
    pipeline: AdmissionPipeline,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    user: str,
    groups: tuple[str, ...],
) -> dict[str, Any]:
    answer = handle(pipeline, Endpoint.VALIDATE, review(obj, old, user, groups))
    response: dict[str, Any] = json.loads(answer.body)["response"]
    assert response["uid"] == UID
    return response


def admit(
    pipeline: AdmissionPipeline,
    obj: dict[str, Any],
    old: dict[str, Any] | None,
    user: str,
    groups: tuple[str, ...] = PERSON,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mutate, apply the patch, validate: the stored object and the validation response."""
    mutated = apply_patch(obj, mutate(pipeline, obj, old, user, groups))
    return mutated, validate(pipeline, mutated, old, user, groups)


def created(pipeline: AdmissionPipeline, environment: str = "staging") -> dict[str, Any]:
    obj = yaml.safe_load((ROOT / "examples/valid/remediationrequest.yaml").read_text())
    obj["metadata"]["labels"]["kubernaut.ai/environment"] = environment
    stored, response = admit(pipeline, obj, None, RECONCILER, ("system:serviceaccounts",))
    assert response["allowed"] is True, response
    assert stored["metadata"]["annotations"] == {CREATED_BY: RECONCILER}
    return stored


def with_annotations(obj: dict[str, Any], **changes: str | None) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    annotations = result["metadata"].setdefault("annotations", {})
    for key, value in changes.items():
        name = {
            "approval": APPROVAL,
            "approved_by": APPROVED_BY,
            "approved_at": APPROVED_AT,
            "created_by": CREATED_BY,
        }[key]
        if value is None:
            annotations.pop(name, None)
        else:
            annotations[name] = value
    return result


def causes(response: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (cause.get("field", ""), cause["message"])
        for cause in response["status"]["details"]["causes"]
    ]


def test_approving_stamps_the_approver_and_the_time(pipeline: AdmissionPipeline) -> None:
    old = created(pipeline)
    new = with_annotations(old, approval="approved")
    assert mutate(pipeline, new, old, "bob", PERSON) == [
        {"op": "add", "path": "/metadata/annotations/kubernaut.ai~1approved-by", "value": "bob"},
        {
            "op": "add",
            "path": "/metadata/annotations/kubernaut.ai~1approved-at",
            "value": STAMP_TIME,
        },
    ]
    stored, response = admit(pipeline, new, old, "bob")
    assert response == {"uid": UID, "allowed": True}
    assert stored["metadata"]["annotations"][APPROVED_BY] == "bob"


def test_stamps_written_by_the_requester_are_replaced_on_an_approval(
    pipeline: AdmissionPipeline,
) -> None:
    old = created(pipeline)
    new = with_annotations(
        old, approval="approved", approved_by="carol", approved_at="2020-01-01T00:00:00Z"
    )
    stored, response = admit(pipeline, new, old, "bob")
    assert response["allowed"] is True
    assert stored["metadata"]["annotations"][APPROVED_BY] == "bob"
    assert stored["metadata"]["annotations"][APPROVED_AT] == STAMP_TIME


def test_setting_the_stamps_without_an_approval_change_is_forgery(
    pipeline: AdmissionPipeline,
) -> None:
    old, _ = admit(
        pipeline, with_annotations(created(pipeline), approval="approved"), created(pipeline), "bob"
    )
    forged = with_annotations(old, approved_by="carol", approved_at="2020-01-01T00:00:00Z")
    assert mutate(pipeline, forged, old, "mallory", PERSON) == []
    response = validate(pipeline, forged, old, "mallory", PERSON)
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert [field for field, _ in causes(response)] == [
        f"metadata.annotations[{APPROVED_BY}]",
        f"metadata.annotations[{APPROVED_AT}]",
    ]
    assert all("forgery" in message for _, message in causes(response))


def test_an_approval_that_skipped_the_mutating_webhook_is_denied(
    pipeline: AdmissionPipeline,
) -> None:
    old = created(pipeline)
    new = with_annotations(old, approval="approved", approved_by="carol", approved_at=STAMP_TIME)
    response = validate(pipeline, new, old, "bob", PERSON)
    assert response["allowed"] is False
    assert causes(response) == [
        (
            f"metadata.annotations[{APPROVED_BY}]",
            "must name the approving user 'bob', got 'carol' (forgery)",
        )
    ]


def test_nobody_approves_their_own_request(pipeline: AdmissionPipeline) -> None:
    obj = yaml.safe_load((ROOT / "examples/valid/remediationrequest.yaml").read_text())
    old, response = admit(pipeline, obj, None, "dave")
    assert response["allowed"] is True
    _, response = admit(pipeline, with_annotations(old, approval="approved"), old, "dave")
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert causes(response) == [
        (
            "",
            "dave may not approve RemediationRequest checkout-crashloop-7f3c2: "
            "nobody approves a request they created",
        )
    ]
    # Rejecting one's own request is allowed.
    _, response = admit(pipeline, with_annotations(old, approval="rejected"), old, "dave")
    assert response["allowed"] is True


def test_a_rejection_is_final(pipeline: AdmissionPipeline) -> None:
    old, response = admit(
        pipeline, with_annotations(created(pipeline), approval="rejected"), created(pipeline), "bob"
    )
    assert response["allowed"] is True
    _, response = admit(pipeline, with_annotations(old, approval="approved"), old, "erin")
    assert response["allowed"] is False
    assert (
        "",
        "RemediationRequest checkout-crashloop-7f3c2 was rejected; a rejection is final",
    ) in causes(response)


def test_production_needs_a_member_of_an_approver_group(pipeline: AdmissionPipeline) -> None:
    old = created(pipeline, "production")
    new = with_annotations(old, approval="approved")
    _, response = admit(pipeline, new, old, "bob", PERSON)
    assert response["allowed"] is False
    assert "membership of one of [kubernaut-approvers] is required" in response["status"]["message"]
    _, response = admit(pipeline, new, old, "bob", APPROVER)
    assert response["allowed"] is True


def test_service_accounts_do_not_approve(pipeline: AdmissionPipeline) -> None:
    old = created(pipeline)
    _, response = admit(
        pipeline,
        with_annotations(old, approval="approved"),
        old,
        RECONCILER,
        ("system:serviceaccounts", "system:authenticated"),
    )
    assert response["allowed"] is False
    assert response["status"]["code"] == 403


def test_removing_the_approval_removes_its_stamps(pipeline: AdmissionPipeline) -> None:
    old, _ = admit(
        pipeline, with_annotations(created(pipeline), approval="approved"), created(pipeline), "bob"
    )
    new = with_annotations(old, approval=None)
    assert mutate(pipeline, new, old, "bob", PERSON) == [
        {"op": "remove", "path": "/metadata/annotations/kubernaut.ai~1approved-by"},
        {"op": "remove", "path": "/metadata/annotations/kubernaut.ai~1approved-at"},
    ]
    stored, response = admit(pipeline, new, old, "bob")
    assert response["allowed"] is True
    assert APPROVED_BY not in stored["metadata"]["annotations"]


def test_the_creator_stamp_cannot_be_chosen_on_create(pipeline: AdmissionPipeline) -> None:
    obj = yaml.safe_load((ROOT / "examples/valid/remediationrequest.yaml").read_text())
    obj = with_annotations(obj, created_by="someone-else")
    stored, response = admit(pipeline, obj, None, "dave")
    assert response["allowed"] is True
    assert stored["metadata"]["annotations"][CREATED_BY] == "dave"
    response = validate(pipeline, obj, None, "dave", PERSON)
    assert response["allowed"] is False
    assert causes(response)[0][0] == f"metadata.annotations[{CREATED_BY}]"


def test_a_value_other_than_approved_or_rejected_is_denied(pipeline: AdmissionPipeline) -> None:
    old = created(pipeline)
    _, response = admit(pipeline, with_annotations(old, approval="yes"), old, "bob")
    assert response["allowed"] is False
    assert 'must be "approved" or "rejected", not "yes"' in response["status"]["message"]
