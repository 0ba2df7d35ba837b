"""Deterministic child names: kebab-case of actions, shortening with a stable hash."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.controllers.naming import (
    HASH_LENGTH,
    MAX_LABEL_VALUE,
    child_name,
    kebab_case,
    label_value,
    shorten,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("scaleDeployment", "scale-deployment"),
        ("restartPod", "restart-pod"),
        ("updateConfigMap", "update-config-map"),
        ("cordonNode", "cordon-node"),
        ("custom", "custom"),
        ("HTTPServer", "http-server"),
        ("drain_node", "drain-node"),
        ("node2Drain", "node2-drain"),
    ],
)
def test_kebab_case(name: str, expected: str) -> None:
    assert kebab_case(name) == expected
    assert DNS_LABEL.match(kebab_case(name))


def test_kebab_case_refuses_a_name_without_letters() -> None:
    with pytest.raises(ValueError, match="no letters or digits"):
        kebab_case("--")


def test_short_names_are_kept() -> None:
    assert shorten("web-restart", 63) == "web-restart"
    assert child_name("fix-web", "3") == "fix-web-3"


def test_shorten_keeps_a_prefix_and_appends_a_hash() -> None:
    name = "a" * 70
    short = shorten(name, 63)
    assert len(short) == 63
    assert short.startswith("a" * (63 - HASH_LENGTH - 1) + "-")
    assert shorten(name, 63) == short  # stable


def test_shorten_never_leaves_a_separator_before_the_hash() -> None:
    name = "x" * 51 + "-." + "y" * 30  # the cut falls on "-."
    short = shorten(name, 63)
    assert SUBDOMAIN.match(short)
    assert "--" not in short
    assert ".-" not in short


def test_child_name_keeps_the_suffix_readable() -> None:
    parent = "remediation-for-a-very-long-deployment-name-in-production-step-1"
    name = child_name(parent, "12")
    assert len(name) <= MAX_LABEL_VALUE
    assert name.endswith("-12")
    assert name.startswith("remediation-for-a-very-long")
    assert child_name(parent, "13") != name


def test_child_name_refuses_a_suffix_without_room() -> None:
    with pytest.raises(ValueError, match="leaves no room"):
        child_name("x" * 80, "s" * 60)


def test_label_value_fits_63() -> None:
    assert len(label_value("k" * 253)) == MAX_LABEL_VALUE
    assert label_value("short") == "short"


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=253).filter(
        lambda text: text[0].isalnum() and text[-1].isalnum()
    ),
    st.integers(min_value=1, max_value=99),
)
def test_child_names_are_valid_distinct_and_stable(parent: str, attempt: int) -> None:
    name = child_name(parent, str(attempt))
    assert len(name) <= MAX_LABEL_VALUE
    assert SUBDOMAIN.match(name)
    assert name == child_name(parent, str(attempt))
    assert name != child_name(parent, str(attempt + 1))
    assert name != child_name(parent + "x", str(attempt))
