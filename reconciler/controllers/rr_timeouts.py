"""Deadlines of a RemediationRequest: the global budget and the current phase's (pure).

* The global deadline runs from ``metadata.creationTimestamp`` (``status.startTime``
  when the former is missing) for ``spec.timeouts.global``.
* The phases that wait on something have their own deadline, counted from
  ``status.phaseStartTime``: Processing, Analyzing, AwaitingApproval and
  Executing. Pending only moves on and has none (the global one still applies).

The defaults (1h, 5m, 10m, 15m, 30m) come from
:class:`api.remediationrequest.RemediationTimeouts`; ``spec.timeouts``
overrides them per object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from api.durations import format_duration, parse_duration
from api.remediationrequest import RemediationTimeouts
from api.timestamps import parse_timestamp
from reconciler.transitions import current_phase, phase_started

__all__ = ["GLOBAL", "TIMED_PHASES", "Deadline", "Deadlines", "deadlines"]

JSON = dict[str, Any]

GLOBAL: Final = "Global"
"""The scope of the overall deadline (a phase name is the scope of a phase's)."""

TIMED_PHASES: Final[dict[str, str]] = {
    "Processing": "processing",
    "Analyzing": "analyzing",
    "AwaitingApproval": "awaiting_approval",
    "Executing": "executing",
}
"""Phases with a timeout, and the :class:`RemediationTimeouts` field holding it."""


@dataclass(frozen=True)
class Deadline:
    scope: str
    """:data:`GLOBAL` or the name of the phase."""
    at: datetime
    limit: timedelta

    @property
    def reason(self) -> str:
        """The transition reason when it passes: ``GlobalTimeout``, ``ProcessingTimeout``, ..."""
        return f"{self.scope}Timeout"

    @property
    def message(self) -> str:
        what = "the remediation" if self.scope == GLOBAL else f"phase {self.scope}"
        return f"{what} exceeded its timeout of {format_duration(self.limit)}"


@dataclass(frozen=True)
class Deadlines:
    overall: Deadline | None
    phase: Deadline | None

    def passed_overall(self, now: datetime) -> Deadline | None:
        return self.overall if self.overall is not None and now >= self.overall.at else None

    def passed_phase(self, now: datetime) -> Deadline | None:
        return self.phase if self.phase is not None and now >= self.phase.at else None

    def seconds_to_next(self, now: datetime) -> float | None:
        """Seconds until the nearest deadline still ahead (None when there is none)."""
        ahead = [
            (deadline.at - now).total_seconds()
            for deadline in (self.overall, self.phase)
            if deadline is not None and deadline.at > now
        ]
        return min(ahead) if ahead else None


def _created(obj: JSON) -> datetime | None:
    for stamp in (
        (obj.get("metadata") or {}).get("creationTimestamp"),
        (obj.get("status") or {}).get("startTime"),
    ):
        if isinstance(stamp, str):
            try:
                return parse_timestamp(stamp)
            except ValueError:
                continue
    return None


def deadlines(obj: JSON, timeouts: RemediationTimeouts) -> Deadlines:
    """The deadlines that apply to ``obj`` in its current phase."""
    overall = None
    created = _created(obj)
    if created is not None:
        limit = parse_duration(timeouts.global_)
        overall = Deadline(GLOBAL, created + limit, limit)
    phase = current_phase(obj)
    field = TIMED_PHASES.get(phase or "")
    started = phase_started(obj)
    phase_deadline = None
    if field is not None and phase is not None and started is not None:
        limit = parse_duration(str(getattr(timeouts, field)))
        phase_deadline = Deadline(phase, started + limit, limit)
    return Deadlines(overall, phase_deadline)
