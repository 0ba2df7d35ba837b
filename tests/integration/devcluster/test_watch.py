# The kubernetes client annotates request bodies as model classes and every response
# field as optional; these tests send plain dicts (accepted at run time) and read fields
# the server always sets, so those two checks are off here.
# mypy: disable-error-code="arg-type,union-attr,no-untyped-call"
"""Watch semantics (``?watch=1``) through ``kubernetes.watch.Watch`` and raw streams."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from devcluster.runner import DevCluster

pytestmark = pytest.mark.integration


def _ns(core: client.CoreV1Api) -> str:
    name = f"w-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    return name


def _events(core: client.CoreV1Api, ns: str, count: int, **kwargs: object) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_config_map, ns, timeout_seconds=5, **kwargs):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == count:
            stream.stop()
    return seen


def test_watch_without_resource_version_starts_with_synthetic_added(
    api_client: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "existing"}})
    assert _events(core, ns, 1) == [("ADDED", "existing")]


def test_watch_from_list_resource_version_streams_changes_in_order(
    api_client: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    listed = core.list_namespaced_config_map(ns)

    def change() -> None:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
        core.patch_namespaced_config_map("x", ns, {"data": {"a": "b"}})
        core.delete_namespaced_config_map("x", ns)

    threading.Timer(0.2, change).start()
    events = _events(core, ns, 3, resource_version=listed.metadata.resource_version)
    assert events == [("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x")]


def test_label_selector_watch_turns_selector_transitions_into_added_and_deleted(
    api_client: client.ApiClient,
) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    listed = core.list_namespaced_config_map(ns)

    def change() -> None:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
        core.patch_namespaced_config_map("x", ns, {"metadata": {"labels": {"pick": "me"}}})
        core.patch_namespaced_config_map("x", ns, {"metadata": {"labels": {"pick": None}}})

    threading.Timer(0.2, change).start()
    events = _events(
        core, ns, 2, resource_version=listed.metadata.resource_version, label_selector="pick=me"
    )
    assert events == [("ADDED", "x"), ("DELETED", "x")]


def _raw_lines(cluster: DevCluster, path: str, limit: int) -> Iterator[dict[str, Any]]:
    headers = {"Authorization": "Bearer dev-admin"}
    with httpx.stream("GET", cluster.url + path, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        for index, line in enumerate(response.iter_lines()):
            if line:
                yield json.loads(line)
            if index + 1 >= limit:
                return


def test_too_old_resource_version_gets_410_expired_error_event(tmp_path: object) -> None:
    with DevCluster.start(watch_history=3) as small:
        api = config.new_client_from_config_dict(
            {
                "apiVersion": "v1",
                "clusters": [{"name": "c", "cluster": {"server": small.url}}],
                "users": [{"name": "u", "user": {"token": "dev-admin"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
        core = client.CoreV1Api(api)
        start = core.list_namespaced_config_map("default").metadata.resource_version
        for index in range(5):
            core.create_namespaced_config_map("default", {"metadata": {"name": f"c{index}"}})
        events = list(
            _raw_lines(
                small, f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={start}", 1
            )
        )
        assert events[0]["type"] == "ERROR"
        status = events[0]["object"]
        assert status["code"] == 410
        assert status["reason"] == "Expired"
        with pytest.raises(ApiException) as caught:
            list(
                watch.Watch().stream(
                    core.list_namespaced_config_map,
                    "default",
                    resource_version=start,
                    timeout_seconds=2,
                )
            )
        assert caught.value.status == 410
        api.close()


def test_bookmarks_carry_only_the_resource_version(cluster: DevCluster) -> None:
    events = list(
        _raw_lines(
            cluster,
            "/api/v1/namespaces/kube-public/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion=1&timeoutSeconds=3",
            1,
        )
    )
    bookmark = events[0]
    assert bookmark["type"] == "BOOKMARK"
    obj = bookmark["object"]
    assert set(obj) == {"kind", "apiVersion", "metadata"}
    assert set(obj["metadata"]) == {"resourceVersion"}


def test_send_initial_events_ends_with_the_initial_events_end_bookmark(cluster: DevCluster) -> None:
    path = (
        "/api/v1/namespaces?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
        "&resourceVersionMatch=NotOlderThan&timeoutSeconds=3"
    )
    namespaces = httpx.get(
        cluster.url + "/api/v1/namespaces", headers={"Authorization": "Bearer dev-admin"}
    ).json()["items"]
    events = list(_raw_lines(cluster, path, len(namespaces) + 1))
    assert [e["type"] for e in events[:-1]] == ["ADDED"] * len(namespaces)
    marker = events[-1]
    assert marker["type"] == "BOOKMARK"
    assert marker["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_timeout_seconds_ends_the_stream(cluster: DevCluster) -> None:
    headers = {"Authorization": "Bearer dev-admin"}
    response = httpx.get(
        cluster.url
        + "/api/v1/namespaces/kube-public/configmaps?watch=1&resourceVersion=1&timeoutSeconds=1",
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 200
    assert response.text == ""


def test_drop_watches_closes_open_streams(
    cluster: DevCluster, api_client: client.ApiClient
) -> None:
    core = client.CoreV1Api(api_client)
    ns = _ns(core)
    finished = threading.Event()

    def consume() -> None:
        for _event in watch.Watch().stream(
            core.list_namespaced_config_map,
            ns,
            resource_version="1",
            timeout_seconds=30,
            _request_timeout=30,
        ):
            pass
        finished.set()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    while cluster.store.watch_count == 0:
        threading.Event().wait(0.01)
    assert cluster.store.drop_watches() >= 1
    consumer.join(timeout=20)
    assert finished.is_set()
