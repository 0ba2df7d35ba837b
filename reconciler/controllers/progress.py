"""Several phase moves in one reconcile, each its own recorded status write (pure).

:func:`reconciler.transitions.move_to` computes a move from the object as it
was read. When a reconcile passes through more than one phase (Pending ->
Enriching -> Classifying), the second move must start from the object as the
first one left it: :class:`Moves` keeps that projected object, so every
transition is checked against the phase table, gets its own index and Event,
and the executor writes them in order.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from api.timestamps import format_timestamp
from reconciler.controllers.finalizer import ensure_finalizer
from reconciler.effects import Effect, PatchStatus
from reconciler.transitions import current_phase, move_to, terminal

__all__ = ["Moves", "opening"]

JSON = dict[str, Any]


class Moves:
    """Effects in order, plus the object as it will be once the status patches are applied."""

    def __init__(self, obj: JSON) -> None:
        self.obj = obj
        self.effects: list[Effect] = []

    @property
    def phase(self) -> str | None:
        return current_phase(self.obj)

    def add(self, *effects: Effect) -> None:
        for effect in effects:
            self.effects.append(effect)
            if isinstance(effect, PatchStatus):
                self.obj = _with_status(self.obj, effect.changes)

    def move(
        self,
        phase: str,
        *,
        reason: str,
        now: datetime,
        message: str = "",
        status: JSON | None = None,
    ) -> None:
        self.add(*move_to(self.obj, phase, reason=reason, now=now, message=message, status=status))


def opening(obj: JSON, now: datetime, invalid_spec: str | None) -> tuple[Moves, bool]:
    """What every simple controller's ``decide`` starts with, and whether to go on.

    The cleanup finalizer; nothing more once terminal; the first phase
    (Pending); and Failed for a spec that cannot be read (the webhook should
    have refused it). Returns the moves so far and True when the controller's
    own phase logic should run.
    """
    moves = Moves(obj)
    moves.add(*ensure_finalizer(obj))
    if terminal(obj):
        return moves, False
    if moves.phase is None:
        moves.move("Pending", reason="Accepted", now=now)
    if invalid_spec is not None:
        moves.move(
            "Failed",
            reason="InvalidSpec",
            now=now,
            message=invalid_spec,
            status={"message": invalid_spec, "completionTime": format_timestamp(now)},
        )
        return moves, False
    return moves, True


def _with_status(obj: JSON, changes: JSON) -> JSON:
    projected = dict(obj)
    status = copy.deepcopy(obj.get("status") or {})
    _merge(status, changes)
    projected["status"] = status
    return projected


def _merge(target: JSON, patch: JSON) -> None:
    """JSON merge patch (RFC 7386) semantics, as the API server applies the status write."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
