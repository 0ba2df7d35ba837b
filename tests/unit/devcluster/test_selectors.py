"""Label/field selector grammar of k8s.io/apimachinery/pkg/labels and fields."""

from __future__ import annotations

import pytest

from devcluster.selectors import (
    SelectorError,
    format_label_selector,
    parse_field_selector,
    parse_label_selector,
    selector_from_label_selector_object,
)

LABELS = {"app": "web", "tier": "front", "replicas": "3"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app in (web, api)", True),
        ("app notin (web)", False),
        ("missing notin (web)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("replicas>2", True),
        ("replicas<2", False),
        ("app=web,tier in (front,back),!missing", True),
        ("", True),
    ],
)
def test_label_selector_operators(selector: str, expected: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is expected


@pytest.mark.parametrize("selector", ["app=(x", "app in (a", "=web", "app=we b!", "a>b"])
def test_malformed_label_selectors_are_rejected(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(selector)


def test_label_selector_object_and_its_string_form() -> None:
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}],
    }
    assert selector_from_label_selector_object(selector).matches(LABELS)
    assert format_label_selector(selector) == "app=web,tier in (front)"


def test_field_selector_matches_supported_paths_and_rejects_others() -> None:
    supported = frozenset({"metadata.name", "status.phase"})
    pod = {"metadata": {"name": "p"}, "status": {"phase": "Running"}}
    assert parse_field_selector("metadata.name=p,status.phase!=Failed", supported).matches(pod)
    assert not parse_field_selector("status.phase==Pending", supported).matches(pod)
    with pytest.raises(SelectorError, match=r"field label not supported: spec\.x"):
        parse_field_selector("spec.x=y", supported)
