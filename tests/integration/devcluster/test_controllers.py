# mypy: disable-error-code="arg-type,union-attr,no-untyped-call,index"
"""The simulated Deployment and Job controllers through kubectl and the kubernetes client."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from devcluster.controllers import ControllerOptions, JobOptions
from devcluster.runner import DevCluster

pytestmark = pytest.mark.integration


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
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    kubeconfig = tmp_path_factory.mktemp("devcluster") / "kubeconfig"
    options = ControllerOptions(
        crashloop_interval=0.2, job=JobOptions(runner_path=(Path(sys.executable).parent,))
    )
    with DevCluster.start(kubeconfig=kubeconfig, controllers=options) as running:
        yield running


@pytest.fixture(scope="module")
def api(cluster: DevCluster) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield api_client
    api_client.close()


def deployment(name: str, image: str, replicas: int = 2, **annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def test_deployment_rollout_keeps_one_pod_per_replica_and_completes(api: Any, kubectl: Any) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment("default", deployment("web", "nginx:1"))
    kubectl.run("rollout", "status", "deployment/web", "--timeout=20s")
    pods = core.list_namespaced_pod("default", label_selector="app=web").items
    assert len(pods) == 2
    assert all(p.status.phase == "Running" for p in pods)
    assert pods[0].status.container_statuses[0].image == "nginx:1"
    status = apps.read_namespaced_deployment("web", "default").status
    assert (status.ready_replicas, status.available_replicas, status.updated_replicas) == (2, 2, 2)


def test_template_change_rolls_out_a_new_replicaset_and_undo_rolls_back(
    api: Any, kubectl: Any
) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment("default", deployment("shop", "shop:1"))
    kubectl.run("rollout", "status", "deployment/shop", "--timeout=20s")
    kubectl.run("set", "image", "deployment/shop", "app=shop:2")
    kubectl.run("rollout", "status", "deployment/shop", "--timeout=20s")
    sets = apps.list_namespaced_replica_set("default", label_selector="app=shop").items
    revisions = {
        rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs.spec.replicas
        for rs in sets
    }
    assert revisions == {"1": 0, "2": 2}
    kubectl.run("rollout", "undo", "deployment/shop")
    kubectl.run("rollout", "status", "deployment/shop", "--timeout=20s")
    current = apps.read_namespaced_deployment("shop", "default")
    assert current.spec.template.spec.containers[0].image == "shop:1"
    assert current.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    history = kubectl.run("rollout", "history", "deployment/shop").stdout
    listed = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
    assert listed == ["2", "3"]


def test_crashloop_annotation_keeps_pods_unready_with_rising_restarts(api: Any) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(
        "default",
        deployment(
            "crashy", "bad:1", replicas=1, **{"devcluster.kubernaut.ai/simulate": "crashloop"}
        ),
    )

    def restarted() -> Any:
        pods = core.list_namespaced_pod("default", label_selector="app=crashy").items
        statuses = pods[0].status.container_statuses if pods else None
        return statuses and statuses[0].restart_count >= 2 and statuses[0]

    status = eventually(restarted, "crash-looping pod restarts")
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert not status.ready
    available = apps.read_namespaced_deployment("crashy", "default").status.conditions[0]
    assert (available.type, available.status) == ("Available", "False")


def test_eviction_that_violates_a_pod_disruption_budget_is_429(api: Any, kubectl: Any) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment("default", deployment("guarded", "g:1"))
    kubectl.run("rollout", "status", "deployment/guarded", "--timeout=20s")
    client.PolicyV1Api(api).create_namespaced_pod_disruption_budget(
        "default",
        {
            "metadata": {"name": "guarded"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "guarded"}}},
        },
    )
    pod = core.list_namespaced_pod("default", label_selector="app=guarded").items[0]
    eviction = {"metadata": {"name": pod.metadata.name, "namespace": "default"}}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod_eviction(pod.metadata.name, "default", eviction)
    assert caught.value.status == 429
    assert "disruption budget" in json.loads(caught.value.body)["message"]


def job(name: str, command: list[str] | None, **annotations: str) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "kubernaut:dev"}
    if command:
        container["command"] = command
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": "runner",
                    "containers": [container],
                }
            },
        },
    }


def _finished(batch: Any, name: str) -> Any:
    def check() -> Any:
        current = batch.read_namespaced_job(name, "default")
        types = [c.type for c in current.status.conditions or []]
        return ("Complete" in types or "Failed" in types) and current

    return eventually(check, f"job {name} finishes", timeout=60)


def _job_pod(core: Any, name: str) -> Any:
    return core.list_namespaced_pod("default", label_selector=f"job-name={name}").items[0]


SCRIPT = (
    "import os, kubernetes.config as c, kubernetes.client as k\n"
    "c.load_kube_config()\n"
    "who = k.AuthenticationV1Api().create_self_subject_review({'apiVersion': "
    "'authentication.k8s.io/v1', 'kind': 'SelfSubjectReview'})\n"
    "open(os.environ['KUBERNAUT_TERMINATION_MESSAGE_PATH'], 'w').write("
    "who.status.user_info.username)\n"
)


def test_job_runs_a_local_command_as_its_service_account(api: Any) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    batch.create_namespaced_job("default", job("whoami", ["python", "-c", SCRIPT]))
    done = _finished(batch, "whoami")
    assert [c.type for c in done.status.conditions] == ["SuccessCriteriaMet", "Complete"]
    assert done.status.succeeded == 1
    terminated = _job_pod(core, "whoami").status.container_statuses[0].state.terminated
    assert terminated.exit_code == 0
    assert terminated.message == "system:serviceaccount:default:runner"


def test_termination_message_is_read_even_when_the_container_names_its_own_path(
    api: Any,
) -> None:
    # The reconciler's Jobs set KUBERNAUT_TERMINATION_MESSAGE_PATH=/dev/termination-log
    # (their terminationMessagePath); the stand-in's file must still be the one written.
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    body = job("own-path", ["python", "-c", SCRIPT])
    container = body["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [
        {"name": "KUBERNAUT_TERMINATION_MESSAGE_PATH", "value": "/dev/termination-log"}
    ]
    batch.create_namespaced_job("default", body)
    assert _finished(batch, "own-path").status.succeeded == 1
    terminated = _job_pod(core, "own-path").status.container_statuses[0].state.terminated
    assert terminated.message == "system:serviceaccount:default:runner"


def test_controllers_keep_working_after_the_store_drops_every_watch(
    cluster: DevCluster, api: Any
) -> None:
    # drop_watches simulates the server ending watch streams; the simulated
    # controllers must watch again (as an informer does), not stop for good.
    batch = client.BatchV1Api(api)
    assert cluster.store.drop_watches() > 0
    batch.create_namespaced_job("default", job("after-drop", ["kubernaut", "--version"]))
    assert _finished(batch, "after-drop").status.succeeded == 1


def test_kubernaut_version_job_completes(api: Any) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job("default", job("version", ["kubernaut", "--version"]))
    assert _finished(batch, "version").status.succeeded == 1


def test_failing_command_fails_the_job_with_backoff_limit_exceeded(api: Any) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    batch.create_namespaced_job("default", job("broken", ["python", "-c", "raise SystemExit(3)"]))
    done = _finished(batch, "broken")
    assert [c.type for c in done.status.conditions] == ["FailureTarget", "Failed"]
    assert done.status.conditions[1].reason == "BackoffLimitExceeded"
    assert _job_pod(core, "broken").status.container_statuses[0].state.terminated.exit_code == 3


def test_active_deadline_kills_the_process_with_deadline_exceeded(api: Any) -> None:
    batch = client.BatchV1Api(api)
    body = job("sleepy", ["python", "-c", "import time; time.sleep(30)"])
    body["spec"]["activeDeadlineSeconds"] = 1
    batch.create_namespaced_job("default", body)
    done = _finished(batch, "sleepy")
    assert done.status.conditions[-1].reason == "DeadlineExceeded"


def test_simulated_job_follows_the_outcome_annotation(api: Any) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    batch.create_namespaced_job(
        "default",
        job(
            "simulated",
            None,
            **{
                "devcluster.kubernaut.ai/outcome": "fail",
                "devcluster.kubernaut.ai/termination-message": '{"x":1}',
            },
        ),
    )
    done = _finished(batch, "simulated")
    assert done.status.conditions[-1].type == "Failed"
    terminated = _job_pod(core, "simulated").status.container_statuses[0].state.terminated
    assert terminated.message == '{"x":1}'
