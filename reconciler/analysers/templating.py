"""Placeholder substitution in workflow templates (pure, no code, no expressions).

A string value of a template may contain ``{{ name }}`` placeholders; each is
replaced by the value of ``name`` in the context built from the analysis
request. Keys are never templated, and nothing else is interpreted: there are
no filters, conditionals or loops. Names:

========================================  =========================================
``target.apiVersion|kind|namespace|name``  the signal's target resource
``workload.apiVersion|kind|namespace|name`` the outermost controlling owner of the
                                            target (Pod -> ReplicaSet -> Deployment
                                            gives the Deployment), else the target
``signal.name|severity|fingerprint|type|source``
``signal.labels.<key>``                     a label of the signal (key may contain
                                            dots and slashes)
``enrichment.environment|severity|priority``
========================================  =========================================

A placeholder whose value is missing is an error naming it, never an empty
string: a workflow acting on ``namespace: ""`` must not come out of a typo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from reconciler.analysers.base import AnalysisRequest

__all__ = ["KNOWN_NAMES", "TemplateError", "check_names", "context_for", "placeholders", "render"]

_PLACEHOLDER: Final = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_LABEL_PREFIX: Final = "signal.labels."
_REFERENCE_FIELDS: Final = ("apiVersion", "kind", "namespace", "name")

KNOWN_NAMES: Final = frozenset(
    {
        *(f"target.{field}" for field in _REFERENCE_FIELDS),
        *(f"workload.{field}" for field in _REFERENCE_FIELDS),
        *(f"signal.{field}" for field in ("name", "severity", "fingerprint", "type", "source")),
        *(f"enrichment.{field}" for field in ("environment", "severity", "priority")),
    }
)


class TemplateError(ValueError):
    """An unknown placeholder, or one without a value for this request."""


def placeholders(template: Any) -> set[str]:
    """Every placeholder name used in the string values of ``template``."""
    found: set[str] = set()
    _walk_strings(template, lambda text: found.update(_PLACEHOLDER.findall(text)))
    return found


def check_names(names: set[str]) -> None:
    """Raise :class:`TemplateError` for names that are neither known nor a signal label."""
    unknown = sorted(
        name
        for name in names
        if name not in KNOWN_NAMES
        and not (name.startswith(_LABEL_PREFIX) and len(name) > len(_LABEL_PREFIX))
    )
    if unknown:
        raise TemplateError(
            f"unknown placeholder(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(KNOWN_NAMES))}, signal.labels.<key>"
        )


def context_for(request: AnalysisRequest) -> dict[str, str | None]:
    """The values placeholders may use for ``request`` (None: no value)."""
    signal = request.signal
    target = signal.target_resource
    context: dict[str, str | None] = {
        "target.apiVersion": target.api_version,
        "target.kind": target.kind,
        "target.namespace": target.namespace,
        "target.name": target.name,
        "signal.name": signal.name,
        "signal.severity": signal.severity,
        "signal.fingerprint": signal.fingerprint,
        "signal.type": signal.type,
        "signal.source": signal.source,
        "enrichment.environment": request.enrichment.environment,
        "enrichment.severity": request.enrichment.severity,
        "enrichment.priority": request.enrichment.priority,
    }
    owners = request.enrichment.owner_chain or []
    if owners:
        workload = owners[-1]
        context |= {
            "workload.apiVersion": workload.api_version,
            "workload.kind": workload.kind,
            "workload.namespace": workload.namespace,
            "workload.name": workload.name,
        }
    else:
        for field in _REFERENCE_FIELDS:
            context[f"workload.{field}"] = context[f"target.{field}"]
    for key, value in (signal.labels or {}).items():
        context[_LABEL_PREFIX + key] = value
    return context


def render(template: Any, context: Mapping[str, str | None]) -> Any:
    """``template`` with every placeholder replaced; TemplateError names a missing value."""
    check_names(placeholders(template))

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = context.get(name)
        if value is None or value == "":
            raise TemplateError(f"placeholder {{{{ {name} }}}} has no value for this signal")
        return value

    return _map_strings(template, lambda text: _PLACEHOLDER.sub(substitute, text))


def _walk_strings(value: Any, visit: Callable[[str], None]) -> None:
    if isinstance(value, str):
        visit(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            _walk_strings(item, visit)
    elif isinstance(value, list):
        for item in value:
            _walk_strings(item, visit)


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value
