# The kubernetes client annotates request bodies as model classes and every response
# field as optional; these tests send plain dicts (accepted at run time) and read fields
# the server always sets, so those two checks are off here.
# mypy: disable-error-code="arg-type,union-attr,no-untyped-call"
"""CRDs: serving, schema validation/pruning/defaulting, subresources, CEL immutability."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.runner import DevCluster

pytestmark = pytest.mark.integration

_AUTH = {"Authorization": "Bearer dev-admin"}

GROUP, VERSION, PLURAL = "example.com", "v1", "widgets"


@pytest.fixture(scope="module")
def api(
    api_client: client.ApiClient, widget_crd: dict[str, Any], gadget_crd: dict[str, Any]
) -> client.CustomObjectsApi:
    ext = client.ApiextensionsV1Api(api_client)
    ext.create_custom_resource_definition(widget_crd)
    ext.create_custom_resource_definition(gadget_crd)
    return client.CustomObjectsApi(api_client)


def _widget(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


def _create(
    api: client.CustomObjectsApi, body: dict[str, Any], plural: str = PLURAL
) -> dict[str, Any]:
    return _obj(api.create_namespaced_custom_object(GROUP, VERSION, "default", plural, body))


def _obj(value: object) -> dict[str, Any]:
    assert isinstance(value, dict)
    return value


def _invalid(err: ApiException) -> tuple[str, list[dict[str, str]]]:
    body = json.loads(err.body)
    assert err.status == 422
    assert body["reason"] == "Invalid"
    return body["message"], body["details"]["causes"]


def test_created_crd_is_established_and_served_in_discovery(
    api_client: client.ApiClient, api: client.CustomObjectsApi, cluster: DevCluster
) -> None:
    crd = client.ApiextensionsV1Api(api_client).read_custom_resource_definition(
        "widgets.example.com"
    )
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    resources = client.ApisApi(api_client).get_api_versions()
    assert "example.com" in [group.name for group in resources.groups]
    listing = httpx.get(cluster.url + "/apis/example.com/v1", headers=_AUTH).json()
    names = {r["name"] for r in listing["resources"]}
    assert {"widgets", "widgets/status", "widgets/scale", "gadgets"} <= names


def test_schema_defaults_are_applied_and_unknown_fields_pruned(
    api: client.CustomObjectsApi,
) -> None:
    created = _create(
        api,
        _widget(
            f"d-{uuid.uuid4().hex[:6]}",
            {"size": "small", "unknown": 1, "config": {"free": {"form": True}}},
        ),
    )
    assert created["spec"] == {"size": "small", "replicas": 1, "config": {"free": {"form": True}}}


def test_schema_violations_are_422_with_field_paths_like_the_real_server(
    api: client.CustomObjectsApi,
) -> None:
    body = _widget("bad", {"size": "huge", "replicas": -1, "steps": [{"name": "Upper"}]})
    with pytest.raises(ApiException) as caught:
        _create(api, body)
    message, causes = _invalid(caught.value)
    by_field = {cause["field"]: cause for cause in causes}
    assert (
        by_field["spec.size"]["message"]
        == 'Unsupported value: "huge": supported values: "small", "large"'
    )
    assert by_field["spec.size"]["reason"] == "FieldValueNotSupported"
    assert (
        by_field["spec.replicas"]["message"]
        == "Invalid value: -1: spec.replicas in body should be greater than or equal to 0"
    )
    assert by_field["spec.steps[0].stepNumber"]["message"] == "Required value"
    assert (
        by_field["spec.steps[0].name"]["message"]
        == "Invalid value: \"Upper\": spec.steps[0].name in body should match '^[a-z]+$'"
    )
    assert message.startswith('Widget.example.com "bad" is invalid: [')


def test_required_field_missing(api: client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as caught:
        _create(api, _widget("nosize", {}))
    message, causes = _invalid(caught.value)
    assert causes == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.size"}
    ]
    assert message == 'Widget.example.com "nosize" is invalid: spec.size: Required value'


def test_status_subresource_separates_spec_and_status(api: client.CustomObjectsApi) -> None:
    name = f"s-{uuid.uuid4().hex[:6]}"
    body = _widget(name, {"size": "small"})
    body["status"] = {"phase": "Ignored"}
    created = _create(api, body)
    assert "status" not in created
    after_status = _obj(
        api.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            name,
            {"status": {"phase": "Ready"}, "spec": {"size": "large"}},
        )
    )
    assert after_status["status"] == {"phase": "Ready"}
    assert after_status["spec"]["size"] == "small"
    assert after_status["metadata"]["generation"] == 1
    after_main = _obj(
        api.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            name,
            {"status": {"phase": "Nope"}, "spec": {"size": "large"}},
        )
    )
    assert after_main["status"] == {"phase": "Ready"}
    assert after_main["metadata"]["generation"] == 2


def test_scale_subresource_of_a_custom_resource(api: client.CustomObjectsApi) -> None:
    name = f"sc-{uuid.uuid4().hex[:6]}"
    _create(api, _widget(name, {"size": "small", "replicas": 2}))
    scale = _obj(api.get_namespaced_custom_object_scale(GROUP, VERSION, "default", PLURAL, name))
    assert scale["spec"]["replicas"] == 2
    api.patch_namespaced_custom_object_scale(
        GROUP, VERSION, "default", PLURAL, name, {"spec": {"replicas": 4}}
    )
    widget = _obj(api.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, name))
    assert widget["spec"]["replicas"] == 4


def test_self_equals_old_self_rule_makes_spec_immutable(api: client.CustomObjectsApi) -> None:
    name = f"g-{uuid.uuid4().hex[:6]}"
    _create(
        api,
        {
            "apiVersion": "example.com/v1",
            "kind": "Gadget",
            "metadata": {"name": name},
            "spec": {"color": "red"},
        },
        "gadgets",
    )
    with pytest.raises(ApiException) as caught:
        api.patch_namespaced_custom_object(
            GROUP, VERSION, "default", "gadgets", name, {"spec": {"color": "blue"}}
        )
    _message, causes = _invalid(caught.value)
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "object": spec is immutable',
            "field": "spec",
        }
    ]
    labelled = _obj(
        api.patch_namespaced_custom_object(
            GROUP, VERSION, "default", "gadgets", name, {"metadata": {"labels": {"ok": "yes"}}}
        )
    )
    assert labelled["metadata"]["labels"] == {"ok": "yes"}
    status = _obj(
        api.patch_namespaced_custom_object_status(
            GROUP, VERSION, "default", "gadgets", name, {"status": {"phase": "Done"}}
        )
    )
    assert status["status"] == {"phase": "Done"}


def test_strategic_merge_patch_on_a_custom_resource_is_415(
    api: client.CustomObjectsApi, cluster: DevCluster
) -> None:
    name = f"p-{uuid.uuid4().hex[:6]}"
    _create(api, _widget(name, {"size": "small"}))
    response = httpx.patch(
        f"{cluster.url}/apis/example.com/v1/namespaces/default/widgets/{name}",
        headers={**_AUTH, "Content-Type": "application/strategic-merge-patch+json"},
        content=json.dumps({"spec": {"size": "large"}}),
    )
    assert response.status_code == 415
    assert response.json()["reason"] == "UnsupportedMediaType"


def test_deleting_the_crd_deletes_instances_and_stops_serving(api_client: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api_client)
    api = client.CustomObjectsApi(api_client)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "temps.other.example.com"},
        "spec": {
            "group": "other.example.com",
            "scope": "Cluster",
            "names": {"plural": "temps", "kind": "Temp"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    ext.create_custom_resource_definition(crd)
    api.create_cluster_custom_object(
        "other.example.com",
        "v1",
        "temps",
        {
            "apiVersion": "other.example.com/v1",
            "kind": "Temp",
            "metadata": {"name": "t"},
            "anything": 1,
        },
    )
    temp = _obj(api.get_cluster_custom_object("other.example.com", "v1", "temps", "t"))
    assert temp["anything"] == 1
    ext.delete_custom_resource_definition("temps.other.example.com")
    with pytest.raises(ApiException) as caught:
        api.list_cluster_custom_object("other.example.com", "v1", "temps")
    assert caught.value.status == 404
    with pytest.raises(ApiException):
        ext.read_custom_resource_definition("temps.other.example.com")
