"""Phase changes of a remediation's objects as devcluster commits them, and how to show them.

:class:`PhaseLog` subscribes to the store's watch of the kubernaut kinds and
Jobs, in this process, and stamps every phase change with ``time.monotonic()``
when it is polled (the demo polls every few milliseconds, so a timeline is
exact to that, unlike the second-precision ``status.transitions``). The
formatting functions are pure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from devcluster.resources import ResourceType
from devcluster.store import Store
from devcluster.watch import Subscription, SubscriptionClosedError

JSON = dict[str, Any]

LABEL_REMEDIATION: Final = "kubernaut.ai/remediation"

# plural -> (group, short name), in the order a remediation creates them.
KINDS: Final = {
    "remediationrequests": ("kubernaut.ai", "rr"),
    "signalprocessings": ("kubernaut.ai", "sp"),
    "aianalyses": ("kubernaut.ai", "aia"),
    "workflowexecutions": ("kubernaut.ai", "wfe"),
    "kubernetesexecutions": ("kubernaut.ai", "ke"),
    "jobs": ("batch", "job"),
    "notificationrequests": ("kubernaut.ai", "notif"),
}
_MESSAGE_CHARS: Final = 80


@dataclass(frozen=True)
class Change:
    """One object entering a phase."""

    at: float
    """``time.monotonic()`` when it was seen."""
    short: str
    """rr, sp, aia, wfe, ke, job or notif."""
    namespace: str
    name: str
    phase: str
    reason: str
    message: str
    remediation: str
    """The RemediationRequest it belongs to (its own name for a RemediationRequest)."""


def job_phase(job: JSON) -> str:
    """Complete, Failed or Running, from the Job's conditions."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return str(condition["type"])
    return "Running"


def _last_transition(obj: JSON, phase: str) -> JSON:
    transitions = (obj.get("status") or {}).get("transitions") or []
    last: JSON = transitions[-1] if transitions else {}
    return last if last.get("phase") == phase else {}


def change_of(short: str, obj: JSON, at: float) -> Change | None:
    """The phase ``obj`` is in now, as a :class:`Change` (None before it has one)."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    if short == "job":
        phase = job_phase(obj)
        reason, message = "", ""
    else:
        status = obj.get("status") or {}
        phase = str(status.get("phase") or "")
        if not phase:
            return None
        last = _last_transition(obj, phase)
        reason = str(last.get("reason") or "")
        message = str(last.get("message") or status.get("message") or "")
    remediation = (
        name if short == "rr" else str((meta.get("labels") or {}).get(LABEL_REMEDIATION, ""))
    )
    return Change(
        at, short, str(meta.get("namespace", "")), name, phase, reason, message, remediation
    )


class PhaseLog:
    """Phase changes of the kubernaut kinds and Jobs from now on (in-process watch)."""

    def __init__(self, store: Store) -> None:
        self._subscriptions: list[tuple[str, Subscription]] = []
        self._seen: dict[tuple[str, str, str], str] = {}
        since = str(store.resource_version)
        for plural, (group, short) in KINDS.items():
            version = "v1" if group == "batch" else "v1alpha1"
            rtype: ResourceType | None = store.registry.lookup(group, version, plural)
            if rtype is not None:
                self._subscriptions.append((short, store.watch(rtype, resource_version=since)))

    def poll(self) -> list[Change]:
        """New phase changes since the last poll, in commit order per kind."""
        now = time.monotonic()
        changes: list[Change] = []
        for short, subscription in self._subscriptions:
            try:
                events = subscription.drain()
            except SubscriptionClosedError:
                continue
            for event in events:
                if event.type == "DELETED":
                    continue
                change = change_of(short, event.object, now)
                if change is None:
                    continue
                key = (short, change.namespace, change.name)
                if self._seen.get(key) != change.phase:
                    self._seen[key] = change.phase
                    changes.append(change)
        return changes

    def close(self) -> None:
        for _short, subscription in self._subscriptions:
            subscription.close()


# ----------------------------------------------------------------- formatting


def _clip(text: str, limit: int = _MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_change(change: Change, origin: float) -> str:
    """``+1.23s  rr    name  Phase  message``; a child is indented under its request."""
    indent = "" if change.short == "rr" else "  "
    detail = _clip(change.message or change.reason)
    return (
        f"    +{change.at - origin:6.2f}s  {indent}{change.short:<6}{change.name:<44}"
        f"{change.phase:<17}{detail}".rstrip()
    )


def phase_durations(changes: Sequence[Change]) -> list[tuple[str, float | None]]:
    """The request's phases in order with the time spent in each (None: the last one)."""
    own = [change for change in changes if change.short == "rr"]
    return [
        (change.phase, (own[i + 1].at - change.at) if i + 1 < len(own) else None)
        for i, change in enumerate(own)
    ]


def format_timeline(changes: Sequence[Change]) -> str:
    """``Pending 0.02s > Processing 0.10s > ... > Completed (total 2.41s)``."""
    durations = phase_durations(changes)
    if not durations:
        return "no phase recorded"
    parts = [phase if spent is None else f"{phase} {spent:.2f}s" for phase, spent in durations]
    total = sum(spent for _phase, spent in durations if spent is not None)
    return " > ".join(parts) + f"  (total {total:.2f}s)"
