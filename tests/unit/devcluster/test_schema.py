"""Structural schema handling of the apiextensions server: defaulting, pruning, validation, CEL."""

from __future__ import annotations

from typing import Any

from devcluster.schema import (
    apply_defaults,
    prune,
    unsupported_rules,
    validate,
    validate_transition_rules,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["name"],
            "x-kubernetes-validations": [
                {"rule": "self == oldSelf", "message": "spec is immutable"}
            ],
            "properties": {
                "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                "count": {"type": "integer", "minimum": 1, "maximum": 3, "default": 1},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "at": {"type": "string", "format": "date-time"},
                "items": {
                    "type": "array",
                    "maxItems": 1,
                    "items": {"type": "object", "properties": {"n": {"type": "integer"}}},
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}


def test_defaults_fill_absent_fields_only() -> None:
    obj: dict[str, Any] = {"spec": {"name": "x"}}
    apply_defaults(SCHEMA, obj)
    assert obj["spec"]["count"] == 1
    kept: dict[str, Any] = {"spec": {"name": "x", "count": 3}}
    apply_defaults(SCHEMA, kept)
    assert kept["spec"]["count"] == 3


def test_pruning_drops_unknown_fields_but_keeps_metadata_and_preserved_subtrees() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "x/v1",
        "kind": "K",
        "metadata": {"name": "n", "labels": {"a": "b"}},
        "spec": {
            "name": "x",
            "bogus": 1,
            "free": {"any": {"thing": 1}},
            "items": [{"n": 1, "extra": 2}],
        },
        "other": 1,
    }
    pruned = prune(SCHEMA, obj)
    assert sorted(pruned) == ["other", "spec.bogus", "spec.items[0].extra"]
    assert obj["metadata"] == {"name": "n", "labels": {"a": "b"}}
    assert obj["spec"]["free"] == {"any": {"thing": 1}}


def _messages(obj: dict[str, Any]) -> dict[str, str]:
    return {cause.field: cause.message for cause in validate(SCHEMA, obj)}


def test_validation_messages_match_the_real_server() -> None:
    messages = _messages(
        {
            "spec": {
                "name": "TooLongName",
                "count": 0,
                "mode": "c",
                "at": "yesterday",
                "items": [{}, {}],
                "labels": {"k": 1},
            }
        }
    )
    assert messages["spec.name"] in (
        "Too long: may not be more than 5 bytes",
        "Invalid value: \"TooLongName\": spec.name in body should match '^[a-z]+$'",
    )
    assert (
        messages["spec.count"]
        == "Invalid value: 0: spec.count in body should be greater than or equal to 1"
    )
    assert messages["spec.mode"] == 'Unsupported value: "c": supported values: "a", "b"'
    assert (
        messages["spec.at"]
        == 'Invalid value: "yesterday": spec.at in body must be of type date-time: "yesterday"'
    )
    assert messages["spec.items"] == "Too many: 2: must have at most 1 items"
    assert (
        messages["spec.labels.k"]
        == 'Invalid value: "integer": spec.labels.k in body must be of type string: "integer"'
    )


def test_required_and_type_errors() -> None:
    assert _messages({"spec": {}}) == {"spec.name": "Required value"}
    assert _messages({"spec": {"name": "ok", "count": "3"}}) == {
        "spec.count": 'Invalid value: "string": '
        'spec.count in body must be of type integer: "string"'
    }
    assert _messages({"spec": {"name": "ok", "count": 4, "at": "2024-01-01T00:00:00Z"}}) == {
        "spec.count": "Invalid value: 4: spec.count in body should be less than or equal to 3"
    }


def test_self_equals_old_self_rejects_changes_and_allows_identity() -> None:
    old = {"spec": {"name": "a"}}
    assert validate_transition_rules(SCHEMA, {"spec": {"name": "a"}}, old) == []
    causes = validate_transition_rules(SCHEMA, {"spec": {"name": "b"}}, old)
    assert [(c.field, c.message) for c in causes] == [
        ("spec", 'Invalid value: "object": spec is immutable')
    ]


def test_other_rules_are_reported_as_unsupported() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-validations": [{"rule": "has(self.a)"}]}
        },
    }
    assert unsupported_rules(schema) == [("spec", "has(self.a)")]
    assert unsupported_rules(SCHEMA) == []
