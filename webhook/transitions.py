"""Legal phase transitions on ``/status`` updates, from the one table in ``api.phases``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.errors import FieldError
from api.phases import allowed_next, is_allowed_transition, is_terminal


def phase_of(document: Mapping[str, Any] | None) -> Any:
    """``status.phase`` of a document (None when there is no status or no phase)."""
    if not isinstance(document, Mapping):
        return None
    status = document.get("status")
    return status.get("phase") if isinstance(status, Mapping) else None


def transition_errors(
    kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[FieldError]:
    """An error when the update moves ``status.phase`` along no edge of the table.

    A phase that is not a string is left to the schema check.
    """
    new_phase = phase_of(obj)
    old_phase = phase_of(old)
    if new_phase is not None and not isinstance(new_phase, str):
        return []
    if old_phase is not None and not isinstance(old_phase, str):
        old_phase = None
    if is_allowed_transition(kind, old_phase, new_phase):
        return []
    if new_phase is None:
        message = f"cannot be removed once set (was {old_phase})"
    elif old_phase is not None and is_terminal(kind, old_phase):
        message = f"{old_phase} is a terminal phase of {kind}; it cannot change to {new_phase}"
    else:
        allowed = sorted(allowed_next(kind, old_phase))
        start = old_phase or "no phase"
        message = (
            f"{kind} cannot move from {start} to {new_phase}; allowed: "
            f"{', '.join([*([old_phase] if old_phase else []), *allowed]) or 'none'}"
        )
    return [FieldError("status.phase", message)]
