"""Kubernetes-style durations ("500ms", "30s", "5m", "1h30m"): the one place they are parsed.

A duration is a sequence of decimal numbers, each with an optional fraction
and a unit (``ms``, ``s``, ``m``, ``h``), like Go's ``time.ParseDuration``
restricted to what an operator writes in a manifest: no sign, no
sub-millisecond units, and strictly positive. On the wire it stays the
string the user wrote; :func:`parse_duration` turns it into a
:class:`~datetime.timedelta` when the reconciler needs the value.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Final

from pydantic import AfterValidator, WithJsonSchema

__all__ = ["DURATION_PATTERN", "Duration", "format_duration", "parse_duration"]

# Microseconds per unit; timedelta has microsecond resolution.
_UNIT_MICROSECONDS: Final[dict[str, int]] = {
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "h": 3_600_000_000,
}
_MAX_LENGTH: Final = 64
_MAX_MICROSECONDS: Final = timedelta.max // timedelta(microseconds=1)

# Anchored pattern for the whole string, shared with the CRD schema (RE2 and
# Python agree on it). The alternation lists "ms" before "m" so "500ms" is
# one component, not "500m" followed by garbage.
DURATION_PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_COMPONENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_WHOLE = re.compile(DURATION_PATTERN)

_HINT: Final = 'a positive duration such as "500ms", "30s", "5m" or "1h30m"'


def parse_duration(text: str) -> timedelta:
    """Parse a duration string; raise ValueError with a user-facing message."""
    if len(text) > _MAX_LENGTH or not _WHOLE.fullmatch(text):
        raise ValueError(f"invalid duration {text!r}: expected {_HINT}")
    total = Decimal(0)
    for number, unit in _COMPONENT.findall(text):
        total += Decimal(number) * _UNIT_MICROSECONDS[unit]
    microseconds = int(total)
    if microseconds != total:
        raise ValueError(f"invalid duration {text!r}: finer than a microsecond")
    if microseconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    if microseconds > _MAX_MICROSECONDS:
        raise ValueError(f"invalid duration {text!r}: longer than {timedelta.max.days} days")
    return timedelta(microseconds=microseconds)


def format_duration(value: timedelta) -> str:
    """Format a positive timedelta compactly ("1h30m", "45s", "1.5s", "250ms").

    ``parse_duration(format_duration(d)) == d`` for every positive ``d``.
    """
    microseconds = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if microseconds <= 0:
        raise ValueError(f"duration must be greater than zero, got {value!r}")
    if microseconds < 1_000_000:
        return _decimal(microseconds, 1_000) + "ms"
    hours, rest = divmod(microseconds, _UNIT_MICROSECONDS["h"])
    minutes, rest = divmod(rest, _UNIT_MICROSECONDS["m"])
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if rest:
        parts.append(_decimal(rest, 1_000_000) + "s")
    return "".join(parts)


def _decimal(microseconds: int, per_unit: int) -> str:
    whole, fraction = divmod(microseconds, per_unit)
    if not fraction:
        return str(whole)
    digits = len(str(per_unit)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")


@lru_cache(maxsize=256)
def _validate(text: str) -> str:
    """``text`` when it is a valid duration, else ValueError.

    Cached: manifests repeat a handful of durations ("30s", "5m"), and the
    cache turns their check into a lookup (errors are not cached).
    """
    parse_duration(text)
    return text


Duration = Annotated[
    str,
    AfterValidator(_validate),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "maxLength": _MAX_LENGTH}),
]
"""A validated duration kept as the user's string on the wire."""
