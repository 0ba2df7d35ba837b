# mypy: disable-error-code="arg-type,union-attr,no-untyped-call,index,misc"
"""The crash-loop simulation end to end: some pods crash, a rolling restart clears it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config

from devcluster.controllers import ControllerOptions
from devcluster.runner import DevCluster

pytestmark = pytest.mark.integration

NAMESPACE = "default"


def eventually(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.AppsV1Api]:
    kubeconfig = tmp_path_factory.mktemp("devcluster") / "kubeconfig"
    options = ControllerOptions(jobs=False, crashloop_interval=0.2)
    with DevCluster.start(kubeconfig=kubeconfig, controllers=options):
        api = config.new_client_from_config(config_file=str(kubeconfig))
        yield client.AppsV1Api(api)
        api.close()


def deployment(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]},
            },
        },
    }


def ready_replicas(apps: client.AppsV1Api, name: str) -> int:
    status = apps.read_namespaced_deployment(name, NAMESPACE).status
    return int(status.ready_replicas or 0) if status else 0


def restart(apps: client.AppsV1Api, name: str, at: str) -> None:
    patch = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": at}}}
        }
    }
    apps.patch_namespaced_deployment(name, NAMESPACE, patch)


def test_crashloop_pods_limits_the_crash_to_the_first_pods(apps: client.AppsV1Api) -> None:
    apps.create_namespaced_deployment(
        NAMESPACE,
        deployment(
            "partial",
            **{
                "devcluster.kubernaut.ai/simulate": "crashloop",
                "devcluster.kubernaut.ai/crashloop-pods": "1",
            },
        ),
    )
    eventually(lambda: ready_replicas(apps, "partial") == 2, "two of three pods ready")
    core = client.CoreV1Api(apps.api_client)

    def crashing_pods() -> list[str]:
        pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=partial").items
        return sorted(
            p.metadata.name for p in pods if p.status.container_statuses[0].restart_count >= 2
        )

    crashing = eventually(crashing_pods, "the first pod restarts twice")
    assert [name.rsplit("-", 1)[1] for name in crashing] == ["0"]
    status = apps.read_namespaced_deployment("partial", NAMESPACE).status
    assert (status.ready_replicas, status.unavailable_replicas) == (2, 1)


def test_a_rolling_restart_clears_the_crash_loop_and_keeps_it_cleared(
    apps: client.AppsV1Api,
) -> None:
    apps.create_namespaced_deployment(
        NAMESPACE, deployment("healing", **{"devcluster.kubernaut.ai/simulate": "crashloop"})
    )
    eventually(
        lambda: apps.read_namespaced_deployment("healing", NAMESPACE).status.replicas == 3,
        "three pods",
    )
    assert ready_replicas(apps, "healing") == 0
    restart(apps, "healing", "2026-01-01T00:00:00Z")
    eventually(lambda: ready_replicas(apps, "healing") == 3, "every pod ready after the restart")
    image = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "v:2"}]}}}}
    apps.patch_namespaced_deployment("healing", NAMESPACE, image)

    def rolled_out() -> bool:
        current = apps.read_namespaced_deployment("healing", NAMESPACE)
        revision = current.metadata.annotations["deployment.kubernetes.io/revision"]
        return revision == "3" and int(current.status.ready_replicas or 0) == 3

    eventually(rolled_out, "the image change rolled out with every pod ready")
