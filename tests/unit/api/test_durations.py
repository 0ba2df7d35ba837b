from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from api.durations import Duration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(minutes=90)),
        ("2h45m30s250ms", timedelta(hours=2, minutes=45, seconds=30, milliseconds=250)),
        ("0.001s", timedelta(milliseconds=1)),
        ("90m", timedelta(minutes=90)),
        ("1m1m", timedelta(minutes=2)),
    ],
)
def test_parse_accepts_kubernetes_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "expected"),
        ("5", "expected"),
        ("5 minutes", "expected"),
        ("-5m", "expected"),
        ("+5m", "expected"),
        ("5d", "expected"),
        ("5us", "expected"),
        (".5s", "expected"),
        ("5.s", "expected"),
        ("0s", "greater than zero"),
        ("0h0m", "greater than zero"),
        ("0.0000001s", "finer than a microsecond"),
        ("1" * 80 + "s", "expected"),
    ],
)
def test_parse_rejects_malformed_or_non_positive(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(microseconds=1500), "1.5ms"),
        (timedelta(seconds=1), "1s"),
        (timedelta(seconds=1, milliseconds=500), "1.5s"),
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(hours=1, seconds=5), "1h5s"),
        (timedelta(days=2), "48h"),
    ],
)
def test_format_is_compact(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=-1)])
def test_format_rejects_non_positive(value: timedelta) -> None:
    with pytest.raises(ValueError, match="greater than zero"):
        format_duration(value)


@given(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3650)))
def test_format_then_parse_round_trips(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


def test_pydantic_type_keeps_the_string_and_reports_the_problem() -> None:
    adapter = TypeAdapter(Duration)
    assert adapter.validate_python("1h30m") == "1h30m"
    assert adapter.dump_python("1h30m", mode="json") == "1h30m"
    with pytest.raises(ValidationError, match="invalid duration '5 minutes'"):
        adapter.validate_python("5 minutes")
    schema = adapter.json_schema()
    assert schema["type"] == "string"
    assert "pattern" in schema


def test_a_duration_too_long_for_a_timedelta_is_an_input_error_not_a_crash() -> None:
    with pytest.raises(ValueError, match="longer than"):
        parse_duration("99999999999999999999h")
