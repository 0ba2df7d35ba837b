"""What every status carries: phase, phaseStartTime, conditions, observedGeneration, transitions."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import Field

from api.base import WireModel
from api.meta import MAX_TRANSITIONS, Condition, Transition
from api.timestamps import Timestamp

__all__ = ["CommonStatus"]

PhaseT = TypeVar("PhaseT", bound=str)


class CommonStatus(WireModel, Generic[PhaseT]):
    """Status fields shared by every kind; a kind's status adds its own."""

    phase: PhaseT | None = None
    """Current phase; only the transitions of the kind's phase table are accepted."""
    phase_start_time: Timestamp | None = None
    """When the current phase was entered."""
    conditions: list[Condition] | None = None
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The metadata.generation this status was computed from."""
    transitions: Annotated[list[Transition], Field(max_length=MAX_TRANSITIONS)] | None = None
    """Phase history, newest last, keeping the most recent 50 entries."""
