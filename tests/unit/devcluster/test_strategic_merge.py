"""Strategic merge patch: list merge keys and directives of the built-in kinds."""

from __future__ import annotations

from typing import Any

import pytest

from devcluster.strategic_merge import StrategicMergeError, strategic_merge

POD_SPEC: dict[str, Any] = {
    "containers": [
        {
            "name": "app",
            "image": "a:1",
            "env": [{"name": "A", "value": "1"}],
            "ports": [{"containerPort": 80}],
        },
        {"name": "side", "image": "s:1"},
    ],
    "volumes": [{"name": "data", "emptyDir": {}}],
    "tolerations": [{"key": "x", "operator": "Exists"}],
}


def test_containers_merge_by_name_and_env_by_name() -> None:
    patch = {"containers": [{"name": "app", "image": "a:2", "env": [{"name": "B", "value": "2"}]}]}
    result = strategic_merge(POD_SPEC, patch)
    app = result["containers"][0]
    assert app["image"] == "a:2"
    assert app["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert [c["name"] for c in result["containers"]] == ["app", "side"]
    assert POD_SPEC["containers"][0]["image"] == "a:1"


def test_delete_directive_removes_a_list_element() -> None:
    result = strategic_merge(POD_SPEC, {"containers": [{"name": "side", "$patch": "delete"}]})
    assert [c["name"] for c in result["containers"]] == ["app"]


def test_lists_without_merge_key_are_replaced() -> None:
    result = strategic_merge(POD_SPEC, {"tolerations": [{"key": "y", "operator": "Exists"}]})
    assert result["tolerations"] == [{"key": "y", "operator": "Exists"}]


def test_replace_directive_on_a_map_and_null_deletes() -> None:
    result = strategic_merge(
        {"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"$patch": "replace", "x": 1}, "d": None}
    )
    assert result == {"a": {"x": 1}}


def test_set_element_order_is_tolerated_and_applied() -> None:
    patch = {
        "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
        "containers": [{"name": "app", "image": "a:3"}],
    }
    result = strategic_merge(POD_SPEC, patch)
    assert [c["name"] for c in result["containers"]] == ["side", "app"]


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    merged = strategic_merge({"finalizers": ["a"]}, {"finalizers": ["b", "a"]})
    assert merged["finalizers"] == ["a", "b"]
    removed = strategic_merge(merged, {"$deleteFromPrimitiveList/finalizers": ["a"]})
    assert removed["finalizers"] == ["b"]


def test_missing_merge_key_is_an_error() -> None:
    with pytest.raises(StrategicMergeError, match="merge key"):
        strategic_merge(POD_SPEC, {"containers": [{"image": "no-name"}]})
