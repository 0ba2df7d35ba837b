"""NotificationRequest: decide over every phase, retry and verdict; observe's deliveries."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.controller import ClusterView
from reconciler.controllers.notificationrequest import (
    DeliveryRecord,
    NotificationRequestController,
    NotificationRequestObserved,
)
from reconciler.effects import (
    AddFinalizer,
    AuditNote,
    Effect,
    PatchStatus,
    RecordEvent,
    RemoveFinalizer,
    RequeueAfter,
)
from reconciler.kube import ApiError, KubeClient, Resource
from reconciler.notify import DeliveryResult, Notification

JSON = dict[str, Any]
NOW = datetime(2026, 11, 29, 7, 20, 0, tzinfo=UTC)
FINALIZER = "notificationrequest.kubernaut.ai/cleanup"
SECRET_URL = "https://hooks.example.test/services/T0/B0/very-secret-token"


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _notif(phase: str | None = None, attempts: Sequence[JSON] = (), at: datetime = NOW) -> JSON:
    obj: JSON = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "NotificationRequest",
        "metadata": {
            "name": "rr-web-escalation",
            "namespace": "shop",
            "uid": "n-uid",
            "generation": 1,
            "resourceVersion": "4",
            "finalizers": [FINALIZER],
        },
        "spec": {
            "type": "Escalation",
            "priority": "high",
            "subject": "rr-web failed",
            "channels": [
                {"type": "log"},
                {"type": "webhook", "secretRef": {"name": "hooks", "key": "url"}},
            ],
            "retryPolicy": {
                "maxAttempts": 3,
                "initialBackoff": "10s",
                "maxBackoff": "1m",
                "backoffMultiplier": 2.0,
            },
        },
    }
    if phase is not None:
        obj["status"] = {
            "phase": phase,
            "phaseStartTime": _stamp(at),
            "transitions": [{"phase": phase, "at": _stamp(at), "reason": "T", "index": 3}],
            "deliveryAttempts": list(attempts),
        }
    return obj


def _attempt(channel: str, attempt: int, ok: bool, at: datetime = NOW) -> JSON:
    entry: JSON = {
        "channel": channel,
        "attempt": attempt,
        "at": _stamp(at),
        "outcome": "Success" if ok else "Failure",
    }
    if not ok:
        entry["error"] = "HTTP 503"
    return entry


def _record(channel: str, attempt: int, ok: bool, at: datetime = NOW) -> DeliveryRecord:
    return DeliveryRecord(channel, attempt, at, ok, None if ok else "HTTP 503")


def _controller(**options: Any) -> NotificationRequestController:
    return NotificationRequestController(senders={}, **options)


def _phases(effects: Sequence[Effect]) -> list[str]:
    return [
        effect.phase_change.to_phase
        for effect in effects
        if isinstance(effect, PatchStatus) and effect.phase_change is not None
    ]


def _status(effects: Sequence[Effect]) -> JSON:
    status: JSON = {}
    for effect in effects:
        if isinstance(effect, PatchStatus):
            status.update(effect.changes)
    return status


def _observed(*records: DeliveryRecord) -> NotificationRequestObserved:
    return NotificationRequestObserved(deliveries=records)


# ------------------------------------------------------------------------ decide


def test_a_new_request_moves_to_sending_before_any_delivery() -> None:
    obj = _notif()
    obj["metadata"]["finalizers"] = []
    effects = _controller().decide(obj, _observed(), NOW)
    assert effects[0] == AddFinalizer(FINALIZER)
    assert _phases(effects) == ["Pending", "Sending"]
    assert not any(isinstance(effect, RequeueAfter) for effect in effects)


def test_every_channel_delivered_is_sent() -> None:
    effects = _controller().decide(
        _notif("Sending"), _observed(_record("log", 1, True), _record("webhook", 1, True)), NOW
    )
    assert _phases(effects) == ["Sent"]
    status = _status(effects)
    assert status["deliveryAttempts"] == [_attempt("log", 1, True), _attempt("webhook", 1, True)]
    assert (status["successfulDeliveries"], status["failedDeliveries"]) == (2, 0)
    assert status["completionTime"] == _stamp(NOW)
    notes = [effect for effect in effects if isinstance(effect, AuditNote)]
    assert [note.discriminator for note in notes] == ["log/1", "webhook/1"]


def test_a_failed_attempt_schedules_a_retry_after_the_initial_backoff() -> None:
    effects = _controller().decide(
        _notif("Sending"), _observed(_record("log", 1, True), _record("webhook", 1, False)), NOW
    )
    assert _phases(effects) == ["Retrying"]
    assert effects[-1] == RequeueAfter(10.0)
    status = _status(effects)
    assert status["deliveryAttempts"][-1] == _attempt("webhook", 1, False)
    assert "webhook attempt 1/3 failed: HTTP 503; retrying" in status["transitions"][-1]["message"]
    warnings = [
        e for e in effects if isinstance(e, RecordEvent) and e.reason == "DeliveryAttemptFailed"
    ]
    assert len(warnings) == 1
    assert warnings[0].message == "webhook: attempt 1/3 failed: HTTP 503"


def test_retrying_waits_for_the_backoff_then_moves_to_sending() -> None:
    history = [
        _attempt("log", 1, True),
        _attempt("webhook", 1, False),
        _attempt("webhook", 2, False, NOW + timedelta(seconds=10)),
    ]
    obj = _notif("Retrying", history, NOW + timedelta(seconds=10))
    # The second failure waits 10s * 2 = 20s.
    assert _controller().decide(obj, _observed(), NOW + timedelta(seconds=25)) == [
        RequeueAfter(5.0)
    ]
    effects = _controller().decide(obj, _observed(), NOW + timedelta(seconds=30))
    assert _phases(effects) == ["Sending"]
    assert "retrying webhook" in _status(effects)["transitions"][-1]["message"]


def test_the_last_failed_attempt_with_another_channel_delivered_is_partially_sent() -> None:
    history = [
        _attempt("log", 1, True),
        _attempt("webhook", 1, False),
        _attempt("webhook", 2, False),
    ]
    effects = _controller().decide(
        _notif("Sending", history), _observed(_record("webhook", 3, False)), NOW
    )
    assert _phases(effects) == ["PartiallySent"]
    status = _status(effects)
    assert (status["successfulDeliveries"], status["failedDeliveries"]) == (1, 1)
    assert "webhook failed after 3 attempt(s): HTTP 503" in status["message"]
    assert len(status["deliveryAttempts"]) == 4


def test_every_channel_exhausted_is_failed() -> None:
    history = [_attempt(channel, n, False) for channel in ("log", "webhook") for n in (1, 2)]
    effects = _controller().decide(
        _notif("Sending", history),
        _observed(_record("log", 3, False), _record("webhook", 3, False)),
        NOW,
    )
    assert _phases(effects) == ["Failed"]
    change = next(e.phase_change for e in effects if isinstance(e, PatchStatus) and e.phase_change)
    assert change.reason == "DeliveryFailed"


def test_sending_with_a_retry_due_by_decides_clock_only_waits_briefly() -> None:
    history = [_attempt("log", 1, True), _attempt("webhook", 1, False)]
    effects = _controller().decide(
        _notif("Sending", history), _observed(), NOW + timedelta(seconds=10)
    )
    assert effects == [RequeueAfter(1.0)]


def test_an_invalid_spec_fails() -> None:
    obj = _notif()
    obj["spec"]["channels"] = [{"type": "webhook"}]  # no secretRef
    effects = _controller().decide(obj, _observed(), NOW)
    assert _phases(effects) == ["Pending", "Failed"]
    assert "secretRef" in _status(effects)["message"]


@pytest.mark.parametrize("phase", ["Sent", "PartiallySent", "Failed"])
def test_terminal_requests_are_left_alone(phase: str) -> None:
    assert _controller().decide(_notif(phase), _observed(), NOW) == []


def test_deletion_waits_for_the_audit_within_the_grace_period() -> None:
    obj = _notif("Sent")
    obj["metadata"]["deletionTimestamp"] = _stamp(NOW)
    assert _controller().decide(obj, NotificationRequestObserved(audit_complete=False), NOW) == [
        RequeueAfter(5.0)
    ]
    assert _controller().decide(obj, NotificationRequestObserved(), NOW)[-1] == RemoveFinalizer(
        FINALIZER
    )
    late = _controller().decide(
        obj, NotificationRequestObserved(audit_complete=False), NOW + timedelta(minutes=10)
    )
    assert late[-1] == RemoveFinalizer(FINALIZER)


# ----------------------------------------------------------------------- observe


class _Sender:
    def __init__(self, *results: DeliveryResult) -> None:
        self.results = list(results)
        self.calls: list[tuple[Notification, str, str | None]] = []

    def send(self, notification: Notification, delivery: str, url: str | None) -> DeliveryResult:
        self.calls.append((notification, delivery, url))
        return self.results.pop(0) if self.results else DeliveryResult(True)


class _Client:
    def __init__(self, secrets: dict[str, JSON], resource_version: str = "4") -> None:
        self.secrets = secrets
        self.resource_version = resource_version

    def get(self, resource: Resource, namespace: str | None, name: str) -> JSON:
        if resource.plural == "notificationrequests":  # the freshness check
            return {"metadata": {"name": name, "resourceVersion": self.resource_version}}
        assert resource.plural == "secrets"
        if name == "broken":
            raise ApiError(503, "ServiceUnavailable", "try later")
        if name not in self.secrets:
            raise ApiError(404, "NotFound", "gone")
        return self.secrets[name]


def _view(secrets: dict[str, JSON] | None = None, resource_version: str = "4") -> ClusterView:
    encoded = base64.b64encode(SECRET_URL.encode()).decode()
    default = {"hooks": {"data": {"url": encoded}}}
    fake: Any = _Client(default if secrets is None else secrets, resource_version)
    client: KubeClient = fake
    return ClusterView(client, {})


def _senders() -> tuple[_Sender, _Sender]:
    return _Sender(), _Sender(DeliveryResult(False, "HTTP 500"))


def test_observe_delivers_only_while_sending() -> None:
    log, hook = _senders()
    controller = NotificationRequestController(
        senders={"log": log, "webhook": hook}, clock=lambda: NOW
    )
    for phase in (None, "Pending", "Retrying", "Sent"):
        assert controller.observe(_notif(phase), _view()).deliveries == ()
    assert log.calls == []
    assert hook.calls == []


def test_observe_sends_each_due_channel_once_with_its_attempt_number() -> None:
    log, hook = _senders()
    controller = NotificationRequestController(
        senders={"log": log, "webhook": hook}, clock=lambda: NOW + timedelta(seconds=10)
    )
    history = [_attempt("log", 1, True), _attempt("webhook", 1, False)]

    observed = controller.observe(_notif("Sending", history), _view())

    assert log.calls == []  # already delivered: never again
    ((notification, delivery, url),) = hook.calls
    assert url == SECRET_URL
    assert delivery == "n-uid/webhook/2"
    assert notification.subject == "rr-web failed"
    assert observed.deliveries == (
        DeliveryRecord("webhook", 2, NOW + timedelta(seconds=10), False, "HTTP 500"),
    )


def test_observe_does_not_send_before_the_backoff_is_over() -> None:
    log, hook = _senders()
    controller = NotificationRequestController(
        senders={"log": log, "webhook": hook}, clock=lambda: NOW + timedelta(seconds=9)
    )
    history = [_attempt("log", 1, True), _attempt("webhook", 1, False)]
    assert controller.observe(_notif("Sending", history), _view()).deliveries == ()
    assert hook.calls == []


@pytest.mark.parametrize(
    ("secrets", "ref", "error"),
    [
        ({}, "hooks", "Secret shop/hooks not found"),
        ({"hooks": {"data": {"other": "eA=="}}}, "hooks", "Secret shop/hooks has no key url"),
        ({"hooks": {"data": {"url": "%%%"}}}, "hooks", "is not base64-encoded"),
        (
            {"hooks": {"data": {"url": base64.b64encode(b"ftp://x").decode()}}},
            "hooks",
            "does not hold an http(s) URL",
        ),
        ({}, "broken", "reading Secret shop/broken failed: 503 ServiceUnavailable"),
    ],
)
def test_secret_problems_are_failed_attempts_naming_the_secret(
    secrets: dict[str, JSON], ref: str, error: str
) -> None:
    log, hook = _senders()
    controller = NotificationRequestController(
        senders={"log": log, "webhook": hook}, clock=lambda: NOW
    )
    obj = _notif("Sending")
    obj["spec"]["channels"][1]["secretRef"]["name"] = ref
    observed = controller.observe(obj, _view(secrets))
    log_record, hook_record = observed.deliveries
    assert log_record.ok
    assert not hook_record.ok
    assert hook_record.error is not None
    assert error in hook_record.error
    assert hook.calls == []


def test_a_channel_type_without_a_sender_is_a_failed_attempt() -> None:
    controller = NotificationRequestController(senders={}, clock=lambda: NOW)
    observed = controller.observe(_notif("Sending"), _view())
    assert [record.error for record in observed.deliveries] == [
        "no sender for channel type log",
        "no sender for channel type webhook",
    ]


def test_a_stale_cached_object_sends_nothing_and_looks_again() -> None:
    log, hook = _senders()
    controller = NotificationRequestController(
        senders={"log": log, "webhook": hook}, clock=lambda: NOW
    )
    observed = controller.observe(_notif("Sending"), _view(resource_version="5"))
    assert observed == NotificationRequestObserved(stale=True)
    assert log.calls == []
    assert hook.calls == []
    assert controller.decide(_notif("Sending"), observed, NOW) == [RequeueAfter(1.0)]
