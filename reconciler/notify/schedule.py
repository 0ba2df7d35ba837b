"""Per-channel delivery state, retry schedule and final verdict (pure).

Everything is derived from the immutable spec and ``status.deliveryAttempts``
(the complete attempt log), so a restarted reconciler arrives at the same
schedule:

* a channel is **delivered** once one attempt succeeded, **exhausted** after
  ``retryPolicy.maxAttempts`` failures, otherwise **pending**;
* attempt ``n + 1`` is due ``backoff(n)`` after failed attempt ``n``, where
  ``backoff(n) = min(initialBackoff * backoffMultiplier ** (n - 1), maxBackoff)``;
  the first attempt is due at once;
* when no channel is pending the verdict is Sent (all delivered),
  PartiallySent (some delivered) or Failed (none).

Channels are named by type (``log``, ``webhook``, ``slack``); when a type
appears more than once each gets its position among that type (``webhook-1``,
``webhook-2``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from api.durations import parse_duration
from api.notificationrequest import Channel, RetryPolicy
from api.timestamps import parse_timestamp

__all__ = [
    "ChannelState",
    "Verdict",
    "backoff",
    "channel_keys",
    "channel_states",
    "due",
    "next_due",
    "verdict",
]

JSON = dict[str, Any]
Verdict = Literal["Sent", "PartiallySent", "Failed"]


def channel_keys(channels: Sequence[Channel]) -> list[str]:
    counts = Counter(channel.type for channel in channels)
    seen: Counter[str] = Counter()
    keys = []
    for channel in channels:
        seen[channel.type] += 1
        keys.append(
            channel.type if counts[channel.type] == 1 else f"{channel.type}-{seen[channel.type]}"
        )
    return keys


@dataclass(frozen=True)
class ChannelState:
    key: str
    channel: Channel
    attempts: int
    """Attempts recorded so far."""
    delivered: bool
    last_at: datetime | None
    last_error: str | None

    def exhausted(self, policy: RetryPolicy) -> bool:
        return not self.delivered and self.attempts >= policy.max_attempts

    def pending(self, policy: RetryPolicy) -> bool:
        return not self.delivered and not self.exhausted(policy)


def channel_states(channels: Sequence[Channel], attempts: Sequence[JSON]) -> list[ChannelState]:
    """The state of every channel, in spec order, from the attempt log (wire format)."""
    by_key: dict[str, list[JSON]] = {}
    for attempt in attempts:
        by_key.setdefault(str(attempt.get("channel")), []).append(attempt)
    states = []
    for key, channel in zip(channel_keys(channels), channels, strict=True):
        own = sorted(by_key.get(key, []), key=lambda item: int(item.get("attempt", 0)))
        last = own[-1] if own else None
        states.append(
            ChannelState(
                key=key,
                channel=channel,
                attempts=len(own),
                delivered=any(item.get("outcome") == "Success" for item in own),
                last_at=parse_timestamp(last["at"]) if last and last.get("at") else None,
                last_error=str(last["error"]) if last and last.get("error") else None,
            )
        )
    return states


def backoff(policy: RetryPolicy, failures: int) -> timedelta:
    """The wait after the ``failures``-th failed attempt (``failures`` >= 1)."""
    initial = parse_duration(policy.initial_backoff)
    ceiling = parse_duration(policy.max_backoff)
    seconds = initial.total_seconds() * policy.backoff_multiplier ** max(0, failures - 1)
    return min(timedelta(seconds=min(seconds, ceiling.total_seconds())), ceiling)


def next_due(state: ChannelState, policy: RetryPolicy) -> datetime | None:
    """When the next attempt of a pending channel is due (None: first attempt, due at once).

    Only meaningful for pending channels.
    """
    if state.attempts == 0 or state.last_at is None:
        return None
    return state.last_at + backoff(policy, state.attempts)


def due(states: Sequence[ChannelState], policy: RetryPolicy, now: datetime) -> list[ChannelState]:
    """Pending channels whose next attempt is due at ``now``."""
    result = []
    for state in states:
        if not state.pending(policy):
            continue
        when = next_due(state, policy)
        if when is None or when <= now:
            result.append(state)
    return result


def verdict(states: Sequence[ChannelState], policy: RetryPolicy) -> Verdict | None:
    """The final phase once no channel is pending, else None."""
    if any(state.pending(policy) for state in states):
        return None
    delivered = sum(1 for state in states if state.delivered)
    if delivered == len(states):
        return "Sent"
    return "PartiallySent" if delivered else "Failed"
