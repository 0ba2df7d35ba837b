"""The OPA engine against a small in-test server implementing OPA's v1 Data API.

The server answers ``POST /v1/data/{path}`` with the embedded engine's value
of ``data.{path}`` (``{}`` when undefined) and ``GET /health``; so the OPA
engine must give the same typed results as the embedded one.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from webhook.policy import (
    ApprovalRequirement,
    Classification,
    EmbeddedPolicyEngine,
    OpaPolicyEngine,
    PolicyEvaluationError,
)

pytestmark = pytest.mark.integration

POLICIES = Path(__file__).resolve().parents[3] / "policies"


class _DataApi(BaseHTTPRequestHandler):
    engine: EmbeddedPolicyEngine

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, {})
        else:
            self._reply(404, {"code": "resource_not_found", "message": self.path})

    def do_POST(self) -> None:
        if not self.path.startswith("/v1/data/"):
            self._reply(404, {"code": "resource_not_found", "message": self.path})
            return
        rule = "data." + self.path.removeprefix("/v1/data/").split("?")[0].replace("/", ".")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if rule.startswith("data.broken"):
            self._reply(500, {"code": "internal_error", "message": "1:1: divide by zero"})
            return
        try:
            value = self.engine.evaluate(rule, body.get("input") or {})
        except PolicyEvaluationError as err:
            self._reply(500, {"code": "internal_error", "message": str(err)})
            return
        self._reply(200, {} if value is None else {"result": value})

    def _reply(self, status: int, document: dict[str, Any]) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def embedded() -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine(POLICIES)


@pytest.fixture(scope="module")
def opa(embedded: EmbeddedPolicyEngine) -> Iterator[OpaPolicyEngine]:
    handler = type("Handler", (_DataApi,), {"engine": embedded})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    engine = OpaPolicyEngine(f"http://127.0.0.1:{server.server_address[1]}")
    yield engine
    engine.close()
    server.shutdown()
    server.server_close()


def _workflow(replicas: int) -> dict[str, Any]:
    steps = [
        {
            "stepNumber": 1,
            "name": "scale-web",
            "action": "scaleDeployment",
            "parameters": {
                "scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": replicas}
            },
        }
    ]
    return {
        "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "WorkflowExecution"},
        "resource": {
            "group": "kubernaut.ai",
            "version": "v1alpha1",
            "resource": "workflowexecutions",
        },
        "subResource": "",
        "namespace": "shop",
        "name": "wfe-web",
        "dryRun": False,
        "object": {
            "metadata": {
                "name": "wfe-web",
                "namespace": "shop",
                "labels": {"kubernaut.ai/environment": "staging"},
            },
            "spec": {
                "targetResource": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "namespace": "shop",
                    "name": "web",
                },
                "workflowDefinition": {"name": "scale", "version": "1", "steps": steps},
            },
        },
        "oldObject": None,
    }


def test_admission_decision_matches_embedded(
    opa: OpaPolicyEngine, embedded: EmbeddedPolicyEngine
) -> None:
    review = _workflow(80)
    decision = opa.admission_decision(review)
    assert decision.deny == ("step 1 (scale-web): replicas 80 exceeds the maximum 50",)
    assert decision == embedded.admission_decision(review)
    assert opa.admission_decision(_workflow(5)).allowed


def test_other_queries(opa: OpaPolicyEngine) -> None:
    assert opa.mutation_defaults(_workflow(5)) == {
        "/spec/workflowDefinition/steps/0/timeout": "5m",
        "/spec/workflowDefinition/steps/0/maxRetries": 3,
    }
    assert opa.require_approval({"environment": "staging", "confidence": 0.5, "actions": []}) == (
        ApprovalRequirement(True, "confidence 0.5 is below the threshold 0.8")
    )
    assert opa.classify(
        {"signal": {"severity": "p1"}, "namespaceLabels": {"env": "production"}}
    ) == (Classification("production", "high", "P1"))
    allowed, messages = opa.precondition(
        "node_exists",
        {"action": "cordonNode", "parameters": {"cordonNode": {"nodeName": "n1"}}, "target": None},
    )
    assert not allowed
    assert messages == ("node n1 not found",)
    assert opa.evaluate("data.kubernaut.nothing.here", {}) is None
    assert opa.status().ready


def test_server_error_is_a_policy_evaluation_error(opa: OpaPolicyEngine) -> None:
    with pytest.raises(PolicyEvaluationError) as raised:
        opa.evaluate("data.broken.rule", {})
    assert str(raised.value).endswith(
        "failed to evaluate data.broken.rule: HTTP 500 internal_error: 1:1: divide by zero"
    )


def test_connection_refused_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = OpaPolicyEngine(f"http://127.0.0.1:{port}", timeout=1.0)
    with pytest.raises(PolicyEvaluationError) as raised:
        engine.admission_decision(_workflow(5))
    assert str(raised.value) == (
        f"OPA server at http://127.0.0.1:{port} is unreachable while evaluating "
        "data.kubernaut.admission.deny: connection refused"
    )
    status = engine.status()
    assert not status.ready
    assert "not healthy" in status.detail
    engine.close()


def test_invalid_url_is_rejected() -> None:
    with pytest.raises(ValueError, match="must be http"):
        OpaPolicyEngine("ftp://opa")
