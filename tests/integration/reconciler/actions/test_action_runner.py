"""The real runner (``kubernaut action run`` as a subprocess) against a devcluster API server.

Each test works in its own namespace, runs one action with the Job's
environment contract, then checks the cluster's state and the termination
message file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from reconciler.actions.client import (
    CONFIGMAPS,
    DEPLOYMENTS,
    NODES,
    PODS,
    REPLICASETS,
    ActionClient,
)
from reconciler.actions.result import MAX_BYTES
from reconciler.kube import Resource

devcluster_runner = pytest.importorskip(
    "devcluster.runner", reason="devcluster (the local Kubernetes API stand-in) is not importable"
)

pytestmark = pytest.mark.integration

NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
KUBERNAUT = Path(sys.executable).with_name("kubernaut")


@dataclass
class Cluster:
    kubeconfig: Path
    client: ActionClient
    store: Any


@dataclass
class Outcome:
    code: int
    document: dict[str, Any]
    stderr: str


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    kubeconfig = tmp_path_factory.mktemp("devcluster") / "kubeconfig"
    with devcluster_runner.DevCluster.start(kubeconfig=kubeconfig) as running:
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=configuration
        )
        yield Cluster(kubeconfig, ActionClient(k8s.ApiClient(configuration)), running.store)


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.client.create(
        NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


def run_action(
    cluster: Cluster,
    tmp_path: Path,
    action: str,
    parameters: dict[str, Any],
    *,
    dry_run: bool = False,
) -> Outcome:
    result = tmp_path / f"termination-{uuid.uuid4().hex[:6]}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "KUBECONFIG": str(cluster.kubeconfig),
        "KUBERNAUT_ACTION": action,
        "KUBERNAUT_PARAMETERS": json.dumps(parameters),
        "KUBERNAUT_DRY_RUN": "true" if dry_run else "false",
        "KUBERNAUT_TIMEOUT": "20s",
        "KUBERNAUT_TERMINATION_MESSAGE_PATH": str(result),
        "KUBERNAUT_EXECUTION": "ops/ke-1",
    }
    process = subprocess.run(
        [str(KUBERNAUT), "action", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    text = result.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= MAX_BYTES
    document = json.loads(text)
    assert "Traceback" not in process.stderr
    return Outcome(process.returncode, document, process.stderr)


def deployment(
    namespace: str, name: str = "web", replicas: int = 2, image: str = "web:1"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template(name, image),
        },
    }


def template(app: str, image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def pod(
    namespace: str,
    name: str,
    *,
    node: str | None = None,
    empty_dir: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "web:1"}]}
    if node:
        spec["nodeName"] = node
    if empty_dir:
        spec["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": "web"},
        },
        "spec": spec,
    }


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}}


def names(cluster: Cluster, resource: Resource, namespace: str | None, **query: Any) -> list[str]:
    items = cluster.client.list(resource, namespace, **query)["items"]
    return sorted(item["metadata"]["name"] for item in items)


# ---------------------------------------------------------------------- deployments


def test_scale_deployment(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.client.create(DEPLOYMENTS, namespace, deployment(namespace, replicas=2))
    outcome = run_action(
        cluster,
        tmp_path,
        "scaleDeployment",
        {"namespace": namespace, "deployment": "web", "replicas": 4},
    )
    assert outcome.code == 0, outcome.document
    assert cluster.client.get(DEPLOYMENTS, namespace, "web")["spec"]["replicas"] == 4
    document = outcome.document
    assert document["outcome"] == "succeeded"
    assert document["execution"] == "ops/ke-1"
    assert document["result"]["scaleResult"] == {
        "previousReplicas": 2,
        "newReplicas": 4,
        "namespace": namespace,
        "deployment": "web",
    }
    assert document["changes"] == [
        {
            "resource": f"apps/v1 Deployment {namespace}/web",
            "field": "spec.replicas",
            "before": 2,
            "after": 4,
        }
    ]
    assert document["rollback"] == {
        "action": "scaleDeployment",
        "parameters": {
            "namespace": namespace,
            "deployment": "web",
            "replicas": 2,
            "allowScaleToZero": False,
        },
    }


def test_dry_run_changes_nothing(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.client.create(DEPLOYMENTS, namespace, deployment(namespace, replicas=2))
    cluster.client.create(NODES, None, node(f"{namespace}-node"))
    cluster.client.create(PODS, namespace, pod(namespace, "web-1", node=f"{namespace}-node"))
    before = cluster.client.get(DEPLOYMENTS, namespace, "web")

    scale = run_action(
        cluster,
        tmp_path,
        "scaleDeployment",
        {"namespace": namespace, "deployment": "web", "replicas": 9},
        dry_run=True,
    )
    image = run_action(
        cluster,
        tmp_path,
        "updateImage",
        {"namespace": namespace, "deployment": "web", "container": "app", "newImage": "web:2"},
        dry_run=True,
    )
    drain = run_action(
        cluster, tmp_path, "drainNode", {"nodeName": f"{namespace}-node"}, dry_run=True
    )

    assert (scale.code, image.code, drain.code) == (0, 0, 0), drain.document
    after = cluster.client.get(DEPLOYMENTS, namespace, "web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"] == before["spec"]
    assert not cluster.client.get(NODES, None, f"{namespace}-node")["spec"].get("unschedulable")
    assert names(cluster, PODS, namespace) == ["web-1"]
    assert scale.document["dryRun"] is True
    assert scale.document["changes"][0]["after"] == 9
    assert scale.document["rollback"] is None
    assert scale.document["result"]["message"].startswith("dry run: ")
    assert drain.document["changes"] == [
        {
            "resource": f"v1 Node {namespace}-node",
            "field": "spec.unschedulable",
            "before": False,
            "after": True,
        },
        {
            "resource": f"v1 Pod {namespace}/web-1",
            "field": "exists",
            "before": True,
            "after": False,
        },
    ]


def test_restart_deployment(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.client.create(DEPLOYMENTS, namespace, deployment(namespace))
    for name in ("web-a", "web-b"):
        cluster.client.create(PODS, namespace, pod(namespace, name))
    outcome = run_action(
        cluster, tmp_path, "restartDeployment", {"namespace": namespace, "deployment": "web"}
    )
    assert outcome.code == 0, outcome.document
    annotations = cluster.client.get(DEPLOYMENTS, namespace, "web")["spec"]["template"]["metadata"][
        "annotations"
    ]
    restarted_at = annotations["kubectl.kubernetes.io/restartedAt"]
    assert outcome.document["changes"][0]["after"] == restarted_at
    assert outcome.document["result"]["restartResult"] == {
        "namespace": namespace,
        "podsRestarted": 2,
        "restartedPods": ["web-a", "web-b"],
    }
    assert outcome.document["rollback"] is None


def test_rollback_deployment(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    created = cluster.client.create(DEPLOYMENTS, namespace, deployment(namespace, image="web:2"))
    cluster.client.patch(
        DEPLOYMENTS,
        namespace,
        "web",
        {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "2"}}},
    )
    owner = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "uid": created["metadata"]["uid"],
        "controller": True,
    }
    for revision, image in ((1, "web:1"), (2, "web:2")):
        rs_template = template("web", image)
        rs_template["metadata"]["labels"]["pod-template-hash"] = f"h{revision}"
        cluster.client.create(
            REPLICASETS,
            namespace,
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"web-h{revision}",
                    "namespace": namespace,
                    "labels": {"app": "web", "pod-template-hash": f"h{revision}"},
                    "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                    "ownerReferences": [owner],
                },
                "spec": {
                    "replicas": 0,
                    "selector": {
                        "matchLabels": {"app": "web", "pod-template-hash": f"h{revision}"}
                    },
                    "template": rs_template,
                },
            },
        )
    outcome = run_action(
        cluster, tmp_path, "rollbackDeployment", {"namespace": namespace, "deployment": "web"}
    )
    assert outcome.code == 0, outcome.document
    current = cluster.client.get(DEPLOYMENTS, namespace, "web")["spec"]["template"]
    assert current["spec"]["containers"][0]["image"] == "web:1"
    assert current["metadata"]["labels"] == {"app": "web"}
    assert outcome.document["rollback"] == {
        "action": "rollbackDeployment",
        "parameters": {"namespace": namespace, "deployment": "web", "revision": 2},
    }
    assert outcome.document["result"]["updateResult"]["newValue"] == "revision 1"


def test_update_image(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.client.create(DEPLOYMENTS, namespace, deployment(namespace, image="web:1"))
    outcome = run_action(
        cluster,
        tmp_path,
        "updateImage",
        {"namespace": namespace, "deployment": "web", "container": "app", "newImage": "web:2"},
    )
    assert outcome.code == 0, outcome.document
    spec = cluster.client.get(DEPLOYMENTS, namespace, "web")["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == "web:2"
    assert outcome.document["rollback"]["parameters"]["newImage"] == "web:1"


def test_update_image_of_an_unknown_container_fails(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cluster.client.create(DEPLOYMENTS, namespace, deployment(namespace))
    outcome = run_action(
        cluster,
        tmp_path,
        "updateImage",
        {"namespace": namespace, "deployment": "web", "container": "db", "newImage": "pg:17"},
    )
    assert outcome.code == 1
    assert outcome.document["outcome"] == "failed"
    assert outcome.document["result"]["message"] == (
        f"deployment {namespace}/web has no container 'db' (containers: app)"
    )


def test_missing_deployment_fails_with_the_api_message(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    outcome = run_action(
        cluster,
        tmp_path,
        "scaleDeployment",
        {"namespace": namespace, "deployment": "nope", "replicas": 1},
    )
    assert outcome.code == 1
    assert outcome.document["result"]["message"].startswith("not found: ")
    assert "nope" in outcome.document["result"]["message"]


# ----------------------------------------------------------------------------- pods


def test_restart_pods_by_selector(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    for name in ("web-1", "web-2"):
        cluster.client.create(PODS, namespace, pod(namespace, name))
    other = pod(namespace, "db-1")
    other["metadata"]["labels"] = {"app": "db"}
    cluster.client.create(PODS, namespace, other)
    outcome = run_action(
        cluster,
        tmp_path,
        "restartPod",
        {"namespace": namespace, "selector": "app=web", "gracePeriod": "1s"},
    )
    assert outcome.code == 0, outcome.document
    assert names(cluster, PODS, namespace) == ["db-1"]
    assert outcome.document["result"]["restartResult"]["restartedPods"] == ["web-1", "web-2"]


def test_delete_pod(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.client.create(PODS, namespace, pod(namespace, "web-1"))
    outcome = run_action(
        cluster, tmp_path, "deletePod", {"namespace": namespace, "podName": "web-1"}
    )
    assert outcome.code == 0, outcome.document
    assert names(cluster, PODS, namespace) == []
    assert outcome.document["result"]["resourcesAffected"][0]["changeType"] == "deleted"


# ------------------------------------------------------------------------- configmap


def test_update_configmap(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.client.create(
        CONFIGMAPS,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg"},
            "data": {"a": "1", "b": "2"},
        },
    )
    outcome = run_action(
        cluster,
        tmp_path,
        "updateConfigMap",
        {"namespace": namespace, "name": "cfg", "dataUpdates": {"b": "3", "c": "4"}},
    )
    assert outcome.code == 0, outcome.document
    assert cluster.client.get(CONFIGMAPS, namespace, "cfg")["data"] == {
        "a": "1",
        "b": "3",
        "c": "4",
    }
    assert outcome.document["rollback"] == {
        "action": "updateConfigMap",
        "parameters": {"namespace": namespace, "name": "cfg", "dataUpdates": {"b": "2", "c": None}},
    }


# ----------------------------------------------------------------------------- nodes


def test_cordon_and_uncordon_node(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    name = f"{namespace}-node"
    cluster.client.create(NODES, None, node(name))
    cordon = run_action(cluster, tmp_path, "cordonNode", {"nodeName": name})
    assert cordon.code == 0, cordon.document
    assert cluster.client.get(NODES, None, name)["spec"]["unschedulable"] is True
    assert cordon.document["rollback"] == {
        "action": "uncordonNode",
        "parameters": {"nodeName": name},
    }
    uncordon = run_action(cluster, tmp_path, "uncordonNode", {"nodeName": name})
    assert uncordon.code == 0, uncordon.document
    assert not cluster.client.get(NODES, None, name)["spec"].get("unschedulable")
    assert uncordon.document["rollback"] == {
        "action": "cordonNode",
        "parameters": {"nodeName": name},
    }


def test_drain_node(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    name = f"{namespace}-node"
    cluster.client.create(NODES, None, node(name))
    cluster.client.create(PODS, namespace, pod(namespace, "web-1", node=name))
    cluster.client.create(PODS, namespace, pod(namespace, "web-2", node=name))
    cluster.client.create(PODS, namespace, pod(namespace, "elsewhere", node=f"{name}-other"))
    outcome = run_action(cluster, tmp_path, "drainNode", {"nodeName": name, "gracePeriod": "1s"})
    assert outcome.code == 0, outcome.document
    assert cluster.client.get(NODES, None, name)["spec"]["unschedulable"] is True
    assert names(cluster, PODS, namespace) == ["elsewhere"]
    assert outcome.document["rollback"] == {
        "action": "uncordonNode",
        "parameters": {"nodeName": name},
    }
    assert outcome.document["result"]["message"] == f"drained node {name}: evicted 2 pod(s)"


def test_drain_refuses_local_data(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    name = f"{namespace}-node"
    cluster.client.create(NODES, None, node(name))
    cluster.client.create(PODS, namespace, pod(namespace, "cache", node=name, empty_dir=True))
    outcome = run_action(cluster, tmp_path, "drainNode", {"nodeName": name})
    assert outcome.code == 1
    assert "uses emptyDir volume(s) scratch" in outcome.document["result"]["message"]
    assert names(cluster, PODS, namespace) == ["cache"]
    assert cluster.client.get(NODES, None, name)["spec"]["unschedulable"] is True
    assert outcome.document["rollback"] == {
        "action": "uncordonNode",
        "parameters": {"nodeName": name},
    }


# ------------------------------------------------------------------- logs and custom


def test_collect_logs(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.client.create(PODS, namespace, pod(namespace, "web-1"))
    cluster.store.pod_logs[(namespace, "web-1")] = "".join(f"line {n} é\n" for n in range(5000))
    outcome = run_action(
        cluster, tmp_path, "collectLogs", {"namespace": namespace, "podName": "web-1"}
    )
    assert outcome.code == 0, outcome.document
    log = outcome.document["result"]["customResult"]["output"]["web-1/app"]
    assert log.endswith("line 4999 é\n")
    assert outcome.document["truncated"] is True


def test_unknown_custom_action_type(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    outcome = run_action(cluster, tmp_path, "custom", {"actionType": "noSuchAction", "config": {}})
    assert outcome.code == 1
    assert (
        "no entry point of that name in the 'kubernaut.actions' group"
        in outcome.document["result"]["message"]
    )


def test_bad_input_exits_2_with_a_result(cluster: Cluster, tmp_path: Path) -> None:
    outcome = run_action(
        cluster, tmp_path, "scaleDeployment", {"deployment": "web", "replicas": "many"}
    )
    assert outcome.code == 2
    message = outcome.document["result"]["message"]
    assert "namespace: Field required" in message
    assert "replicas: Input should be a valid integer" in message
    assert "kubernaut action run: error: invalid scaleDeployment parameters" in outcome.stderr
