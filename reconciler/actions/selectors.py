"""Label selectors as objects (``spec.selector`` of a Deployment) -> query strings (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.actions.base import ActionError

__all__ = ["selector_string"]

_SET_OPERATORS = {"In": "in", "NotIn": "notin"}


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """``{"matchLabels": {"app": "web"}, "matchExpressions": [...]}`` -> ``app=web,...``.

    An empty selector would match every pod of the namespace, which is never
    what a Deployment means: it is refused.
    """
    selector = selector or {}
    terms = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        terms.append(_expression(expression))
    if not terms:
        raise ActionError("the label selector is empty: it would match every pod")
    return ",".join(terms)


def _expression(expression: Mapping[str, Any]) -> str:
    key = str(expression.get("key", ""))
    operator = expression.get("operator")
    values = [str(value) for value in expression.get("values") or []]
    if operator in _SET_OPERATORS:
        return f"{key} {_SET_OPERATORS[operator]} ({','.join(values)})"
    if operator == "Exists":
        return key
    if operator == "DoesNotExist":
        return f"!{key}"
    raise ActionError(f"unsupported label selector operator {operator!r} for key {key!r}")
