"""The pure parts of notification delivery: retry schedule, verdict and payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.notificationrequest import Channel, RetryPolicy
from reconciler.notify import Notification, delivery_id, slack_payload, webhook_payload
from reconciler.notify.schedule import (
    backoff,
    channel_keys,
    channel_states,
    due,
    next_due,
    verdict,
)

JSON = dict[str, Any]
NOW = datetime(2026, 11, 29, 7, 20, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, initial_backoff="10s", max_backoff="30s", backoff_multiplier=2)
LOG = Channel(type="log")
HOOK = Channel.model_validate({"type": "webhook", "secretRef": {"name": "s", "key": "url"}})
SLACK = Channel.model_validate({"type": "slack", "secretRef": {"name": "s", "key": "slack"}})


def _attempt(channel: str, attempt: int, ok: bool, at: datetime = NOW) -> JSON:
    entry: JSON = {
        "channel": channel,
        "attempt": attempt,
        "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "outcome": "Success" if ok else "Failure",
    }
    if not ok:
        entry["error"] = "HTTP 500"
    return entry


@pytest.mark.parametrize(("failures", "seconds"), [(1, 10), (2, 20), (3, 30), (4, 30), (10, 30)])
def test_backoff_grows_by_the_multiplier_up_to_the_maximum(failures: int, seconds: int) -> None:
    assert backoff(POLICY, failures) == timedelta(seconds=seconds)


def test_backoff_with_a_huge_exponent_stays_at_the_maximum() -> None:
    policy = RetryPolicy(
        max_attempts=20, initial_backoff="1h", max_backoff="2h", backoff_multiplier=10
    )
    assert backoff(policy, 19) == timedelta(hours=2)


def test_channels_of_one_type_are_numbered() -> None:
    assert channel_keys([LOG, HOOK, SLACK]) == ["log", "webhook", "slack"]
    assert channel_keys([HOOK, LOG, HOOK]) == ["webhook-1", "log", "webhook-2"]


def test_states_schedule_and_verdict_follow_the_attempt_log() -> None:
    attempts = [
        _attempt("log", 1, True),
        _attempt("webhook", 1, False),
        _attempt("slack", 1, False),
        _attempt("slack", 2, False, NOW + timedelta(seconds=10)),
    ]
    log, hook, slack = channel_states([LOG, HOOK, SLACK], attempts)
    assert (log.delivered, log.attempts) == (True, 1)
    assert (hook.delivered, hook.attempts, hook.last_error) == (False, 1, "HTTP 500")
    assert next_due(hook, POLICY) == NOW + timedelta(seconds=10)
    assert next_due(slack, POLICY) == NOW + timedelta(seconds=30)  # 10s + 20s after attempt 2
    assert due([log, hook, slack], POLICY, NOW + timedelta(seconds=9)) == []
    assert due([log, hook, slack], POLICY, NOW + timedelta(seconds=10)) == [hook]
    assert verdict([log, hook, slack], POLICY) is None


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        ([_attempt("log", 1, True), _attempt("webhook", 2, True)], "Sent"),
        (
            [_attempt("log", 1, True), *(_attempt("webhook", n, False) for n in (1, 2, 3))],
            "PartiallySent",
        ),
        (
            [_attempt(channel, n, False) for channel in ("log", "webhook") for n in (1, 2, 3)],
            "Failed",
        ),
    ],
)
def test_the_verdict_once_nothing_is_pending(attempts: list[JSON], expected: str) -> None:
    assert verdict(channel_states([LOG, HOOK], attempts), POLICY) == expected


def test_a_channel_never_tried_is_due_at_once() -> None:
    (state,) = channel_states([HOOK], [])
    assert next_due(state, POLICY) is None
    assert due([state], POLICY, NOW) == [state]


# ---------------------------------------------------------------------- payloads

NOTE = Notification(
    name="rr-web-escalation",
    namespace="shop",
    uid="n-uid",
    type="Escalation",
    priority="critical",
    subject="Remediation rr-web failed <@here>",
    body="step restart failed & rolled back",
    metadata={"environment": "production", "reason": "TimedOut"},
    remediation="rr-web",
)


def test_webhook_payload_carries_everything_and_the_delivery_id() -> None:
    identifier = delivery_id(NOTE, "webhook", 2)
    assert identifier == "n-uid/webhook/2"
    assert webhook_payload(NOTE, identifier) == {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "Notification",
        "deliveryId": "n-uid/webhook/2",
        "notification": {"name": "rr-web-escalation", "namespace": "shop", "uid": "n-uid"},
        "type": "Escalation",
        "priority": "critical",
        "subject": "Remediation rr-web failed <@here>",
        "body": "step restart failed & rolled back",
        "metadata": {"environment": "production", "reason": "TimedOut"},
        "remediationRequest": "rr-web",
    }


def test_slack_payload_has_fallback_text_and_escaped_blocks() -> None:
    payload = slack_payload(NOTE, "ignored")
    assert payload["text"] == "[CRITICAL] Escalation: Remediation rr-web failed &lt;@here&gt;"
    header, section, context, fields = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Remediation rr-web failed <@here>"},
    }
    assert section["text"] == {"type": "mrkdwn", "text": "step restart failed &amp; rolled back"}
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == (
        "*Priority:* critical | *Type:* Escalation | *Remediation:* rr-web"
    )
    assert [field["text"] for field in fields["fields"]] == [
        "*environment*\nproduction",
        "*reason*\nTimedOut",
    ]


def test_slack_payload_respects_slack_limits() -> None:
    long_note = Notification(
        name="n",
        namespace="ns",
        uid="",
        type="StatusUpdate",
        priority="low",
        subject="s" * 400,
        body="b" * 5000,
        metadata={f"k{i:02}": "v" for i in range(15)},
    )
    payload = slack_payload(long_note, "")
    header, section, _, fields = payload["blocks"]
    assert len(header["text"]["text"]) == 150
    assert len(section["text"]["text"]) == 3000
    assert len(fields["fields"]) == 10
    assert delivery_id(long_note, "log", 1) == "ns/n/log/1"


def test_slack_payload_without_body_or_metadata_has_only_header_and_context() -> None:
    bare = Notification(
        name="n", namespace="ns", uid="u", type="Completion", priority="low", subject="ok"
    )
    assert [block["type"] for block in slack_payload(bare, "")["blocks"]] == ["header", "context"]
