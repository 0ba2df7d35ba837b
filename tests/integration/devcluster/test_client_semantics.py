# The kubernetes client annotates request bodies as model classes and every response
# field as optional; these tests send plain dicts (accepted at run time) and read fields
# the server always sets, so those two checks are off here.
# mypy: disable-error-code="arg-type,union-attr,no-untyped-call"
"""Object semantics of the API server, pinned through the real ``kubernetes`` client."""

from __future__ import annotations

import json
import uuid

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.integration


def _ns(core: client.CoreV1Api) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    return name


def _status(err: ApiException) -> dict[str, object]:
    return dict(json.loads(err.body))


def _deployment(name: str, replicas: int = 1) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1"}]},
            },
        },
    }


def test_create_fills_uid_creation_timestamp_and_a_cluster_wide_resource_version(
    api_client: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    first = core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}, "data": {"k": "v"}})
    second = core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
    assert first.metadata.uid
    assert first.metadata.creation_timestamp is not None
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    listed = core.list_namespaced_config_map(ns)
    assert int(listed.metadata.resource_version) >= int(second.metadata.resource_version)
    assert [item.metadata.name for item in listed.items] == ["a", "b"]


def test_update_with_stale_resource_version_is_409_conflict(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    created = core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"k": "1"}})
    created.data = {"k": "2"}
    core.replace_namespaced_config_map("c", ns, created)
    created.data = {"k": "3"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("c", ns, created)
    body = _status(caught.value)
    assert caught.value.status == 409
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in str(body["message"])
    assert body["details"] == {"name": "c", "kind": "configmaps"}


def test_patch_with_stale_resource_version_is_409_conflict(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}})
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "c", ns, {"metadata": {"resourceVersion": "1"}, "data": {"x": "y"}}
        )
    assert caught.value.status == 409


def test_create_twice_is_409_already_exists(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "dup"}})
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "dup"}})
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "AlreadyExists"


def test_get_missing_is_404_not_found_with_details(api_client: client.ApiClient) -> None:
    apps = client.AppsV1Api(api_client)
    with pytest.raises(ApiException) as caught:
        apps.read_namespaced_deployment("nope", "default")
    body = _status(caught.value)
    assert caught.value.status == 404
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}


