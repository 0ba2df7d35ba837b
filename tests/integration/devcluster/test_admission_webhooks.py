# mypy: disable-error-code="arg-type,union-attr,no-untyped-call"
"""devcluster calls admission webhooks over verified HTTPS, as the API server does.

A small TLS webhook server of the test's own (certificates from ``certs.files``)
answers by path; kubectl and the kubernetes client show what a user sees.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from certs.files import generate
from devcluster.runner import DevCluster, free_port
from devcluster.webhook_client import Address

pytestmark = pytest.mark.integration

SERVICE, NAMESPACE = "hook", "webhooks"


class _Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []


def _handler(recorder: _Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            review = json.loads(self.rfile.read(length))
            request = review["request"]
            recorder.requests.append({"path": self.path, "request": request})
            path = self.path.split("?")[0]
            response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
            if path == "/deny":
                response = {
                    "uid": request["uid"],
                    "allowed": False,
                    "status": {"code": 403, "reason": "Forbidden", "message": "nope"},
                }
            elif path == "/warn":
                response["warnings"] = ["careful with that"]
            elif path in ("/label", "/label-again"):
                labels = (request["object"].get("metadata") or {}).get("labels")
                value = "again" if path == "/label-again" else "yes"
                patch = (
                    [{"op": "add", "path": "/metadata/labels", "value": {"mutated": value}}]
                    if labels is None
                    else [{"op": "add", "path": "/metadata/labels/mutated", "value": value}]
                )
                response["patchType"] = "JSONPatch"
                response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
            elif path == "/bad-uid":
                response["uid"] = "someone-else"
            elif path == "/slow":
                time.sleep(2.5)
            elif path == "/error":
                self.send_response(500)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"oops")
                return
            body = json.dumps(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "response": response,
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class WebhookServer:
    def __init__(self, cert_dir: Path) -> None:
        self.recorder = _Recorder()
        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self.recorder))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_dir / "tls.crt", cert_dir / "tls.key")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(
        tmp_path_factory.mktemp("hook-certs"), service=SERVICE, namespace=NAMESPACE
    ).directory


@pytest.fixture(scope="module")
def server(certs_dir: Path) -> Iterator[WebhookServer]:
    running = WebhookServer(certs_dir)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, server: WebhookServer
) -> Iterator[DevCluster]:
    kubeconfig = tmp_path_factory.mktemp("devcluster") / "kubeconfig"
    services = {
        f"{SERVICE}.{NAMESPACE}": Address("127.0.0.1", server.port),
        f"impostor.{NAMESPACE}": Address("127.0.0.1", server.port),
    }
    with DevCluster.start(kubeconfig=kubeconfig, webhook_services=services) as running:
        yield running


@pytest.fixture(scope="module")
def core(cluster: DevCluster) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    core = client.CoreV1Api(api)
    for name, labels in (("hooked", {"webhooks": "on"}), ("quiet", {})):
        core.create_namespace({"metadata": {"name": name, "labels": labels}})
    yield core
    api.close()


@pytest.fixture
def register(core: client.CoreV1Api, certs_dir: Path) -> Iterator[Any]:
    api = client.AdmissionregistrationV1Api(core.api_client)
    created: list[tuple[str, str]] = []
    ca_bundle = base64.b64encode((certs_dir / "ca.crt").read_bytes()).decode()

    def add(kind: str, path: str, *, service: str = SERVICE, **extra: Any) -> None:
        name = f"{kind}-{len(created)}-{path.strip('/')}"
        hook = {
            "name": f"{path.strip('/')}.test.kubernaut.ai",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {
                "service": {"namespace": NAMESPACE, "name": service, "port": 443, "path": path},
                "caBundle": ca_bundle,
            },
            "rules": [
                {
                    "operations": ["CREATE", "UPDATE"],
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "resources": ["configmaps"],
                }
            ],
            "namespaceSelector": {"matchLabels": {"webhooks": "on"}},
            **extra,
        }
        body = {"metadata": {"name": name}, "webhooks": [hook]}
        if kind == "mutating":
            api.create_mutating_webhook_configuration(body)
        else:
            api.create_validating_webhook_configuration(body)
        created.append((kind, name))

    yield add
    for kind, name in created:
        if kind == "mutating":
            api.delete_mutating_webhook_configuration(name)
        else:
            api.delete_validating_webhook_configuration(name)


def _configmap(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def test_denial_is_printed_by_kubectl_like_the_api_server(register: Any, kubectl: Any) -> None:
    register("validating", "/deny")
    result = kubectl.run(
        "apply", "-n", "hooked", "-f", "-", stdin=yaml.safe_dump(_configmap("denied")), check=False
    )
    assert result.returncode == 1
    assert "Error from server (Forbidden)" in result.stderr
    assert 'admission webhook "deny.test.kubernaut.ai" denied the request: nope' in result.stderr


def test_namespace_selector_skips_unlabelled_namespaces(register: Any, core: Any) -> None:
    register("validating", "/deny")
    core.create_namespaced_config_map("quiet", _configmap("allowed"))


def test_warnings_reach_kubectl_as_warning_headers(register: Any, kubectl: Any) -> None:
    register("validating", "/warn")
    result = kubectl.run("apply", "-n", "hooked", "-f", "-", stdin=yaml.safe_dump(_configmap("w")))
    assert "Warning: careful with that" in result.stderr


def test_json_patch_of_a_mutating_webhook_is_stored(register: Any, core: Any) -> None:
    register("mutating", "/label")
    stored = core.create_namespaced_config_map("hooked", _configmap("m"))
    assert stored.metadata.labels == {"mutated": "yes"}


def test_reinvocation_if_needed_calls_an_earlier_webhook_again(
    register: Any, core: Any, server: WebhookServer
) -> None:
    register("mutating", "/warn", reinvocationPolicy="IfNeeded")
    register("mutating", "/label")
    before = len(server.recorder.requests)
    core.create_namespaced_config_map("hooked", _configmap("re"))
    paths = [r["path"].split("?")[0] for r in server.recorder.requests[before:]]
    assert paths == ["/warn", "/label", "/warn"]


def test_request_carries_user_info_of_the_impersonated_user(
    register: Any, kubectl: Any, server: WebhookServer
) -> None:
    register("validating", "/warn")
    kubectl.run(
        "apply",
        "-n",
        "hooked",
        "--as=bob",
        "--as-group=ops",
        "-f",
        "-",
        stdin=yaml.safe_dump(_configmap("who")),
    )
    request = server.recorder.requests[-1]["request"]
    assert request["userInfo"]["username"] == "bob"
    assert "ops" in request["userInfo"]["groups"]
    assert request["operation"] == "CREATE"
    assert request["namespace"] == "hooked"
    assert request["object"]["metadata"]["name"] == "who"


@pytest.mark.parametrize(
    ("path", "service", "why"),
    [
        ("/error", SERVICE, "the server responded with status 500"),
        ("/bad-uid", SERVICE, "expected response.uid="),
        ("/ok", "unmapped", "has no local address"),
        ("/ok", "impostor", "tls: failed to verify certificate"),
    ],
)
def test_failed_calls_reject_the_request_under_failure_policy_fail(
    register: Any, core: Any, path: str, service: str, why: str
) -> None:
    register("validating", path, service=service)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("hooked", _configmap(f"fail-{service}"))
    body = json.loads(caught.value.body)
    assert caught.value.status == 500
    assert body["message"].startswith(
        f'Internal error occurred: failed calling webhook "{path.strip("/")}.test.kubernaut.ai": '
    )
    assert why in body["message"]


def test_timeout_seconds_bounds_the_call(register: Any, core: Any) -> None:
    register("validating", "/slow", timeoutSeconds=1)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("hooked", _configmap("slow"))
    assert "context deadline exceeded" in json.loads(caught.value.body)["message"]


def test_failure_policy_ignore_skips_a_failing_webhook(register: Any, core: Any) -> None:
    register("validating", "/error", failurePolicy="Ignore")
    assert core.create_namespaced_config_map("hooked", _configmap("ignored")).metadata.name


def test_dry_run_is_refused_by_a_webhook_with_side_effects(register: Any, kubectl: Any) -> None:
    register("validating", "/warn", sideEffects="Some")
    result = kubectl.run(
        "apply",
        "--dry-run=server",
        "-n",
        "hooked",
        "-f",
        "-",
        stdin=yaml.safe_dump(_configmap("dry")),
        check=False,
    )
    assert result.returncode == 1
    assert "Error from server (BadRequest)" in result.stderr
    assert 'admission webhook "warn.test.kubernaut.ai" does not support dry run' in result.stderr


def test_webhook_configurations_themselves_are_exempt(register: Any, core: Any) -> None:
    api = client.AdmissionregistrationV1Api(core.api_client)
    register(
        "validating",
        "/deny",
        rules=[
            {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"]}
        ],
        namespaceSelector={},
    )
    api.create_validating_webhook_configuration(
        {"metadata": {"name": "still-possible"}, "webhooks": []}
    )
    api.delete_validating_webhook_configuration("still-possible")
