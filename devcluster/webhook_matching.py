"""Which admission webhooks a request reaches (pure), after the API server's predicates.

Mirrors ``k8s.io/apiserver/pkg/admission/plugin/webhook/predicates``:

* rules (``rules/rules.go``): a rule matches when scope, operation, group,
  version and resource all match. ``"*"`` in ``resources`` matches every
  resource but no subresource, ``"*/*"`` matches everything, ``"pods/*"``
  every subresource of pods, ``"*/status"`` the status of everything. Scope
  ``Namespaced`` never matches a Namespace object; ``Cluster`` always does.
* namespaceSelector (``namespace/matcher.go``): a cluster-scoped object other
  than a Namespace always matches; a Namespace being created or updated is
  matched on its own (new) labels, other requests on the stored namespace's labels.
* objectSelector (``object/matcher.go``): matches when the object *or* the old
  object carries matching labels.
* Exemption (``rules.IsExemptAdmissionConfigurationResource``): webhooks are
  never called for webhook configurations themselves, so a broken webhook can
  always be removed.

``matchPolicy: Equivalent`` is treated as ``Exact``: every resource of the
stand-in is served in exactly one version, so no request could be converted to
an equivalent one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devcluster.admission import AdmissionAttributes
from devcluster.selectors import SelectorError, selector_from_label_selector_object

JsonObject = dict[str, Any]
NamespaceLabels = Callable[[str], Mapping[str, str] | None]

ADMISSION_GROUP = "admissionregistration.k8s.io"
_EXEMPT_RESOURCES = frozenset(
    {
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    }
)


class NamespaceMissingError(LookupError):
    """The request's namespace is not stored (the API server answers 404)."""


def is_exempt(attributes: AdmissionAttributes) -> bool:
    """Requests on admission configuration objects never reach webhooks."""
    return (
        attributes.resource.group == ADMISSION_GROUP
        and attributes.resource.plural in _EXEMPT_RESOURCES
    )


def _is_namespace(attributes: AdmissionAttributes) -> bool:
    rtype = attributes.resource
    return rtype.group == "" and rtype.plural == "namespaces"


def _request_namespace(attributes: AdmissionAttributes) -> str:
    """The namespace as the API server sees it: a Namespace request's namespace is its name."""
    return attributes.name if _is_namespace(attributes) else attributes.namespace


def _listed(items: Sequence[Any] | None, value: str) -> bool:
    return any(item in ("*", value) for item in items or ())


def _scope_matches(scope: str | None, attributes: AdmissionAttributes) -> bool:
    if scope in (None, "*"):
        return True
    if scope == "Namespaced":
        return not _is_namespace(attributes) and bool(attributes.namespace)
    if scope == "Cluster":
        return _is_namespace(attributes) or not attributes.namespace
    return False


def _resource_matches(resources: Sequence[Any] | None, resource: str, subresource: str) -> bool:
    for entry in resources or ():
        name, _, sub = str(entry).partition("/")
        if (name in ("*", resource)) and (sub in ("*", subresource)):
            return True
    return False


def rule_matches(rule: Mapping[str, Any], attributes: AdmissionAttributes) -> bool:
    """One ``RuleWithOperations`` against a request."""
    rtype = attributes.resource
    return (
        _scope_matches(rule.get("scope"), attributes)
        and _listed(rule.get("operations"), attributes.operation)
        and _listed(rule.get("apiGroups"), rtype.group)
        and _listed(rule.get("apiVersions"), rtype.version)
        and _resource_matches(rule.get("resources"), rtype.plural, attributes.subresource)
    )


def rules_match(rules: Sequence[Mapping[str, Any]] | None, attributes: AdmissionAttributes) -> bool:
    return any(rule_matches(rule, attributes) for rule in rules or ())


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str] | None:
    if obj is None:
        return None
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def namespace_selector_matches(
    selector: Mapping[str, Any] | None,
    attributes: AdmissionAttributes,
    namespace_labels: NamespaceLabels,
) -> bool:
    """``namespaceSelector``; raises :class:`SelectorError` or :class:`NamespaceMissingError`."""
    namespace = _request_namespace(attributes)
    if not namespace and not _is_namespace(attributes):
        return True
    parsed = selector_from_label_selector_object(selector)
    if parsed.empty:
        return True
    if (
        _is_namespace(attributes)
        and not attributes.subresource
        and attributes.operation in ("CREATE", "UPDATE")
    ):
        return parsed.matches(_labels(attributes.object))
    labels = namespace_labels(namespace)
    if labels is None:
        raise NamespaceMissingError(namespace)
    return parsed.matches(labels)


def object_selector_matches(
    selector: Mapping[str, Any] | None, attributes: AdmissionAttributes
) -> bool:
    """``objectSelector``: the object or the old object matches; raises :class:`SelectorError`."""
    parsed = selector_from_label_selector_object(selector)
    if parsed.empty:
        return True
    return any(
        labels is not None and parsed.matches(labels)
        for labels in (_labels(attributes.object), _labels(attributes.old_object))
    )


def webhook_matches(
    webhook: Mapping[str, Any], attributes: AdmissionAttributes, namespace_labels: NamespaceLabels
) -> bool:
    """Rules, then namespace and object selectors (the API server's order)."""
    return (
        rules_match(webhook.get("rules"), attributes)
        and namespace_selector_matches(
            webhook.get("namespaceSelector"), attributes, namespace_labels
        )
        and object_selector_matches(webhook.get("objectSelector"), attributes)
    )


__all__ = [
    "NamespaceLabels",
    "NamespaceMissingError",
    "SelectorError",
    "is_exempt",
    "namespace_selector_matches",
    "object_selector_matches",
    "rule_matches",
    "rules_match",
    "webhook_matches",
]
