"""The HTTP analyser against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from api.signal import Enrichment, SignalContext
from reconciler.analysers import AnalysisFailure, AnalysisRequest, AnalysisResult, HttpAnalyser

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
WORKFLOW: JSON = {
    "name": "scale-out",
    "version": "2",
    "steps": [
        {
            "stepNumber": 1,
            "name": "scale",
            "action": "scaleDeployment",
            "parameters": {
                "scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": 4}
            },
        }
    ],
}


@dataclass
class _Answer:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0


@dataclass
class _Service:
    url: str
    answer: _Answer = field(default_factory=_Answer)
    received: list[tuple[dict[str, str], JSON]] = field(default_factory=list)


@pytest.fixture
def service() -> Iterator[_Service]:
    state = _Service(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            state.received.append((dict(self.headers.items()), body))
            answer = state.answer
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/analyse"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _request() -> AnalysisRequest:
    signal = SignalContext.model_validate(
        {
            "fingerprint": "d" * 64,
            "name": "HighMemoryUsage",
            "severity": "high",
            "targetResource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
            },
            "labels": {"team": "shop"},
        }
    )
    enrichment = Enrichment(target_found=True, environment="production", priority="P1")
    return AnalysisRequest("rr-web-analysis", "shop", signal, enrichment, "rr-web", "uid-1")


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


def _analyse(service: _Service, **options: Any) -> AnalysisResult | AnalysisFailure:
    analyser = HttpAnalyser(service.url, **options)
    try:
        return analyser.analyse(_request())
    finally:
        analyser.close()


def test_a_valid_answer_is_the_result_and_the_request_follows_the_schema(
    service: _Service, tmp_path: Path
) -> None:
    service.answer = _Answer(
        body=_json(
            {"workflow": WORKFLOW, "confidence": 0.82, "rationale": "memory", "debug": {"x": 1}}
        )
    )
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")

    result = _analyse(service, token_file=token)

    assert isinstance(result, AnalysisResult)
    assert result.workflow.name == "scale-out"
    assert result.confidence == 0.82
    assert result.rationale == "memory"
    ((headers, body),) = service.received
    assert headers["Authorization"] == "Bearer s3cret-token"
    assert headers["Content-Type"] == "application/json"
    assert body["apiVersion"] == "kubernaut.ai/v1alpha1"
    assert body["kind"] == "AnalysisRequest"
    assert body["analysis"] == {
        "name": "rr-web-analysis",
        "namespace": "shop",
        "uid": "uid-1",
        "remediationRequest": "rr-web",
    }
    assert body["signal"]["targetResource"]["name"] == "web"
    assert body["signal"]["labels"] == {"team": "shop"}
    assert body["enrichment"] == {
        "targetFound": True,
        "environment": "production",
        "priority": "P1",
    }


def test_a_slow_service_times_out(service: _Service) -> None:
    service.answer = _Answer(body=_json({"workflow": WORKFLOW, "confidence": 1}), delay=2.0)
    result = _analyse(service, timeout=0.3)
    assert isinstance(result, AnalysisFailure)
    assert result.reason == "AnalyserTimeout"
    assert "0.3s" in result.message


def test_a_server_error_fails_with_the_status_and_an_excerpt(service: _Service) -> None:
    service.answer = _Answer(status=500, body=b"database exploded " + b"x" * 500)
    result = _analyse(service)
    assert isinstance(result, AnalysisFailure)
    assert result.reason == "AnalyserHTTPError"
    assert "HTTP 500: database exploded" in result.message
    assert len(result.message) < 400


@pytest.mark.parametrize(
    ("body", "reason", "text"),
    [
        (b"<html>not json</html>", "AnalyserInvalidResponse", "not JSON"),
        (_json([1, 2]), "AnalyserInvalidResponse", "invalid analysis"),
        (
            _json({"workflow": {"name": "x"}, "confidence": 0.9}),
            "AnalyserInvalidResponse",
            "workflow.version",
        ),
        (_json({"workflow": WORKFLOW, "confidence": 3}), "AnalyserInvalidResponse", "confidence"),
        (_json({"workflow": WORKFLOW}), "AnalyserInvalidResponse", "without a confidence"),
        (_json({"workflow": None, "rationale": "all fine"}), "NoWorkflowSelected", "all fine"),
    ],
)
def test_garbage_answers_fail_with_a_reason(
    service: _Service, body: bytes, reason: str, text: str
) -> None:
    service.answer = _Answer(body=body)
    result = _analyse(service)
    assert isinstance(result, AnalysisFailure), result
    assert result.reason == reason
    assert text in result.message


def test_an_unreachable_service_fails() -> None:
    analyser = HttpAnalyser("http://127.0.0.1:9/analyse", timeout=2.0)
    try:
        result = analyser.analyse(_request())
    finally:
        analyser.close()
    assert isinstance(result, AnalysisFailure)
    assert result.reason in {"AnalyserUnreachable", "AnalyserTimeout"}


def test_an_unreadable_token_file_fails_without_calling(service: _Service, tmp_path: Path) -> None:
    result = _analyse(service, token_file=tmp_path / "absent")
    assert isinstance(result, AnalysisFailure)
    assert result.reason == "AnalyserMisconfigured"
    assert service.received == []


@pytest.mark.parametrize(
    ("url", "options"),
    [("ftp://host/x", {}), ("http://127.0.0.1/x", {"timeout": 0})],
)
def test_bad_configuration_is_refused(url: str, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="analyser"):
        HttpAnalyser(url, **options)
