"""RFC 3339 UTC timestamps with second precision, as ``metav1.Time`` puts them on the wire.

The wire form is exactly ``YYYY-MM-DDTHH:MM:SSZ``; anything else (an offset,
fractional seconds, a missing zone) is rejected so that reading and writing a
timestamp gives back the same string. Python code works with aware
:class:`~datetime.datetime` values in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = [
    "TIMESTAMP_PATTERN",
    "Timestamp",
    "format_timestamp",
    "parse_timestamp",
    "timestamp_or_none",
]

TIMESTAMP_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
_WHOLE = re.compile(TIMESTAMP_PATTERN)
_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


def parse_timestamp(text: str) -> datetime:
    """Parse ``2026-11-29T07:20:03Z`` into an aware UTC datetime; ValueError otherwise."""
    if not _WHOLE.fullmatch(text):
        raise ValueError(
            f"invalid timestamp {text!r}: expected RFC 3339 UTC with second precision, "
            'such as "2026-11-29T07:20:03Z"'
        )
    try:
        return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"invalid timestamp {text!r}: not a calendar date and time") from None


def timestamp_or_none(value: object) -> datetime | None:
    """Parse a wire timestamp read from an object; None when absent or malformed."""
    if not isinstance(value, str):
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC, truncated to whole seconds."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamp {value.isoformat()} has no time zone")
    return value.astimezone(UTC).strftime(_FORMAT)


def _coerce(value: object) -> datetime:
    if isinstance(value, str):
        return parse_timestamp(value)
    if isinstance(value, datetime):
        # Normalise so that Python-built objects serialise like wire ones.
        return parse_timestamp(format_timestamp(value))
    raise ValueError(f"expected an RFC 3339 UTC timestamp string, got {type(value).__name__}")


Timestamp = Annotated[
    datetime,
    BeforeValidator(_coerce),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An aware UTC datetime in Python; ``2026-11-29T07:20:03Z`` on the wire."""
