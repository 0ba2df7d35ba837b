"""Notification delivery end to end against a local HTTP server on 127.0.0.1.

The NotificationRequest controller's observe/decide loop runs with the real
webhook and Slack senders and an injected clock; the object is carried from
one reconcile to the next as the executor would leave it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler.controller import ClusterView
from reconciler.controllers.notificationrequest import NotificationRequestController
from reconciler.controllers.progress import Moves
from reconciler.effects import Effect, RecordEvent, RequeueAfter
from reconciler.kube import ApiError, KubeClient, Resource
from reconciler.notify import HttpSender, Notification, slack_payload, webhook_payload
from reconciler.notify.channels import LogSender

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
START = datetime(2026, 11, 29, 7, 20, 0, tzinfo=UTC)
HOOK_TOKEN = "T0KEN-hook-4f9a1c"
SLACK_TOKEN = "T0KEN-slack-77e2b0"


@dataclass
class _Server:
    base: str = ""
    statuses: dict[str, list[int]] = field(default_factory=dict)
    """Path -> statuses to answer in order (the last one repeats)."""
    delay: float = 0.0
    echo_path: bool = False
    received: list[tuple[str, dict[str, str], JSON]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[_Server]:
    state = _Server()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            state.received.append((self.path, dict(self.headers.items()), body))
            if state.delay:
                time.sleep(state.delay)
            script = state.statuses.get(self.path, [200])
            status = script.pop(0) if len(script) > 1 else script[0]
            text = (f"no such hook {self.path}" if state.echo_path else "ok").encode()
            try:
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Secrets:
    def __init__(self, data: dict[str, dict[str, str]]) -> None:
        self.data = data

    def get(self, resource: Resource, namespace: str | None, name: str) -> JSON:
        if resource.plural == "notificationrequests":  # freshness check: always current here
            return {"metadata": {"name": name, "resourceVersion": "1"}}
        if resource.plural != "secrets" or name not in self.data:
            raise ApiError(404, "NotFound", f"{resource.plural} {name} not found")
        encoded = {
            key: base64.b64encode(value.encode()).decode() for key, value in self.data[name].items()
        }
        return {"metadata": {"name": name, "namespace": namespace}, "data": encoded}


def _view(server: _Server) -> ClusterView:
    fake: Any = _Secrets(
        {
            "hooks": {
                "url": f"{server.base}/hook/{HOOK_TOKEN}",
                "slack": f"{server.base}/slack/{SLACK_TOKEN}",
            }
        }
    )
    client: KubeClient = fake
    return ClusterView(client, {})


def _notification(channels: list[JSON]) -> JSON:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "NotificationRequest",
        "metadata": {
            "name": "rr-web-escalation",
            "namespace": "shop",
            "uid": "n-uid",
            "generation": 1,
            "resourceVersion": "1",
            "finalizers": ["notificationrequest.kubernaut.ai/cleanup"],
        },
        "spec": {
            "type": "Escalation",
            "priority": "critical",
            "subject": "Remediation rr-web failed",
            "body": "step 1 (restart) failed",
            "metadata": {"environment": "production"},
            "remediationRequestRef": {"name": "rr-web"},
            "channels": channels,
            "retryPolicy": {
                "maxAttempts": 3,
                "initialBackoff": "10s",
                "maxBackoff": "1m",
                "backoffMultiplier": 2.0,
            },
        },
    }


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _reconcile(
    controller: NotificationRequestController, obj: JSON, view: ClusterView, now: datetime
) -> tuple[JSON, list[Effect]]:
    effects = list(controller.decide(obj, controller.observe(obj, view), now))
    moves = Moves(obj)
    moves.add(*effects)
    return moves.obj, effects


def _run_until_done(
    controller: NotificationRequestController, obj: JSON, view: ClusterView, clock: _Clock
) -> tuple[JSON, list[Effect], list[float]]:
    """Reconcile like the manager: again at once after a write, else after the requeue."""
    every: list[Effect] = []
    waits: list[float] = []
    for _ in range(30):
        obj, effects = _reconcile(controller, obj, view, clock.now)
        every.extend(effects)
        if obj["status"]["phase"] in {"Sent", "PartiallySent", "Failed"}:
            return obj, every, waits
        requeues = [effect.seconds for effect in effects if isinstance(effect, RequeueAfter)]
        if requeues:
            waits.append(requeues[0])
            clock.now += timedelta(seconds=requeues[0])
    raise AssertionError(f"not finished: {obj['status']}")


def test_retries_with_backoff_end_partially_sent_and_never_leak_the_urls(
    server: _Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.statuses = {f"/hook/{HOOK_TOKEN}": [500, 503, 200], f"/slack/{SLACK_TOKEN}": [500]}
    clock = _Clock()
    controller = NotificationRequestController(
        senders={
            "log": LogSender(),
            "webhook": HttpSender(webhook_payload, timeout=5.0),
            "slack": HttpSender(slack_payload, timeout=5.0),
        },
        clock=clock,
    )
    obj = _notification(
        [
            {"type": "log"},
            {"type": "webhook", "secretRef": {"name": "hooks", "key": "url"}},
            {"type": "slack", "secretRef": {"name": "hooks", "key": "slack"}},
        ]
    )

    obj, effects, waits = _run_until_done(controller, obj, _view(server), clock)

    status = obj["status"]
    assert status["phase"] == "PartiallySent"
    assert waits == [10.0, 20.0]  # backoff after the first and the second failure
    assert [t["phase"] for t in status["transitions"]] == [
        "Pending",
        "Sending",
        "Retrying",
        "Sending",
        "Retrying",
        "Sending",
        "PartiallySent",
    ]
    assert [(a["channel"], a["attempt"], a["outcome"]) for a in status["deliveryAttempts"]] == [
        ("log", 1, "Success"),
        ("webhook", 1, "Failure"),
        ("slack", 1, "Failure"),
        ("webhook", 2, "Failure"),
        ("slack", 2, "Failure"),
        ("webhook", 3, "Success"),
        ("slack", 3, "Failure"),
    ]
    assert [a["at"] for a in status["deliveryAttempts"][1::2]] == [
        "2026-11-29T07:20:00Z",
        "2026-11-29T07:20:10Z",
        "2026-11-29T07:20:30Z",
    ]
    assert status["deliveryAttempts"][1]["error"] == "HTTP 500: ok"
    assert (status["successfulDeliveries"], status["failedDeliveries"]) == (2, 1)

    hooks = [item for item in server.received if item[0].startswith("/hook/")]
    assert [headers["X-Kubernaut-Delivery"] for _, headers, _ in hooks] == [
        "n-uid/webhook/1",
        "n-uid/webhook/2",
        "n-uid/webhook/3",
    ]
    _, headers, body = hooks[0]
    assert headers["Content-Type"] == "application/json"
    assert body == {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "Notification",
        "deliveryId": "n-uid/webhook/1",
        "notification": {"name": "rr-web-escalation", "namespace": "shop", "uid": "n-uid"},
        "type": "Escalation",
        "priority": "critical",
        "subject": "Remediation rr-web failed",
        "body": "step 1 (restart) failed",
        "metadata": {"environment": "production"},
        "remediationRequest": "rr-web",
    }
    slack_bodies = [body for path, _, body in server.received if path.startswith("/slack/")]
    assert len(slack_bodies) == 3
    assert slack_bodies[0]["text"] == "[CRITICAL] Escalation: Remediation rr-web failed"
    assert [block["type"] for block in slack_bodies[0]["blocks"]] == [
        "header",
        "section",
        "context",
        "section",
    ]

    events = " ".join(effect.message for effect in effects if isinstance(effect, RecordEvent))
    assert "slack: attempt 3/3 failed: HTTP 500" in events
    everything = json.dumps(status) + events + caplog.text
    for secret in (HOOK_TOKEN, SLACK_TOKEN, server.base + "/hook", server.base + "/slack"):
        assert secret not in everything
    assert "notification Escalation (critical): Remediation rr-web failed" in caplog.text


def test_a_restart_after_recorded_attempts_never_resends_them(server: _Server) -> None:
    clock = _Clock()
    controller = NotificationRequestController(
        senders={"webhook": HttpSender(webhook_payload, timeout=5.0)}, clock=clock
    )
    obj = _notification([{"type": "webhook", "secretRef": {"name": "hooks", "key": "url"}}])
    obj, _ = _reconcile(controller, obj, _view(server), clock.now)  # Pending -> Sending
    obj, _ = _reconcile(controller, obj, _view(server), clock.now)  # delivered, Sent
    assert obj["status"]["phase"] == "Sent"

    # A "restarted" controller reading the recorded object delivers nothing more.
    restarted = NotificationRequestController(
        senders={"webhook": HttpSender(webhook_payload, timeout=5.0)}, clock=clock
    )
    for _ in range(3):
        obj, effects = _reconcile(restarted, obj, _view(server), clock.now)
        assert effects == []
    assert len(server.received) == 1


def _send(server: _Server, sender: HttpSender) -> str | None:
    note = Notification(
        name="n", namespace="ns", uid="u", type="Completion", priority="low", subject="s"
    )
    result = sender.send(note, "u/webhook/1", f"{server.base}/hook/{HOOK_TOKEN}")
    assert not result.ok
    return result.error


def test_a_slow_endpoint_times_out(server: _Server) -> None:
    server.delay = 2.0
    assert _send(server, HttpSender(webhook_payload, timeout=0.3)) == "no answer within 0.3s"


def test_redirects_are_not_followed(server: _Server) -> None:
    server.statuses = {f"/hook/{HOOK_TOKEN}": [302]}
    error = _send(server, HttpSender(webhook_payload))
    assert error is not None
    assert error.startswith("HTTP 302")
    assert len(server.received) == 1


def test_an_error_body_quoting_the_url_is_redacted(server: _Server) -> None:
    server.statuses = {f"/hook/{HOOK_TOKEN}": [404]}
    server.echo_path = True
    error = _send(server, HttpSender(webhook_payload))
    assert error == "HTTP 404: no such hook <redacted>"


def test_an_unreachable_endpoint_names_no_url() -> None:
    sender = HttpSender(webhook_payload, timeout=2.0)
    note = Notification(
        name="n", namespace="ns", uid="u", type="Completion", priority="low", subject="s"
    )
    result = sender.send(note, "d", f"http://127.0.0.1:9/hook/{HOOK_TOKEN}")
    assert not result.ok
    assert result.error is not None
    assert HOOK_TOKEN not in result.error
    assert result.error.startswith(("request failed", "no answer"))
