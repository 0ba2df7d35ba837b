"""Label and field selectors, parsed and matched like ``k8s.io/apimachinery/pkg/labels``.

Label selector grammar (comma-separated requirements, all must hold):
``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``,
``key in (a,b)``, ``key notin (a,b)``, ``key>N``, ``key<N``.
``!=`` and ``notin`` also match objects that lack the key, as upstream.

Field selectors support ``=``, ``==`` and ``!=`` on a fixed set of field paths per
resource; an unknown path is rejected (``field label not supported``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


class SelectorError(ValueError):
    """A selector string that does not parse; the message is shown to the client."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # exists, !exists, in, notin, gt, lt
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!exists":
            return not present
        if self.operator == "in":
            return present and labels[self.key] in self.values
        if self.operator == "notin":
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        try:
            actual = int(labels[self.key])
        except ValueError:
            return False
        bound = int(next(iter(self.values)))
        return actual > bound if self.operator == "gt" else actual < bound


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        actual = labels or {}
        return all(req.matches(actual) for req in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"unbalanced parentheses in selector {text!r}")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise SelectorError(f"unbalanced parentheses in selector {text!r}")
    parts.append("".join(current))
    return parts


def _check_key(key: str, text: str) -> str:
    if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise SelectorError(f"invalid label key {key!r} in selector {text!r}")
    return key


def _check_value(value: str, text: str) -> str:
    if not _VALUE.match(value) or len(value) > 63:
        raise SelectorError(f"invalid label value {value!r} in selector {text!r}")
    return value


_SET_FORM = re.compile(r"^\s*(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_BINARY_FORM = re.compile(
    r"^\s*(?P<key>[^!=<>\s]+)\s*(?P<op>==|!=|=|>|<)\s*(?P<value>[^!=<>\s]*)\s*$"
)


def _parse_requirement(part: str, text: str) -> Requirement:
    set_form = _SET_FORM.match(part)
    if set_form:
        key = _check_key(set_form["key"], text)
        values = frozenset(
            _check_value(value.strip(), text) for value in set_form["values"].split(",")
        )
        return Requirement(key, set_form["op"], values)
    stripped = part.strip()
    if stripped.startswith("!"):
        return Requirement(_check_key(stripped[1:].strip(), text), "!exists")
    binary = _BINARY_FORM.match(part)
    if binary:
        key = _check_key(binary["key"], text)
        op = binary["op"]
        value = binary["value"]
        if op in (">", "<"):
            if not re.fullmatch(r"-?\d+", value):
                raise SelectorError(
                    f"for 'gt', 'lt' operators, the value must be an integer: {part.strip()!r}"
                )
            return Requirement(key, "gt" if op == ">" else "lt", frozenset({value}))
        checked = frozenset({_check_value(value, text)})
        return Requirement(key, "notin" if op == "!=" else "in", checked)
    if re.fullmatch(r"\S+", stripped):
        return Requirement(_check_key(stripped, text), "exists")
    raise SelectorError(f"unable to parse requirement {part.strip()!r} in selector {text!r}")


def parse_label_selector(text: str | None) -> LabelSelector:
    if text is None or not text.strip():
        return LabelSelector()
    requirements = [_parse_requirement(part, text) for part in _split_top_level(text)]
    return LabelSelector(tuple(requirements))


def selector_from_label_selector_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a ``metav1.LabelSelector`` (matchLabels/matchExpressions) to a selector."""
    if not selector:
        return LabelSelector()
    requirements: list[Requirement] = [
        Requirement(key, "in", frozenset({str(value)}))
        for key, value in (selector.get("matchLabels") or {}).items()
    ]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expression in selector.get("matchExpressions") or []:
        operator = operators.get(str(expression.get("operator")))
        if operator is None:
            raise SelectorError(
                f"{expression.get('operator')!r} is not a valid label selector operator"
            )
        values = frozenset(str(value) for value in expression.get("values") or [])
        requirements.append(Requirement(str(expression.get("key")), operator, values))
    return LabelSelector(tuple(requirements))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """Render a ``metav1.LabelSelector`` as the string form (used for ``Scale.status.selector``)."""
    if not selector:
        return ""
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        operator = expression.get("operator")
        values = ",".join(sorted(str(value) for value in expression.get("values") or []))
        key = expression.get("key")
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


FieldGetter = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    value: str
    equal: bool


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(
            (field_value(obj, req.path) == req.value) == req.equal for req in self.requirements
        )

    @property
    def empty(self) -> bool:
        return not self.requirements


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of a dotted field path, as the server's field-label conversion gives it."""
    current: Any = obj
    for segment in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(segment)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


_FIELD_FORM = re.compile(r"^\s*(?P<path>[A-Za-z0-9_.\-/]+)\s*(?P<op>==|!=|=)\s*(?P<value>.*?)\s*$")


def parse_field_selector(text: str | None, supported: frozenset[str]) -> FieldSelector:
    if text is None or not text.strip():
        return FieldSelector()
    requirements: list[FieldRequirement] = []
    for part in text.split(","):
        match = _FIELD_FORM.match(part)
        if not match:
            raise SelectorError(f"invalid selector: {text!r}; can't understand {part.strip()!r}")
        path = match["path"]
        if path not in supported:
            raise SelectorError(f"field label not supported: {path}")
        requirements.append(FieldRequirement(path, match["value"], match["op"] != "!="))
    return FieldSelector(tuple(requirements))
