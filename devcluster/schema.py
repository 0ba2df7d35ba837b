"""Structural-schema handling of custom resources, as the apiextensions server does it.

Three passes over an object, in the server's order: :func:`apply_defaults`
(``default`` values, and dropping ``null`` where the schema is not ``nullable``),
:func:`prune` (unknown fields removed unless ``x-kubernetes-preserve-unknown-fields``)
and :func:`validate` (OpenAPI v3 keywords). Field paths and messages of the causes
match the real server (``spec.steps[0].stepNumber: Required value``).

``x-kubernetes-validations``: only the transition rule ``self == oldSelf`` is
implemented (the rule the project's CRDs carry for immutable specs). Any other rule
is reported by :func:`unsupported_rules` so the caller can log that it is ignored.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from devcluster.errors import Cause

JsonObject = dict[str, Any]
Schema = Mapping[str, Any]

_SUPPORTED_RULES = frozenset({"self == oldSelf", "oldSelf == self"})
_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_INT_OR_STRING = "x-kubernetes-int-or-string"
_EMBEDDED = "x-kubernetes-embedded-resource"
_ROOT_KEPT = frozenset({"apiVersion", "kind", "metadata"})


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _go_value(value: Any) -> str:
    """Render a value the way the Go validators quote it in messages."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return "null"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# ---------------------------------------------------------------- defaulting


