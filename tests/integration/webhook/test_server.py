"""The webhook over real HTTPS: reviews of every kind, 400s, health, readiness, metrics, reload."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from webhook.review import MAX_REVIEW_BYTES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PLURALS = {
    "RemediationRequest": "remediationrequests",
    "SignalProcessing": "signalprocessings",
    "AIAnalysis": "aianalyses",
    "WorkflowExecution": "workflowexecutions",
    "KubernetesExecution": "kubernetesexecutions",
    "NotificationRequest": "notificationrequests",
}


def review(obj: dict[str, Any], uid: str, user: str = "alice") -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": obj["kind"]},
            "resource": {
                "group": "kubernaut.ai",
                "version": "v1alpha1",
                "resource": PLURALS[obj["kind"]],
            },
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
        },
    }


def example(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "examples" / "valid" / name).read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture
def webhook(start_webhook: Callable[..., Any]) -> Iterator[Any]:
    server = start_webhook()
    yield server
    assert server.stop() == 0, server.log()


@pytest.mark.parametrize("name", sorted(path.name for path in (ROOT / "examples/valid").glob("*")))
def test_every_kind_is_mutated_then_validated(webhook: Any, name: str) -> None:
    obj = example(name)
    with webhook.client() as client:
        mutated = client.post("/mutate", json=review(obj, "uid-mutate"))
        assert mutated.status_code == 200
        response = mutated.json()["response"]
        assert response["uid"] == "uid-mutate"
        assert response["allowed"] is True
        patch = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
        if obj["kind"] in ("RemediationRequest", "WorkflowExecution"):
            assert response["patchType"] == "JSONPatch"
            assert {
                "op": "add",
                "path": "/metadata/annotations/kubernaut.ai~1created-by",
                "value": "alice",
            } in patch

        import jsonpatch

        stored = jsonpatch.apply_patch(obj, patch)
        validated = client.post("/validate", json=review(stored, "uid-validate"))
        assert validated.status_code == 200
        assert validated.json()["response"]["uid"] == "uid-validate"
        assert validated.json()["response"]["allowed"] is True, validated.json()


def test_a_policy_denial_over_https(webhook: Any) -> None:
    obj = example("workflowexecution.yaml")
    obj["metadata"]["annotations"] = {"kubernaut.ai/created-by": "alice"}
    obj["spec"]["workflowDefinition"]["steps"][1]["parameters"]["scaleDeployment"]["replicas"] = 99
    with webhook.client() as client:
        response = client.post("/validate", json=review(obj, "uid-deny")).json()["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert "replicas 99 exceeds the maximum 50" in response["status"]["message"]


def test_malformed_bodies_get_400(webhook: Any) -> None:
    with webhook.client() as client:
        answer = client.post("/validate", content=b"{not json")
        assert answer.status_code == 400
        assert "not valid JSON" in answer.json()["message"]
        wrong = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}
        answer = client.post("/mutate", json=wrong)
        assert answer.status_code == 400
        assert "request.uid" in answer.json()["message"]


def test_an_oversized_content_length_is_refused_before_the_body_is_read(webhook: Any) -> None:
    # Announce a huge body and send none of it: the answer must come anyway.
    context = webhook.ssl_context()
    with (
        socket.create_connection(("127.0.0.1", webhook.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(
            b"POST /validate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {MAX_REVIEW_BYTES + 1}\r\n\r\n".encode()
        )
        reply = ""
        while "exceeds the limit" not in reply and (data := tls.recv(65536)):
            reply += data.decode()
    assert reply.startswith("HTTP/1.1 400")
    assert "exceeds the limit" in reply


def test_a_chunked_body_is_cut_off_past_the_limit(webhook: Any) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b" " * (1024 * 1024)

    with webhook.client() as client:
        answer = client.post("/validate", content=chunks())
    assert answer.status_code == 400
    assert "exceeds the limit" in answer.json()["message"]


def test_health_readiness_and_metrics(webhook: Any) -> None:
    with webhook.client() as client:
        assert client.get("/healthz").json() == {"alive": True}
        ready = client.get("/readyz")
        client.post("/validate", json=review(example("signalprocessing.yaml"), "uid-metrics"))
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert body["missing"] == []
    assert body["checks"]["certificate"]["ok"] is True
    assert len(body["checks"]["policies"]["bundleSha256"]) == 64
    metrics = httpx.get(f"http://127.0.0.1:{webhook.metrics_port}/metrics", timeout=10).text
    assert (
        'kubernaut_admission_requests_total{decision="allowed",endpoint="validate",'
        'kind="SignalProcessing",operation="CREATE"} 1.0'
    ) in metrics
    assert "kubernaut_admission_duration_seconds_bucket" in metrics
    assert "kubernaut_policy_bundle_info" in metrics


def test_a_broken_policy_reload_keeps_the_old_bundle_serving(webhook: Any) -> None:
    obj = example("workflowexecution.yaml")
    obj["metadata"]["annotations"] = {"kubernaut.ai/created-by": "alice"}
    obj["spec"]["workflowDefinition"]["steps"][1]["parameters"]["scaleDeployment"]["replicas"] = 99
    broken = webhook.policies / "admission" / "broken.rego"
    broken.write_text("package kubernaut.admission\n\ndeny contains msg if {\n")
    with webhook.client() as client:
        detail = _wait_for(lambda: client.get("/readyz").json()["checks"]["policies"]["lastError"])
        assert "broken.rego" in detail
        ready = client.get("/readyz")
        assert ready.status_code == 200  # the previous bundle still serves
        assert "latest reload failed" in ready.json()["checks"]["policies"]["detail"]
        response = client.post("/validate", json=review(obj, "uid-old")).json()["response"]
        assert response["allowed"] is False
        assert "replicas 99 exceeds the maximum 50" in response["status"]["message"]

        # A fixed bundle with a new limit goes into service.
        broken.unlink()
        config = webhook.policies / "data" / "admission.json"
        data = json.loads(config.read_text())
        data["maxReplicas"] = 100
        config.write_text(json.dumps(data))
        _wait_for(lambda: client.get("/readyz").json()["checks"]["policies"]["lastError"] is None)
        _wait_for(
            lambda: client.post("/validate", json=review(obj, "uid-new")).json()["response"][
                "allowed"
            ]
        )


def _wait_for(probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_not_ready_when_the_bundle_does_not_compile_at_start(
    start_webhook: Callable[..., Any], tmp_path: Path
) -> None:
    policies = tmp_path / "broken-policies"
    (policies / "admission").mkdir(parents=True)
    (policies / "admission" / "admission.rego").write_text("package kubernaut.admission\ndeny if {")
    server = start_webhook(policies)
    with server.client() as client:
        ready = client.get("/readyz")
        response = client.post(
            "/validate", json=review(example("signalprocessing.yaml"), "uid-unready")
        ).json()["response"]
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False
    assert body["missing"] == ["policies"]
    assert "admission.rego" in body["checks"]["policies"]["lastError"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 500
    assert response["uid"] == "uid-unready"
    assert server.stop() == 0


def test_sigterm_stops_the_server_cleanly(start_webhook: Callable[..., Any]) -> None:
    server = start_webhook()
    assert server.stop() == 0
    assert '"admission webhook stopped"' in server.log()
    with pytest.raises((ssl.SSLError, OSError)):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
