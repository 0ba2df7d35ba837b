"""NotificationRequest controller: deliver to every channel, retry with backoff, log attempts.

Phases: Pending -> Sending -> (Retrying -> Sending)* -> Sent | PartiallySent | Failed.

Delivery is I/O, so it happens in ``observe``, and only for an object whose
recorded phase is Sending: for each channel whose next attempt is due
(:mod:`reconciler.notify.schedule`), the URL is read from the channel's
Secret and the sender called once, with attempt number ``recorded attempts +
1``. ``decide`` (pure) appends those outcomes to ``status.deliveryAttempts``
and moves on: to the verdict when no channel is pending, else to Retrying
with a requeue at the earliest due retry; Retrying moves back to Sending
when that time has come.

Semantics: **at-least-once per attempt**. An attempt recorded in status is
never made again: the attempt number comes from the log, and deliveries only
start after a live GET confirmed that the cached object is the latest version
(:mod:`reconciler.controllers.freshness`). An attempt
made and not yet recorded (the reconciler dies, or the status write meets a
conflict, between the POST and the write) is made again with the same
number. Each request carries ``X-Kubernaut-Delivery: <uid>/<channel>/<attempt>``
(and the webhook body ``deliveryId``) so a receiver can drop the repeat.

Secret URLs are only handed to the senders: status, Events and logs name the
Secret and key, never the value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from api.constants import GROUP, VERSION
from api.notificationrequest import NotificationRequestSpec, RetryPolicy
from api.timestamps import format_timestamp
from reconciler.controller import ClusterView
from reconciler.controllers.finalizer import (
    AuditCompleteness,
    audit_complete,
    deleting,
    finalize,
)
from reconciler.controllers.freshness import STALE_RECHECK_SECONDS, is_current
from reconciler.controllers.progress import Moves, opening
from reconciler.controllers.specs import object_key, parse_spec
from reconciler.effects import AuditNote, Effect, PatchStatus, RecordEvent, RequeueAfter
from reconciler.kube import Resource
from reconciler.notify.channels import ChannelSender, default_senders
from reconciler.notify.message import Notification, delivery_id
from reconciler.notify.schedule import ChannelState, channel_states, due, next_due, verdict
from reconciler.notify.secrets import read_url
from reconciler.transitions import current_phase

__all__ = [
    "NOTIFICATION_REQUESTS",
    "DeliveryRecord",
    "NotificationRequestController",
    "NotificationRequestObserved",
]

JSON = dict[str, Any]
_log = logging.getLogger(__name__)

NOTIFICATION_REQUESTS: Final = Resource(
    GROUP, VERSION, "notificationrequests", "NotificationRequest"
)
_SETTLE_SECONDS: Final = 1.0
"""Requeue when a retry is due by ``decide``'s clock but was not yet by ``observe``'s."""


@dataclass(frozen=True)
class DeliveryRecord:
    """One attempt made by ``observe``; becomes a ``status.deliveryAttempts`` entry."""

    channel: str
    attempt: int
    at: datetime
    ok: bool
    error: str | None = None

    def wire(self) -> JSON:
        entry: JSON = {
            "channel": self.channel,
            "attempt": self.attempt,
            "at": format_timestamp(self.at),
            "outcome": "Success" if self.ok else "Failure",
        }
        if self.error:
            entry["error"] = self.error
        return entry


@dataclass(frozen=True)
class NotificationRequestObserved:
    audit_complete: bool = True
    """Only asked while the object is being deleted."""
    deliveries: tuple[DeliveryRecord, ...] = ()
    """Attempts made by this reconcile (only in Sending)."""
    stale: bool = False
    """The cached object is behind the API server: nothing was sent, look again shortly."""


class NotificationRequestController:
    name = "notificationrequest"
    resource = NOTIFICATION_REQUESTS
    owns: Sequence[Resource] = ()
    reads: Sequence[Resource] = ()

    def __init__(
        self,
        *,
        senders: Mapping[str, ChannelSender] | None = None,
        audit: AuditCompleteness | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._senders = dict(senders) if senders is not None else default_senders()
        self._audit = audit
        self._clock = clock

    # ------------------------------------------------------------------ observe

    def observe(self, obj: JSON, view: ClusterView) -> NotificationRequestObserved:
        if deleting(obj):
            return NotificationRequestObserved(audit_complete=audit_complete(self._audit, obj))
        spec = parse_spec(NotificationRequestSpec, obj)
        if isinstance(spec, str) or current_phase(obj) != "Sending":
            return NotificationRequestObserved()  # decide fails an invalid spec
        if not is_current(view, NOTIFICATION_REQUESTS, obj):
            return NotificationRequestObserved(stale=True)
        states = channel_states(spec.channels, _attempts(obj))
        notification = Notification.of(obj, spec)
        deliveries = [
            self._deliver(view, obj, notification, state)
            for state in due(states, spec.retry_policy, self._clock())
        ]
        return NotificationRequestObserved(deliveries=tuple(deliveries))

    def _deliver(
        self, view: ClusterView, obj: JSON, notification: Notification, state: ChannelState
    ) -> DeliveryRecord:
        attempt = state.attempts + 1
        sender = self._senders.get(state.channel.type)
        url: str | None = None
        error: str | None = None
        if sender is None:
            error = f"no sender for channel type {state.channel.type}"
        elif state.channel.secret_ref is not None:
            secret = read_url(view, notification.namespace, state.channel.secret_ref)
            url, error = secret.url, secret.error
        if error is None and sender is not None:
            result = sender.send(notification, delivery_id(notification, state.key, attempt), url)
            error = None if result.ok else (result.error or "delivery failed")
        record = DeliveryRecord(state.key, attempt, self._clock(), error is None, error)
        _log.log(
            logging.INFO if record.ok else logging.WARNING,
            "notification delivery %s on %s attempt %d%s",
            "succeeded" if record.ok else "failed",
            state.key,
            attempt,
            f": {error}" if error else "",
            extra={"object": object_key(obj), "channel": state.key, "attempt": attempt},
        )
        return record

    # ------------------------------------------------------------------- decide

    def decide(
        self, obj: JSON, observed: NotificationRequestObserved, now: datetime
    ) -> list[Effect]:
        if deleting(obj):
            return finalize(obj, complete=observed.audit_complete, now=now)
        spec = parse_spec(NotificationRequestSpec, obj)
        moves, proceed = opening(obj, now, spec if isinstance(spec, str) else None)
        if not proceed or isinstance(spec, str):
            return moves.effects
        if moves.phase == "Pending":
            moves.move(
                "Sending",
                reason="DeliveryStarted",
                now=now,
                message=f"delivering to {len(spec.channels)} channel(s)",
            )
            return moves.effects
        if observed.stale:
            moves.add(RequeueAfter(STALE_RECHECK_SECONDS))
        elif moves.phase == "Retrying":
            self._retry_when_due(moves, spec, now)
        else:
            self._record(moves, spec, observed.deliveries, now)
        return moves.effects

    def _retry_when_due(self, moves: Moves, spec: NotificationRequestSpec, now: datetime) -> None:
        states = channel_states(spec.channels, _attempts(moves.obj))
        wait = _earliest_wait(states, spec.retry_policy, now)
        if wait is None or wait <= 0:
            ready = [state.key for state in due(states, spec.retry_policy, now)]
            moves.move(
                "Sending",
                reason="RetryDue",
                now=now,
                message=f"retrying {', '.join(ready) or 'pending channels'}",
            )
        else:
            moves.add(RequeueAfter(wait))

    def _record(
        self,
        moves: Moves,
        spec: NotificationRequestSpec,
        deliveries: Sequence[DeliveryRecord],
        now: datetime,
    ) -> None:
        attempts = [*_attempts(moves.obj), *(record.wire() for record in deliveries)]
        states = channel_states(spec.channels, attempts)
        policy = spec.retry_policy
        counts: JSON = {
            "deliveryAttempts": attempts,
            "successfulDeliveries": sum(1 for state in states if state.delivered),
            "failedDeliveries": sum(1 for state in states if state.exhausted(policy)),
        }
        for record in deliveries:
            moves.add(*_delivery_effects(record, policy))
        final = verdict(states, policy)
        if final is not None:
            message = _summary(states, policy)
            moves.move(
                final,
                reason={"Sent": "Delivered", "PartiallySent": "PartiallyDelivered"}.get(
                    final, "DeliveryFailed"
                ),
                now=now,
                message=message,
                status={**counts, "message": message, "completionTime": format_timestamp(now)},
            )
            return
        wait = _earliest_wait(states, policy, now)
        if wait is None or wait <= 0:
            # Due by this clock but not yet by observe's: stay in Sending, look again shortly.
            if deliveries:
                moves.add(PatchStatus(counts))
            moves.add(RequeueAfter(_SETTLE_SECONDS))
            return
        message = _summary(states, policy)
        moves.move("Retrying", reason="RetryScheduled", now=now, message=message, status=counts)
        moves.add(RequeueAfter(wait))


def _attempts(obj: JSON) -> list[JSON]:
    return list((obj.get("status") or {}).get("deliveryAttempts") or [])


def _earliest_wait(
    states: Sequence[ChannelState], policy: RetryPolicy, now: datetime
) -> float | None:
    """Seconds until the earliest pending retry (<= 0: due now; None: nothing pending)."""
    waits = []
    for state in states:
        if not state.pending(policy):
            continue
        when = next_due(state, policy)
        waits.append(0.0 if when is None else (when - now).total_seconds())
    return min(waits) if waits else None


def _delivery_effects(record: DeliveryRecord, policy: RetryPolicy) -> list[Effect]:
    payload: JSON = {"channel": record.channel, "attempt": record.attempt, "ok": record.ok}
    if record.error:
        payload["error"] = record.error
    text = (
        f"{record.channel}: attempt {record.attempt} delivered"
        if record.ok
        else f"{record.channel}: attempt {record.attempt}/{policy.max_attempts} failed: "
        f"{record.error}"
    )
    effects: list[Effect] = [
        AuditNote(
            note_type="delivery-attempt",
            discriminator=f"{record.channel}/{record.attempt}",
            reason="Delivered" if record.ok else "DeliveryAttemptFailed",
            message=text,
            payload=payload,
        )
    ]
    if not record.ok:
        effects.append(RecordEvent("Warning", "DeliveryAttemptFailed", text))
    return effects


def _summary(states: Sequence[ChannelState], policy: RetryPolicy) -> str:
    parts = []
    for state in states:
        if state.delivered:
            parts.append(f"{state.key} delivered")
        elif state.exhausted(policy):
            parts.append(
                f"{state.key} failed after {state.attempts} attempt(s): {state.last_error}"
            )
        else:
            parts.append(
                f"{state.key} attempt {state.attempts}/{policy.max_attempts} failed: "
                f"{state.last_error}; retrying"
            )
    return "; ".join(parts)
