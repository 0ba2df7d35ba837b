"""The RemediationRequest controller in a real Manager against devcluster.

The test plays the child controllers: it writes the statuses SignalProcessing,
AIAnalysis and WorkflowExecution would report, and checks that the
orchestrator creates each child, moves its own phases through the
``/status`` subresource (validated against the generated CRD schemas) and
suppresses a duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import config

from devcluster.runner import DevCluster
from reconciler.controllers.remediationrequest import RemediationRequestController
from reconciler.controllers.rr_children import (
    AI_ANALYSES,
    NOTIFICATION_REQUESTS,
    REMEDIATION_REQUESTS,
    SIGNAL_PROCESSINGS,
    WORKFLOW_EXECUTIONS,
)
from reconciler.kube import ApiError, KubeClient, Resource
from reconciler.manager import Manager, ManagerSettings

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
CRDS = Path(__file__).resolve().parents[3] / "charts" / "kubernaut" / "crds"
CUSTOM_RESOURCE_DEFINITIONS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False)
NS = "shop"
WORKFLOW: JSON = {
    "name": "restart-web",
    "version": "1.0.0",
    "steps": [
        {
            "stepNumber": 1,
            "name": "restart",
            "action": "restartDeployment",
            "parameters": {"restartDeployment": {"namespace": NS, "deployment": "web"}},
        }
    ],
}


class _Events:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def record(self, obj: JSON, event_type: Any, reason: str, message: str) -> None:
        self.reasons.append(reason)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeClient]:
    kubeconfig = tmp_path_factory.mktemp("devcluster") / "kubeconfig"
    with DevCluster.start(kubeconfig=kubeconfig, bookmark_interval=0.2, webhooks=False):
        api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        kube = KubeClient(api)
        for path in sorted(CRDS.glob("*.yaml")):
            kube.create(CUSTOM_RESOURCE_DEFINITIONS, None, yaml.safe_load(path.read_text()))
        kube.create(
            NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
        )
        yield kube
        api.close()


@pytest.fixture
def manager(client: KubeClient) -> Iterator[Manager]:
    running = Manager(
        client,
        [RemediationRequestController()],
        events=_Events(),
        settings=ManagerSettings(workers=2, namespaces=(NS,)),
    )
    running.start()
    yield running
    running.stop()


def _eventually(read: Callable[[], Any], *, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = read()
        except ApiError as err:
            if not err.not_found:
                raise
            last = None
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s (last value {last!r})")


def _phase_is(client: KubeClient, name: str, phase: str) -> Callable[[], JSON | None]:
    def read() -> JSON | None:
        obj = client.get(REMEDIATION_REQUESTS, NS, name)
        return obj if (obj.get("status") or {}).get("phase") == phase else None

    return read


def _request(name: str) -> JSON:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationRequest",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "signalFingerprint": "ef" * 32,
            "signalName": "KubePodCrashLooping",
            "severity": "critical",
            "signalType": "prometheus",
            "signalSource": "alertmanager",
            "targetResource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": NS,
                "name": "web",
            },
        },
    }


def _report(client: KubeClient, resource: Resource, name: str, status: JSON) -> None:
    client.patch(resource, NS, name, {"status": status}, subresource="status")


def test_a_remediation_runs_end_to_end_and_suppresses_its_duplicate(
    client: KubeClient, manager: Manager
) -> None:
    client.create(REMEDIATION_REQUESTS, NS, _request("crash"))
    processing = _eventually(_phase_is(client, "crash", "Processing"))
    assert processing["metadata"]["finalizers"] == ["remediationrequest.kubernaut.ai/cleanup"]
    signal = _eventually(lambda: client.get(SIGNAL_PROCESSINGS, NS, "crash-signal"))
    owner = signal["metadata"]["ownerReferences"][0]
    assert (owner["name"], owner["uid"], owner["controller"]) == (
        "crash",
        processing["metadata"]["uid"],
        True,
    )

    client.create(REMEDIATION_REQUESTS, NS, _request("crash-again"))
    skipped = _eventually(_phase_is(client, "crash-again", "Skipped"))
    assert skipped["status"]["duplicateOf"]["name"] == "crash"

    _report(
        client,
        SIGNAL_PROCESSINGS,
        "crash-signal",
        {"phase": "Completed", "environment": "staging", "priority": "P1", "targetFound": True},
    )
    analyzing = _eventually(_phase_is(client, "crash", "Analyzing"))
    assert analyzing["metadata"]["labels"]["kubernaut.ai/environment"] == "staging"
    analysis = _eventually(lambda: client.get(AI_ANALYSES, NS, "crash-analysis"))
    assert analysis["spec"]["enrichment"]["environment"] == "staging"

    _report(
        client,
        AI_ANALYSES,
        "crash-analysis",
        {
            "phase": "Completed",
            "selectedWorkflow": WORKFLOW,
            "confidence": 0.95,
            "approvalRequired": False,
        },
    )
    _eventually(_phase_is(client, "crash", "Executing"))
    execution = _eventually(lambda: client.get(WORKFLOW_EXECUTIONS, NS, "crash-workflow"))
    assert execution["spec"]["executionStrategy"]["approvalRequired"] is False
    assert execution["spec"]["remediationRequestRef"]["uid"] == processing["metadata"]["uid"]

    _report(
        client,
        WORKFLOW_EXECUTIONS,
        "crash-workflow",
        {"phase": "Completed", "totalSteps": 1, "stepsCompleted": 1, "stepsFailed": 0},
    )
    done = _eventually(_phase_is(client, "crash", "Completed"))
    status = done["status"]
    assert status["outcome"] == "Succeeded"
    assert status["occurrences"] == 2
    assert (status["stepsTotal"], status["stepsCompleted"]) == (1, 1)
    assert [t["phase"] for t in status["transitions"]] == [
        "Pending",
        "Processing",
        "Analyzing",
        "Executing",
        "Completed",
    ]
    notice = client.get(NOTIFICATION_REQUESTS, NS, "crash-completion")
    assert notice["spec"]["type"] == "Completion"
    assert [ref["name"] for ref in status["notificationRefs"]] == ["crash-completion"]
