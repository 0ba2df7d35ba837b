"""Phase moves as effects (pure): the status patch, the Event and the audit hook in one place.

Every controller moves phases through :func:`move_to`, so each transition is
checked against the one table in :mod:`api.phases`, appended to
``status.transitions`` (capped, each entry with its absolute ``index`` so the
audit key stays stable after the cap drops old entries), announced with an
Event, and counted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.meta import MAX_TRANSITIONS
from api.phases import is_allowed_transition, is_terminal
from api.timestamps import format_timestamp, parse_timestamp
from reconciler.effects import Effect, PatchStatus, PhaseChange, RecordEvent

JSON = dict[str, Any]

WARNING_PHASES = frozenset({"Failed", "TimedOut", "RolledBack", "RollingBack", "PartiallySent"})


class IllegalTransitionError(ValueError):
    """A controller asked for a move the phase table forbids: a bug, never user input."""


def current_phase(obj: JSON) -> str | None:
    phase = (obj.get("status") or {}).get("phase")
    return str(phase) if phase else None


def phase_started(obj: JSON) -> datetime | None:
    stamp = (obj.get("status") or {}).get("phaseStartTime")
    return parse_timestamp(stamp) if stamp else None


def next_transition_index(obj: JSON) -> int:
    history = (obj.get("status") or {}).get("transitions") or []
    if not history:
        return 0
    last = history[-1]
    return int(last.get("index", len(history) - 1)) + 1


def move_to(
    obj: JSON,
    phase: str,
    *,
    reason: str,
    now: datetime,
    message: str = "",
    status: JSON | None = None,
) -> list[Effect]:
    """Effects that move ``obj`` to ``phase``, merging ``status`` fields into the same write."""
    kind = str(obj.get("kind", ""))
    previous = current_phase(obj)
    if previous == phase:
        raise IllegalTransitionError(f"{kind} is already {phase}")
    if not is_allowed_transition(kind, previous, phase):
        raise IllegalTransitionError(f"{kind} may not move from {previous} to {phase}")
    stamp = format_timestamp(now)
    index = next_transition_index(obj)
    entry: JSON = {"phase": phase, "at": stamp, "reason": reason, "index": index}
    if message:
        entry["message"] = message
    history = [*((obj.get("status") or {}).get("transitions") or []), entry][-MAX_TRANSITIONS:]
    changes: JSON = {
        **(status or {}),
        "phase": phase,
        "phaseStartTime": stamp,
        "transitions": history,
    }
    generation = (obj.get("metadata") or {}).get("generation")
    if generation is not None:
        changes["observedGeneration"] = generation
    started = phase_started(obj)
    change = PhaseChange(
        kind=kind,
        from_phase=previous,
        to_phase=phase,
        reason=reason,
        message=message,
        index=index,
        seconds_in_previous_phase=(now - started).total_seconds() if started else None,
    )
    text = f"{previous or 'new'} -> {phase}: {message or reason}"
    event = RecordEvent("Warning" if phase in WARNING_PHASES else "Normal", reason, text)
    return [PatchStatus(changes, change), event]


def terminal(obj: JSON) -> bool:
    phase = current_phase(obj)
    return phase is not None and is_terminal(str(obj.get("kind", "")), phase)
