from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from api.timestamps import Timestamp, format_timestamp, parse_timestamp

ADAPTER: TypeAdapter[datetime] = TypeAdapter(Timestamp)


def test_wire_string_round_trips_exactly() -> None:
    text = "2026-11-29T07:20:03Z"
    value = ADAPTER.validate_python(text)
    assert value == datetime(2026, 11, 29, 7, 20, 3, tzinfo=UTC)
    assert ADAPTER.dump_python(value, mode="json") == text


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-29T08:20:03+01:00",
        "2026-11-29T07:20:03",
        "2026-11-29T07:20:03.123Z",
        "2026-11-29 07:20:03Z",
        "2026-11-29t07:20:03z",
        "2026-02-30T07:20:03Z",
        "yesterday",
    ],
)
def test_rejects_anything_but_utc_seconds(text: str) -> None:
    with pytest.raises(ValueError, match="invalid timestamp"):
        parse_timestamp(text)
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(text)


def test_python_datetimes_are_normalised_to_utc_seconds() -> None:
    local = datetime(2026, 11, 29, 8, 20, 3, 999_999, tzinfo=timezone(timedelta(hours=1)))
    value = ADAPTER.validate_python(local)
    assert value == datetime(2026, 11, 29, 7, 20, 3, tzinfo=UTC)
    assert format_timestamp(local) == "2026-11-29T07:20:03Z"


def test_naive_datetimes_and_other_types_are_rejected() -> None:
    with pytest.raises(ValidationError, match="no time zone"):
        ADAPTER.validate_python(datetime(2026, 11, 29, 7, 20, 3))
    with pytest.raises(ValidationError, match="expected an RFC 3339 UTC timestamp string"):
        ADAPTER.validate_python(1764400803)
