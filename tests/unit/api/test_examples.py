"""Every example under examples/ behaves as its comments say, and round-trips."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.validation import parse_resource, validate_resource

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
VALID = sorted((EXAMPLES / "valid").glob("*.yaml"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.yaml"))


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dump(document: Any) -> dict[str, Any]:
    result: dict[str, Any] = parse_resource(document).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return result


def contains(outer: Any, inner: Any, path: str = "") -> None:
    """Assert ``outer`` is ``inner`` plus (only) extra object keys, recursively."""
    if isinstance(inner, dict):
        assert isinstance(outer, dict), path
        for key, value in inner.items():
            assert key in outer, f"{path}.{key} was dropped"
            contains(outer[key], value, f"{path}.{key}")
    elif isinstance(inner, list):
        assert isinstance(outer, list), path
        assert len(outer) == len(inner), path
        for index, (a, b) in enumerate(zip(outer, inner, strict=True)):
            contains(a, b, f"{path}[{index}]")
    else:
        assert outer == inner, path
        assert type(outer) is type(inner) or isinstance(inner, int), path


def test_there_are_examples_of_every_kind_and_enough_invalid_ones() -> None:
    kinds = {load(path)["kind"] for path in VALID}
    assert len(kinds) == 6
    assert len(INVALID) >= 8


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_validates(path: Path) -> None:
    outcome = validate_resource(load(path))
    assert outcome.errors == []
    assert outcome.resource is not None


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_round_trips_with_only_static_defaults_added(path: Path) -> None:
    document = load(path)
    once = dump(document)
    contains(once, document)
    assert dump(once) == once


def header(path: Path, key: str) -> str:
    match = re.search(rf"^# {key}: (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{path.name} has no '# {key}:' comment"
    return match.group(1).strip()


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_example_fails_at_the_expected_path(path: Path) -> None:
    assert header(path, "invalid")
    expected = header(path, "expect")
    outcome = validate_resource(load(path))
    assert outcome.resource is None
    assert [error.path for error in outcome.errors] == [expected], outcome.errors
