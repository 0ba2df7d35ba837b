# mypy: disable-error-code="arg-type,union-attr,no-untyped-call"
"""The project's own webhook (``kubernaut webhook serve``) behind devcluster, driven by kubectl.

Registered like the Helm chart registers it: a Mutating and a Validating
WebhookConfiguration with a service reference (mapped to the local port) and
the development CA as caBundle, so the TLS check is against the service name.
"""

from __future__ import annotations

import base64
import json
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from certs.files import CertificatePaths, generate
from devcluster.runner import DevCluster, free_port
from devcluster.webhook_client import Address

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SERVICE, NAMESPACE = "kubernaut-webhook", "kubernaut-system"


def _wait_for_tls(port: int, certs: CertificatePaths, process: subprocess.Popen[bytes]) -> None:
    context = ssl.create_default_context(cafile=str(certs.ca_cert))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("kubernaut webhook serve exited early")
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
                context.wrap_socket(raw, server_hostname=f"{SERVICE}.{NAMESPACE}.svc"),
            ):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("kubernaut webhook serve did not start in time")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificatePaths:
    return generate(tmp_path_factory.mktemp("certs"), service=SERVICE, namespace=NAMESPACE)


@pytest.fixture(scope="module")
def webhook_port(
    certs: CertificatePaths, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    port = free_port()
    log = (tmp_path_factory.mktemp("webhook") / "webhook.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubernaut",
            "webhook",
            "serve",
            "--cert-dir",
            str(certs.directory),
            "--policies",
            str(ROOT / "policies"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--metrics-port",
            str(free_port()),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        _wait_for_tls(port, certs, process)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, webhook_port: int) -> Iterator[DevCluster]:
    kubeconfig = tmp_path_factory.mktemp("devcluster") / "kubeconfig"
    services = {f"{SERVICE}.{NAMESPACE}": Address("127.0.0.1", webhook_port)}
    with DevCluster.start(kubeconfig=kubeconfig, webhook_services=services) as running:
        yield running


def _configuration(kind: str, path: str, ca_bundle: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": f"kubernaut-{path.strip('/')}"},
        "webhooks": [
            {
                "name": f"{path.strip('/')}.kubernaut.ai",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "timeoutSeconds": 5,
                "clientConfig": {
                    "service": {"namespace": NAMESPACE, "name": SERVICE, "path": path},
                    "caBundle": ca_bundle,
                },
                "rules": [
                    {
                        "operations": ["CREATE", "UPDATE"],
                        "apiGroups": ["kubernaut.ai"],
                        "apiVersions": ["v1alpha1"],
                        "resources": ["*", "*/status"],
                    }
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def registered(kubectl: Any, certs: CertificatePaths) -> None:
    for crd in sorted((ROOT / "charts" / "kubernaut" / "crds").glob("*.yaml")):
        kubectl.run("apply", "-f", str(crd))
    ca_bundle = base64.b64encode(certs.ca_cert.read_bytes()).decode()
    documents = [
        _configuration("MutatingWebhookConfiguration", "/mutate", ca_bundle),
        _configuration("ValidatingWebhookConfiguration", "/validate", ca_bundle),
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "shop-staging", "labels": {"kubernaut.ai/environment": "staging"}},
        },
    ]
    kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump_all(documents))


def _expected_field(example: Path) -> str:
    for line in example.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect:"):
            return line.partition(":")[2].strip()
    raise AssertionError(f"{example} names no expected field")


def test_invalid_example_is_rejected_with_the_policy_message(
    registered: None, kubectl: Any
) -> None:
    example = ROOT / "examples" / "invalid" / "wfe-dependency-cycle.yaml"
    namespace = yaml.safe_load(example.read_text(encoding="utf-8"))["metadata"]["namespace"]
    kubectl.run("create", "namespace", namespace, check=False)
    result = kubectl.run("apply", "-f", str(example), check=False)
    assert result.returncode == 1
    assert 'admission webhook "validate.kubernaut.ai" denied the request' in result.stderr
    assert _expected_field(example) in result.stderr


def test_valid_example_is_stored_with_mutations_applied(registered: None, kubectl: Any) -> None:
    example = ROOT / "examples" / "valid" / "remediationrequest.yaml"
    kubectl.run("apply", "-f", str(example))
    name = yaml.safe_load(example.read_text(encoding="utf-8"))["metadata"]["name"]
    stored = json.loads(
        kubectl.run("get", "remediationrequest", name, "-n", "shop-staging", "-o", "json").stdout
    )
    assert stored["metadata"]["annotations"]["kubernaut.ai/created-by"] == "dev-admin"


def test_approval_annotation_is_stamped_with_the_approver(registered: None, kubectl: Any) -> None:
    example = ROOT / "examples" / "valid" / "remediationrequest.yaml"
    kubectl.run("apply", "-f", str(example))
    name = yaml.safe_load(example.read_text(encoding="utf-8"))["metadata"]["name"]
    kubectl.run(
        "annotate",
        "remediationrequest",
        name,
        "-n",
        "shop-staging",
        "kubernaut.ai/approval=approved",
        "--as=carol",
        "--as-group=kubernaut-approvers",
    )
    annotations = json.loads(
        kubectl.run("get", "remediationrequest", name, "-n", "shop-staging", "-o", "json").stdout
    )["metadata"]["annotations"]
    assert annotations["kubernaut.ai/approved-by"] == "carol"
    assert annotations["kubernaut.ai/approved-at"].endswith("Z")


def test_forged_approved_by_is_denied(registered: None, kubectl: Any) -> None:
    example = ROOT / "examples" / "valid" / "remediationrequest.yaml"
    kubectl.run("apply", "-f", str(example))
    name = yaml.safe_load(example.read_text(encoding="utf-8"))["metadata"]["name"]
    result = kubectl.run(
        "annotate",
        "--overwrite",
        "remediationrequest",
        name,
        "-n",
        "shop-staging",
        "kubernaut.ai/approved-by=mallory",
        check=False,
    )
    assert result.returncode == 1
    assert 'admission webhook "' in result.stderr
    assert "denied the request" in result.stderr
