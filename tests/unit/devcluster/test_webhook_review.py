"""AdmissionReview v1 requests and the API server's handling of webhook answers."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from devcluster.admission import AdmissionAttributes, UserInfo
from devcluster.errors import ApiError
from devcluster.resources import Registry
from devcluster.webhook_client import Address, HostMapError, parse_host_map
from devcluster.webhook_review import (
    Webhook,
    WebhookCallError,
    apply_review_patch,
    call_failed,
    check_callable,
    denied,
    dry_run_unsupported,
    ordered_webhooks,
    parse_response,
    review_request,
    webhooks_of,
)

REGISTRY = Registry()
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {}}, "spec": {}}


def attrs(**changes: Any) -> AdmissionAttributes:
    rtype = REGISTRY.lookup("", "v1", "pods")
    assert rtype is not None
    base: dict[str, Any] = {
        "operation": "CREATE",
        "resource": rtype,
        "subresource": "",
        "namespace": "default",
        "name": "p",
        "object": POD,
        "old_object": None,
        "user": UserInfo("alice", ("devs",)),
        "dry_run": False,
    }
    base.update(changes)
    return AdmissionAttributes(**base)


def hook(**spec: Any) -> Webhook:
    config = {"metadata": {"name": "cfg"}, "webhooks": [{"name": "w.example.com", **spec}]}
    return webhooks_of(config, mutating=True)[0]


def answer(uid: str, **response: Any) -> bytes:
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": uid, **response},
        }
    ).encode()


def test_webhook_defaults_follow_admissionregistration_v1() -> None:
    webhook = hook(
        clientConfig={"service": {"namespace": "ns", "name": "svc"}},
        admissionReviewVersions=["v1"],
        timeoutSeconds=99,
    )
    assert webhook.failure_policy == "Fail"
    assert webhook.timeout_seconds == 30
    assert webhook.service is not None
    assert webhook.service.port == 443
    assert webhook.display_url == "https://svc.ns.svc:443"
    assert hook().timeout_seconds == 10


def test_configurations_are_ordered_by_name_and_webhooks_as_listed() -> None:
    configs = [
        {"metadata": {"name": "b"}, "webhooks": [{"name": "b1"}, {"name": "b0"}]},
        {"metadata": {"name": "a"}, "webhooks": [{"name": "a1"}]},
    ]
    assert [w.name for w in ordered_webhooks(configs, mutating=False)] == ["a1", "b1", "b0"]


def test_review_request_carries_the_fields_of_admission_review_v1() -> None:
    review = review_request(attrs(dry_run=True, options={"fieldManager": "kubectl"}), "u-1")
    request = review["request"]
    assert review["apiVersion"] == "admission.k8s.io/v1"
    assert request["uid"] == "u-1"
    assert request["kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert request["requestResource"] == request["resource"]
    assert request["userInfo"] == {"username": "alice", "groups": ["devs"]}
    assert request["dryRun"] is True
    assert request["options"]["kind"] == "CreateOptions"
    assert request["options"]["dryRun"] == ["All"]
    assert "subResource" not in request


def test_scale_subresource_is_reviewed_as_an_autoscaling_scale() -> None:
    rtype = REGISTRY.lookup("apps", "v1", "deployments")
    assert rtype is not None
    deployment = {"metadata": {"name": "web"}, "spec": {"replicas": 2}, "status": {}}
    review = review_request(
        attrs(resource=rtype, subresource="scale", operation="UPDATE", object=deployment), "u"
    )
    assert review["request"]["kind"]["kind"] == "Scale"
    assert review["request"]["object"]["spec"] == {"replicas": 2}
    assert review["request"]["subResource"] == "scale"


def test_response_uid_must_equal_the_request_uid() -> None:
    with pytest.raises(WebhookCallError, match=re.escape('expected response.uid="a", got "b"')):
        parse_response(answer("b", allowed=True), "a", mutating=False)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", json.dumps({"apiVersion": "v1", "kind": "AdmissionReview"}).encode()],
)
def test_malformed_responses_are_call_errors(body: bytes) -> None:
    with pytest.raises(WebhookCallError, match="received invalid webhook response"):
        parse_response(body, "a", mutating=True)


def test_a_validating_webhook_may_not_patch() -> None:
    patch = base64.b64encode(b"[]").decode()
    with pytest.raises(WebhookCallError, match="validating webhook may not return"):
        parse_response(
            answer("a", allowed=True, patch=patch, patchType="JSONPatch"), "a", mutating=False
        )


def test_a_patch_needs_patch_type_json_patch() -> None:
    patch = base64.b64encode(b"[]").decode()
    with pytest.raises(WebhookCallError, match=re.escape("but not response.patchType")):
        parse_response(answer("a", allowed=True, patch=patch), "a", mutating=True)


def test_json_patch_is_applied_to_the_object() -> None:
    operations = [{"op": "add", "path": "/metadata/labels/team", "value": "a"}]
    encoded = base64.b64encode(json.dumps(operations).encode()).decode()
    response = parse_response(
        answer("a", allowed=True, patch=encoded, patchType="JSONPatch", warnings=["careful"]),
        "a",
        mutating=True,
    )
    assert response.warnings == ("careful",)
    assert response.patch is not None
    patched = apply_review_patch(hook(), attrs(), response.patch)
    assert patched["metadata"]["labels"] == {"team": "a"}


def test_a_patch_that_fails_to_apply_is_an_internal_error() -> None:
    with pytest.raises(ApiError) as caught:
        apply_review_patch(hook(), attrs(), [{"op": "remove", "path": "/nothing/here"}])
    assert caught.value.code == 500
    assert caught.value.message.startswith("Internal error occurred:")


def test_denial_message_and_code_follow_to_status_err() -> None:
    error = denied(hook(), {"code": 403, "reason": "Forbidden", "message": "no"})
    assert (error.code, error.reason) == (403, "Forbidden")
    assert error.message == 'admission webhook "w.example.com" denied the request: no'
    assert denied(hook(), {"code": 200}).code == 400
    assert denied(hook(), {}).message.endswith("denied the request without explanation")


def test_failed_call_is_an_internal_error_naming_the_webhook() -> None:
    error = call_failed(hook(), "failed to call webhook: boom")
    assert error.code == 500
    assert error.message == (
        'Internal error occurred: failed calling webhook "w.example.com": '
        "failed to call webhook: boom"
    )


def test_dry_run_needs_side_effects_none_or_none_on_dry_run() -> None:
    assert dry_run_unsupported(hook(sideEffects="None")) is None
    assert dry_run_unsupported(hook(sideEffects="NoneOnDryRun")) is None
    refusal = dry_run_unsupported(hook(sideEffects="Some"))
    assert refusal is not None
    assert refusal.code == 400
    assert refusal.message == 'admission webhook "w.example.com" does not support dry run'


def test_a_webhook_without_v1_reviews_or_with_a_bad_ca_bundle_cannot_be_called() -> None:
    with pytest.raises(WebhookCallError, match="AdmissionReview versions"):
        check_callable(hook(admissionReviewVersions=["v1beta1"]))
    with pytest.raises(WebhookCallError, match="caBundle"):
        check_callable(
            hook(admissionReviewVersions=["v1"], clientConfig={"caBundle": "%%%", "url": "x"})
        )


def test_host_map_entries_parse_and_bad_ones_are_explained() -> None:
    assert parse_host_map(["hook.kubernaut=127.0.0.1:9443"]) == {
        "hook.kubernaut": Address("127.0.0.1", 9443)
    }
    for bad in ("hook=127.0.0.1:1", "hook.ns=127.0.0.1", "hook.ns=127.0.0.1:0", "hook.ns"):
        with pytest.raises(HostMapError, match="hook"):
            parse_host_map([bad])