def test_namespaced_create_needs_an_existing_namespace(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("does-not-exist", {"metadata": {"name": "x"}})
    assert caught.value.status == 404
    assert _status(caught.value)["message"] == 'namespaces "does-not-exist" not found'


def test_invalid_name_is_422_with_causes(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", {"metadata": {"name": "Bad_Name"}})
    body = _status(caught.value)
    assert caught.value.status == 422
    assert body["reason"] == "Invalid"
    causes = body["details"]["causes"]  # type: ignore[index]
    assert causes[0]["field"] == "metadata.name"
    assert causes[0]["reason"] == "FieldValueInvalid"


def test_generate_name_appends_a_random_suffix(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    created = core.create_namespaced_config_map("default", {"metadata": {"generateName": "gen-"}})
    assert created.metadata.name.startswith("gen-")
    assert len(created.metadata.name) == len("gen-") + 5


def test_generation_bumps_on_spec_changes_only(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    ns = _ns(core)
    created = apps.create_namespaced_deployment(ns, _deployment("web"))
    assert created.metadata.generation == 1
    labelled = apps.patch_namespaced_deployment(
        "web", ns, {"metadata": {"labels": {"tier": "front"}}}
    )
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


def test_main_endpoint_ignores_status_and_status_endpoint_ignores_the_rest(
    api_client: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    ns = _ns(core)
    apps.create_namespaced_deployment(ns, _deployment("web"))
    after_main = apps.patch_namespaced_deployment("web", ns, {"status": {"readyReplicas": 5}})
    assert after_main.status.ready_replicas is None
    after_status = apps.patch_namespaced_deployment_status(
        "web", ns, {"status": {"readyReplicas": 1}, "spec": {"replicas": 9}}
    )
    assert after_status.status.ready_replicas == 1
    assert after_status.spec.replicas == 1
    assert after_status.metadata.generation == 1


def test_scale_subresource_reads_and_writes_replicas(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    ns = _ns(core)
    apps.create_namespaced_deployment(ns, _deployment("web", 2))
    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert scale.kind == "Scale"
    assert scale.spec.replicas == 2
    assert scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 5


def test_finalizers_hold_deletion_until_removed(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    )
    core.delete_namespaced_config_map("held", ns)
    still_there = core.read_namespaced_config_map("held", ns)
    assert still_there.metadata.deletion_timestamp is not None
    assert still_there.metadata.finalizers == ["example.com/hold"]
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "held", ns, {"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}
        )
    assert caught.value.status == 422
    assert "no new finalizers can be added if the object is being deleted" in str(
        _status(caught.value)["message"]
    )
    core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", ns)
    assert gone.value.status == 404


def _owned_config_map(
    name: str, owner: client.V1Deployment, *, block: bool = False
) -> dict[str, object]:
    ref = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "blockOwnerDeletion": block,
    }
    return {"metadata": {"name": name, "ownerReferences": [ref]}}


def test_background_deletion_collects_dependents(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    ns = _ns(core)
    owner = apps.create_namespaced_deployment(ns, _deployment("owner"))
    core.create_namespaced_config_map(ns, _owned_config_map("child", owner))
    apps.delete_namespaced_deployment("owner", ns, propagation_policy="Background")
    assert core.list_namespaced_config_map(ns).items == []


def test_orphan_deletion_keeps_dependents_without_the_owner_reference(
    api_client: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    ns = _ns(core)
    owner = apps.create_namespaced_deployment(ns, _deployment("owner"))
    core.create_namespaced_config_map(ns, _owned_config_map("child", owner))
    apps.delete_namespaced_deployment(
        "owner", ns, body=client.V1DeleteOptions(propagation_policy="Orphan")
    )
    child = core.read_namespaced_config_map("child", ns)
    assert child.metadata.owner_references is None
    with pytest.raises(ApiException):
        apps.read_namespaced_deployment("owner", ns)


def test_foreground_deletion_waits_for_blocking_dependents(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    ns = _ns(core)
    owner = apps.create_namespaced_deployment(ns, _deployment("owner"))
    held = _owned_config_map("child", owner, block=True)
    held["metadata"]["finalizers"] = ["example.com/hold"]  # type: ignore[index]
    core.create_namespaced_config_map(ns, held)
    apps.delete_namespaced_deployment("owner", ns, propagation_policy="Foreground")
    waiting = apps.read_namespaced_deployment("owner", ns)
    assert "foregroundDeletion" in (waiting.metadata.finalizers or [])
    assert core.read_namespaced_config_map("child", ns).metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("child", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        apps.read_namespaced_deployment("owner", ns)
    assert gone.value.status == 404


def test_dependent_with_another_live_owner_survives(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    ns = _ns(core)
    first = apps.create_namespaced_deployment(ns, _deployment("first"))
    second = apps.create_namespaced_deployment(ns, _deployment("second"))
    shared = _owned_config_map("shared", first)
    shared["metadata"]["ownerReferences"].append(  # type: ignore[index]
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "second",
            "uid": second.metadata.uid,
        }
    )
    core.create_namespaced_config_map(ns, shared)
    apps.delete_namespaced_deployment("first", ns)
    survivor = core.read_namespaced_config_map("shared", ns)
    assert [ref.name for ref in survivor.metadata.owner_references] == ["second"]


def test_label_and_field_selectors_filter_lists(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    for name, labels in (("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db"}), ("c", {})):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": labels}})

    def names(**selectors: str) -> list[str]:
        return [
            str(item.metadata.name)
            for item in core.list_namespaced_config_map(ns, **selectors).items
        ]

    assert names(label_selector="tier=web") == ["a"]
    assert names(label_selector="tier!=web") == ["b", "c"]
    assert names(label_selector="tier in (web,db)") == ["a", "b"]
    assert names(label_selector="tier notin (web)") == ["b", "c"]
    assert names(label_selector="env") == ["a"]
    assert names(label_selector="!env") == ["b", "c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b") == ["a", "c"]
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map(ns, field_selector="data.x=y")
    assert caught.value.status == 400


def test_all_namespaces_list_spans_namespaces(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    first, second = _ns(core), _ns(core)
    core.create_namespaced_config_map(
        first, {"metadata": {"name": "x", "labels": {"spread": first}}}
    )
    core.create_namespaced_config_map(
        second, {"metadata": {"name": "x", "labels": {"spread": first}}}
    )
    found = core.list_config_map_for_all_namespaces(label_selector=f"spread={first}")
    assert sorted(str(item.metadata.namespace) for item in found.items) == sorted([first, second])


def test_pagination_with_limit_and_continue(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    for index in range(5):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"p{index}"}})
    page = core.list_namespaced_config_map(ns, limit=2)
    seen = [item.metadata.name for item in page.items]
    while page.metadata._continue:
        page = core.list_namespaced_config_map(ns, limit=2, _continue=page.metadata._continue)
        seen.extend(item.metadata.name for item in page.items)
    assert seen == [f"p{index}" for index in range(5)]


def test_deleting_a_namespace_removes_its_content(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    core.delete_namespace(ns)
    with pytest.raises(ApiException) as caught:
        core.read_namespace(ns)
    assert caught.value.status == 404
    assert (
        core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={ns}").items
        == []
    )


def test_strategic_merge_patch_merges_containers_by_name(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    apps = client.AppsV1Api(api_client)
    ns = _ns(core)
    apps.create_namespaced_deployment(ns, _deployment("web"))
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}
    }
    patched = apps.patch_namespaced_deployment("web", ns, patch)
    assert [c.name for c in patched.spec.template.spec.containers] == ["app", "sidecar"]


def test_json_patch_and_failed_test_operation(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "j"}, "data": {"a": "1"}})
    patched = core.patch_namespaced_config_map(
        "j", ns, [{"op": "replace", "path": "/data/a", "value": "2"}]
    )
    assert patched.data == {"a": "2"}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("j", ns, [{"op": "test", "path": "/data/a", "value": "1"}])
    assert caught.value.status == 422


def test_token_review_maps_known_tokens(api_client: client.ApiClient) -> None:
    auth = client.AuthenticationV1Api(api_client)
    review = auth.create_token_review({"spec": {"token": "dev-admin"}})
    assert review.status.authenticated is True
    assert review.status.user.username == "dev-admin"
    assert "system:masters" in (review.status.user.groups or [])
    assert auth.create_token_review({"spec": {"token": "wrong"}}).status.authenticated is False


def test_subject_access_review_allows_all_by_default(api_client: client.ApiClient) -> None:
    authz = client.AuthorizationV1Api(api_client)
    review = authz.create_subject_access_review(
        {
            "spec": {
                "user": "someone",
                "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"},
            }
        }
    )
    assert review.status.allowed is True


def test_pod_eviction_deletes_the_pod_with_201(api_client: client.ApiClient) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    )
    core.create_namespaced_pod_eviction("p", ns, {"metadata": {"name": "p", "namespace": ns}})
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("p", ns)
    assert caught.value.status == 404
