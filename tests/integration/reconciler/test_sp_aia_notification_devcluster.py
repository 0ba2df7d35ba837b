"""SignalProcessing, AIAnalysis and NotificationRequest controllers in a real Manager.

Against devcluster (status writes through ``/status``, checked against the
generated CRD schemas), with the shipped policies and workflow catalog, and a
local HTTP server standing in for a webhook receiver.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import config

from devcluster.runner import DevCluster
from reconciler.analysers import CatalogAnalyser
from reconciler.controllers.aianalysis import AI_ANALYSES, AIAnalysisController
from reconciler.controllers.notificationrequest import (
    NOTIFICATION_REQUESTS,
    NotificationRequestController,
)
from reconciler.controllers.signalprocessing import (
    SIGNAL_PROCESSINGS,
    SignalProcessingController,
)
from reconciler.kube import ApiError, KubeClient, Resource
from reconciler.manager import Manager, ManagerSettings
from webhook.policy import EmbeddedPolicyEngine

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parents[3]
CRDS = ROOT / "charts" / "kubernaut" / "crds"
CUSTOM_RESOURCE_DEFINITIONS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False)
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
REPLICASETS = Resource("apps", "v1", "replicasets", "ReplicaSet")
PODS = Resource("", "v1", "pods", "Pod")
SECRETS = Resource("", "v1", "secrets", "Secret")
NS = "shop"
SIGNAL: JSON = {
    "fingerprint": "ab" * 32,
    "name": "KubePodCrashLooping",
    "severity": "sev1",
    "targetResource": {"apiVersion": "v1", "kind": "Pod", "namespace": NS, "name": "web-1-x"},
}


class _Events:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def record(self, obj: JSON, event_type: Any, reason: str, message: str) -> None:
        self.messages.append(f"{reason}: {message}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[JSON]]]:
    received: list[JSON] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook/s3cr3t", received
    httpd.shutdown()
    httpd.server_close()


def _owned(kind: str, name: str, owner: JSON | None) -> JSON:
    metadata: JSON = {"name": name, "namespace": NS, "labels": {"app": "web"}}
    if owner is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": owner["apiVersion"],
                "kind": owner["kind"],
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
            }
        ]
    return {"metadata": metadata}


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, receiver: tuple[str, list[JSON]]
) -> Iterator[KubeClient]:
    kubeconfig = tmp_path_factory.mktemp("devcluster") / "kubeconfig"
    with DevCluster.start(kubeconfig=kubeconfig, bookmark_interval=0.2, webhooks=False):
        api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        kube = KubeClient(api)
        for path in sorted(CRDS.glob("*.yaml")):
            kube.create(CUSTOM_RESOURCE_DEFINITIONS, None, yaml.safe_load(path.read_text()))
        kube.create(
            NAMESPACES,
            None,
            {"metadata": {"name": NS, "labels": {"kubernaut.ai/environment": "production"}}},
        )
        labels = {"matchLabels": {"app": "web"}}
        pod_template = {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/pause:3.9"}]},
        }
        deployment = kube.create(
            DEPLOYMENTS,
            NS,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                **_owned("Deployment", "web", None),
                "spec": {"selector": labels, "template": pod_template},
            },
        )
        replicaset = kube.create(
            REPLICASETS,
            NS,
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                **_owned("ReplicaSet", "web-1", deployment),
                "spec": {"selector": labels, "template": pod_template},
            },
        )
        kube.create(
            PODS,
            NS,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                **_owned("Pod", "web-1-x", replicaset),
                "spec": pod_template["spec"],
            },
        )
        url = base64.b64encode(receiver[0].encode()).decode()
        kube.create(
            SECRETS,
            NS,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "hooks"},
                "data": {"url": url},
            },
        )
        yield kube
        api.close()


@pytest.fixture(scope="module")
def policies() -> EmbeddedPolicyEngine:
    # Module-scoped so the engine outlives the worker threads: regorus objects
    # must be dropped by the thread that made them (at its exit), not by another.
    return EmbeddedPolicyEngine(ROOT / "policies")


@pytest.fixture(scope="module")
def events(client: KubeClient, policies: EmbeddedPolicyEngine) -> Iterator[_Events]:
    sink = _Events()
    analyser = CatalogAnalyser.from_file(ROOT / "policies" / "data" / "workflow_catalog.json")
    running = Manager(
        client,
        [
            SignalProcessingController(policies),
            AIAnalysisController(analyser, policies),
            NotificationRequestController(),
        ],
        events=sink,
        settings=ManagerSettings(workers=1, namespaces=(NS,)),
    )
    running.start()
    yield sink
    running.stop()


def _terminal(client: KubeClient, resource: Resource, name: str, *, timeout: float = 20.0) -> JSON:
    deadline = time.monotonic() + timeout
    status: JSON = {}
    while time.monotonic() < deadline:
        try:
            status = client.get(resource, NS, name).get("status") or {}
        except ApiError as err:
            if not err.not_found:
                raise
        if status.get("completionTime"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"{resource.kind} {name} did not finish: {status}")


def _create(client: KubeClient, resource: Resource, name: str, spec: JSON) -> None:
    client.create(
        resource,
        NS,
        {
            "apiVersion": "kubernaut.ai/v1alpha1",
            "kind": resource.kind,
            "metadata": {"name": name, "namespace": NS},
            "spec": spec,
        },
    )


def test_signal_processing_enriches_and_classifies(client: KubeClient, events: _Events) -> None:
    _create(
        client,
        SIGNAL_PROCESSINGS,
        "sp",
        {"remediationRequestRef": {"name": "rr"}, "signal": SIGNAL},
    )
    status = _terminal(client, SIGNAL_PROCESSINGS, "sp")
    assert status["phase"] == "Completed"
    assert status["targetFound"] is True
    assert [(entry["kind"], entry["name"]) for entry in status["ownerChain"]] == [
        ("ReplicaSet", "web-1"),
        ("Deployment", "web"),
    ]
    assert (status["environment"], status["severity"], status["priority"]) == (
        "production",
        "critical",
        "P0",
    )
    assert [t["phase"] for t in status["transitions"]] == [
        "Pending",
        "Enriching",
        "Classifying",
        "Completed",
    ]
    finalizers = client.get(SIGNAL_PROCESSINGS, NS, "sp")["metadata"]["finalizers"]
    assert finalizers == ["signalprocessing.kubernaut.ai/cleanup"]


def test_analysis_selects_the_catalog_workflow(client: KubeClient, events: _Events) -> None:
    enrichment = {
        "targetFound": True,
        "ownerChain": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "namespace": NS},
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": NS},
        ],
        "environment": "production",
        "severity": "critical",
        "priority": "P0",
    }
    _create(
        client,
        AI_ANALYSES,
        "aia",
        {"remediationRequestRef": {"name": "rr"}, "signal": SIGNAL, "enrichment": enrichment},
    )
    status = _terminal(client, AI_ANALYSES, "aia")
    assert status["phase"] == "Completed", status
    workflow = status["selectedWorkflow"]
    assert workflow["name"] == "restart-deployment"
    assert workflow["steps"][0]["parameters"] == {
        "restartDeployment": {"namespace": NS, "deployment": "web"}
    }
    assert status["confidence"] == 0.85
    assert status["analyzer"] == "catalog"
    assert status["approvalRequired"] is False
    assert [t["phase"] for t in status["transitions"]] == [
        "Pending",
        "Investigating",
        "Completed",
    ]


def test_a_notification_is_delivered_to_log_and_webhook(
    client: KubeClient, events: _Events, receiver: tuple[str, list[JSON]]
) -> None:
    _create(
        client,
        NOTIFICATION_REQUESTS,
        "notif",
        {
            "type": "Completion",
            "priority": "low",
            "subject": "rr completed",
            "channels": [
                {"type": "log"},
                {"type": "webhook", "secretRef": {"name": "hooks", "key": "url"}},
            ],
        },
    )
    status = _terminal(client, NOTIFICATION_REQUESTS, "notif")
    assert status["phase"] == "Sent"
    assert [(a["channel"], a["outcome"]) for a in status["deliveryAttempts"]] == [
        ("log", "Success"),
        ("webhook", "Success"),
    ]
    url, received = receiver
    assert [body["subject"] for body in received] == ["rr completed"]
    assert url not in json.dumps(status) + " ".join(events.messages)