def apply_defaults(schema: Schema, obj: Any) -> Any:
    """Fill ``default`` values of absent properties (recursively) and drop non-nullable nulls."""
    if isinstance(obj, dict):
        properties = schema.get("properties") or {}
        for key in list(obj):
            if obj[key] is None and key in properties and not properties[key].get("nullable"):
                del obj[key]
        for key, sub in properties.items():
            if key not in obj and "default" in sub:
                obj[key] = copy.deepcopy(sub["default"])
            if key in obj:
                obj[key] = apply_defaults(sub, obj[key])
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            for key in obj:
                obj[key] = apply_defaults(additional, obj[key])
    elif isinstance(obj, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [apply_defaults(items, item) for item in obj]
    return obj


# ------------------------------------------------------------------- pruning


def prune(schema: Schema, obj: Any, *, root: bool = True) -> list[str]:
    """Remove fields the schema does not specify; return their paths (for warnings)."""
    pruned: list[str] = []
    _prune(schema, obj, "", pruned, root=root)
    return pruned


def _prune(schema: Schema, obj: Any, path: str, pruned: list[str], *, root: bool) -> None:
    if isinstance(obj, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get(_PRESERVE)) or additional is True
        embedded = bool(schema.get(_EMBEDDED))
        for key in list(obj):
            child = _join(path, key)
            if (root or embedded) and key in _ROOT_KEPT:
                continue
            if key in properties:
                _prune(properties[key], obj[key], child, pruned, root=False)
            elif isinstance(additional, Mapping):
                _prune(additional, obj[key], child, pruned, root=False)
            elif not preserve:
                del obj[key]
                pruned.append(child)
    elif isinstance(obj, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(obj):
                _prune(items, item, f"{path}[{index}]", pruned, root=False)


# ---------------------------------------------------------------- validation


def validate(schema: Schema, obj: Any, path: str = "") -> list[Cause]:
    """Check ``obj`` against the OpenAPI v3 keywords of a structural schema."""
    causes: list[Cause] = []
    _validate(schema, obj, path, causes)
    return causes


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", path, f"Invalid value: {_go_value(value)}: {detail}")


def _type_ok(expected: str, value: Any, schema: Schema) -> bool:
    if schema.get(_INT_OR_STRING):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    return True


def _validate(schema: Schema, value: Any, path: str, causes: list[Cause]) -> None:
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            causes.append(
                Cause(
                    "FieldValueTypeInvalid",
                    path,
                    f'Invalid value: "null": {path or "body"} in body must be of type '
                    f'{schema["type"]}: "null"',
                )
            )
        return
    expected = schema.get("type")
    if expected and not _type_ok(str(expected), value, schema):
        causes.append(
            Cause(
                "FieldValueTypeInvalid",
                path,
                f"Invalid value: {json.dumps(_type_name(value))}: {path or 'body'} in body must "
                f"be of type {expected}: {json.dumps(_type_name(value))}",
            )
        )
        return
    _validate_enum(schema, value, path, causes)
    if isinstance(value, str):
        _validate_string(schema, value, path, causes)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate_number(schema, value, path, causes)
    elif isinstance(value, list):
        _validate_array(schema, value, path, causes)
    elif isinstance(value, dict):
        _validate_object(schema, value, path, causes)
    _validate_combinators(schema, value, path, causes)


def _validate_enum(schema: Schema, value: Any, path: str, causes: list[Cause]) -> None:
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        supported = ", ".join(_go_value(item) for item in enum)
        causes.append(
            Cause(
                "FieldValueNotSupported",
                path,
                f"Unsupported value: {_go_value(value)}: supported values: {supported}",
            )
        )


def _validate_string(schema: Schema, value: str, path: str, causes: list[Cause]) -> None:
    label = path or "body"
    max_length = schema.get("maxLength")
    if max_length is not None and len(value) > max_length:
        unit = "byte" if max_length == 1 else "bytes"
        causes.append(
            Cause("FieldValueTooLong", path, f"Too long: may not be more than {max_length} {unit}")
        )
    min_length = schema.get("minLength")
    if min_length is not None and len(value) < min_length:
        causes.append(
            _invalid(path, value, f"{label} in body should be at least {min_length} chars long")
        )
    pattern = schema.get("pattern")
    if pattern is not None and re.search(pattern, value) is None:
        causes.append(_invalid(path, value, f"{label} in body should match '{pattern}'"))
    fmt = schema.get("format")
    if fmt == "date-time" and not _is_date_time(value):
        causes.append(
            _invalid(path, value, f"{label} in body must be of type date-time: {json.dumps(value)}")
        )


def _is_date_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return "T" in value.upper()


def _validate_number(schema: Schema, value: float, path: str, causes: list[Cause]) -> None:
    label = path or "body"
    minimum = schema.get("minimum")
    if minimum is not None:
        if schema.get("exclusiveMinimum") and value <= minimum:
            causes.append(
                _invalid(path, value, f"{label} in body should be greater than {minimum}")
            )
        elif value < minimum:
            causes.append(
                _invalid(
                    path, value, f"{label} in body should be greater than or equal to {minimum}"
                )
            )
    maximum = schema.get("maximum")
    if maximum is not None:
        if schema.get("exclusiveMaximum") and value >= maximum:
            causes.append(_invalid(path, value, f"{label} in body should be less than {maximum}"))
        elif value > maximum:
            causes.append(
                _invalid(path, value, f"{label} in body should be less than or equal to {maximum}")
            )
    multiple = schema.get("multipleOf")
    if multiple and (value / multiple) != int(value / multiple):
        causes.append(_invalid(path, value, f"{label} in body should be a multiple of {multiple}"))


def _validate_array(schema: Schema, value: list[Any], path: str, causes: list[Cause]) -> None:
    label = path or "body"
    max_items = schema.get("maxItems")
    if max_items is not None and len(value) > max_items:
        causes.append(
            Cause(
                "FieldValueTooMany",
                path,
                f"Too many: {len(value)}: must have at most {max_items} items",
            )
        )
    min_items = schema.get("minItems")
    if min_items is not None and len(value) < min_items:
        causes.append(
            _invalid(path, value, f"{label} in body should have at least {min_items} items")
        )
    if schema.get("uniqueItems"):
        seen: set[str] = set()
        for index, item in enumerate(value):
            key = json.dumps(item, sort_keys=True)
            if key in seen:
                causes.append(
                    Cause(
                        "FieldValueDuplicate",
                        f"{path}[{index}]",
                        f"Duplicate value: {_go_value(item)}",
                    )
                )
            seen.add(key)
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _validate(items, item, f"{path}[{index}]", causes)


def _validate_object(schema: Schema, value: JsonObject, path: str, causes: list[Cause]) -> None:
    for required in schema.get("required") or []:
        if required not in value:
            causes.append(Cause("FieldValueRequired", _join(path, required), "Required value"))
    label = path or "body"
    max_properties = schema.get("maxProperties")
    if max_properties is not None and len(value) > max_properties:
        causes.append(
            Cause(
                "FieldValueTooMany",
                path,
                f"Too many: {len(value)}: must have at most {max_properties} items",
            )
        )
    min_properties = schema.get("minProperties")
    if min_properties is not None and len(value) < min_properties:
        causes.append(
            _invalid(
                path, value, f"{label} in body should have at least {min_properties} properties"
            )
        )
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if path == "" and key in _ROOT_KEPT:
            continue
        if key in properties:
            _validate(properties[key], item, _join(path, key), causes)
        elif isinstance(additional, Mapping):
            _validate(additional, item, _join(path, key), causes)


def _validate_combinators(schema: Schema, value: Any, path: str, causes: list[Cause]) -> None:
    label = path or "body"
    for sub in schema.get("allOf") or []:
        _validate(sub, value, path, causes)
    any_of = schema.get("anyOf")
    if any_of and not any(not validate(sub, value, path) for sub in any_of):
        causes.append(
            _invalid(path, value, f"{label} in body must validate at least one schema (anyOf)")
        )
    one_of = schema.get("oneOf")
    if one_of:
        matching = sum(1 for sub in one_of if not validate(sub, value, path))
        if matching != 1:
            causes.append(
                _invalid(
                    path, value, f"{label} in body must validate one and only one schema (oneOf)"
                )
            )
    negated = schema.get("not")
    if isinstance(negated, Mapping) and not validate(negated, value, path):
        causes.append(_invalid(path, value, f"{label} in body must not validate the schema (not)"))


# ----------------------------------------------- x-kubernetes-validations (CEL)


def validate_transition_rules(schema: Schema, new: Any, old: Any, path: str = "") -> list[Cause]:
    """Enforce ``self == oldSelf`` rules on UPDATE (both values present, as CEL does)."""
    causes: list[Cause] = []
    _transition(schema, new, old, path, causes)
    return causes


def _transition(schema: Schema, new: Any, old: Any, path: str, causes: list[Cause]) -> None:
    if old is None or new is None:
        return
    for rule in schema.get("x-kubernetes-validations") or []:
        text = str(rule.get("rule", "")).strip()
        if text in _SUPPORTED_RULES and new != old:
            message = rule.get("message") or f"failed rule: {text}"
            field = (
                _join(path, str(rule["fieldPath"]).lstrip(".")) if rule.get("fieldPath") else path
            )
            causes.append(
                Cause(
                    str(rule.get("reason") or "FieldValueInvalid"),
                    field,
                    f"Invalid value: {_go_value(new)}: {message}",
                )
            )
    if isinstance(new, dict) and isinstance(old, dict):
        for key, sub in (schema.get("properties") or {}).items():
            _transition(sub, new.get(key), old.get(key), _join(path, key), causes)
    elif isinstance(new, list) and isinstance(old, list):
        items = schema.get("items")
        if isinstance(items, Mapping) and schema.get("x-kubernetes-list-type") == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            old_by_key = {
                tuple(item.get(k) for k in keys): item for item in old if isinstance(item, dict)
            }
            for index, item in enumerate(new):
                if isinstance(item, dict):
                    _transition(
                        items,
                        item,
                        old_by_key.get(tuple(item.get(k) for k in keys)),
                        f"{path}[{index}]",
                        causes,
                    )


def unsupported_rules(schema: Schema, path: str = "") -> list[tuple[str, str]]:
    """``(field path, rule)`` of every ``x-kubernetes-validations`` rule this stand-in ignores."""
    found: list[tuple[str, str]] = []
    for rule in schema.get("x-kubernetes-validations") or []:
        text = str(rule.get("rule", "")).strip()
        if text not in _SUPPORTED_RULES:
            found.append((path or "<root>", text))
    for key, sub in (schema.get("properties") or {}).items():
        found.extend(unsupported_rules(sub, _join(path, key)))
    for keyword in ("items", "additionalProperties"):
        sub = schema.get(keyword)
        if isinstance(sub, Mapping):
            found.extend(unsupported_rules(sub, f"{path}[*]"))
    return found
