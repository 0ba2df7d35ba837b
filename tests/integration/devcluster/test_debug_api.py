"""devcluster's ``/debug/devcluster/`` routes through :class:`RemoteCluster`: what benchmarks
read from a devcluster running in another process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from devcluster.admission import UserInfo
from devcluster.auth import ADMIN_TOKEN, ADMIN_USER, AuthConfig
from devcluster.remote import RemoteCluster, RemoteError
from devcluster.request_log import LATENCY_BOUNDS_MS, RequestKey
from devcluster.runner import DevCluster

pytestmark = pytest.mark.integration

VIEWER_TOKEN = "viewer-token"


@pytest.fixture(scope="module")
def server() -> Iterator[DevCluster]:
    auth = AuthConfig(
        tokens={ADMIN_TOKEN: ADMIN_USER, VIEWER_TOKEN: UserInfo("viewer", ("viewers",))},
        rules=[],
    )
    with DevCluster.start(auth=auth, webhooks=False) as running:
        yield running


@pytest.fixture
def api(server: DevCluster) -> Iterator[RemoteCluster]:
    remote = RemoteCluster(server.url)
    remote.reset_requests()
    remote.stop_events()
    yield remote
    remote.close()


def _create(server: DevCluster, name: str, agent: str = "tester/1.0") -> int:
    answer = httpx.post(
        f"{server.url}/api/v1/namespaces/default/configmaps",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "User-Agent": agent},
        json={"metadata": {"name": name}, "data": {"k": "v"}},
    )
    return answer.status_code


def test_requests_are_counted_by_client_with_answer_times_and_reset(
    server: DevCluster, api: RemoteCluster
) -> None:
    assert _create(server, "counted-1") == 201
    assert _create(server, "counted-1") == 409
    counts = api.request_counts()
    create = RequestKey("tester", "create", "configmaps", "", 201)
    assert counts[create] == 1
    assert counts[RequestKey("tester", "create", "configmaps", "", 409)] == 1
    latencies = api.request_latencies()
    assert sum(latencies[("tester", True)]) == 2
    assert len(latencies[("tester", True)]) == len(LATENCY_BOUNDS_MS) + 1
    api.reset_requests()
    assert create not in api.request_counts()
    assert ("tester", True) not in api.request_latencies()


def test_the_event_log_holds_commits_of_the_asked_types_stamped_on_this_machines_clock(
    server: DevCluster, api: RemoteCluster
) -> None:
    api.record_events(["v1/configmaps", "apps/v1/deployments"])
    before = time.monotonic()
    assert _create(server, "logged") == 201
    httpx.delete(
        f"{server.url}/api/v1/namespaces/default/configmaps/logged",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    after = time.monotonic()
    events, complete = api.events()
    assert complete
    assert [(e.type, e.plural, e.namespace, e.name) for e in events] == [
        ("ADDED", "configmaps", "default", "logged"),
        ("DELETED", "configmaps", "default", "logged"),
    ]
    assert events[0].resource_version < events[1].resource_version
    assert events[0].object["data"] == {"k": "v"}
    assert before <= events[0].at <= events[1].at <= after
    api.stop_events()
    assert _create(server, "not-logged") == 201
    assert api.events() == ([], True)


def test_lists_come_back_as_the_objects(server: DevCluster, api: RemoteCluster) -> None:
    assert _create(server, "listed") == 201
    names = [o["metadata"]["name"] for o in api.list_objects("", "v1", "configmaps", "default")]
    assert "listed" in names
    assert api.list_objects("apps", "v1", "deployments", "default") == []


def test_unknown_types_routes_and_users_get_clear_errors(server: DevCluster) -> None:
    admin = RemoteCluster(server.url)
    with pytest.raises(RemoteError, match="does not serve the resource 'v1/nothings'"):
        admin.record_events(["v1/nothings"])
    with pytest.raises(RemoteError, match="400"):
        admin.record_events(["configmaps"])
    answer = httpx.get(
        f"{server.url}/debug/devcluster/elsewhere",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert answer.status_code == 404
    viewer = RemoteCluster(server.url, VIEWER_TOKEN)
    with pytest.raises(RemoteError, match='403 User "viewer" cannot use devcluster diagnostics'):
        viewer.request_counts()
    with pytest.raises(RemoteError, match="is not an http:// URL"):
        RemoteCluster("https://127.0.0.1:1")
