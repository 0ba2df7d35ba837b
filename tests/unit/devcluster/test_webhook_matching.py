"""Which webhooks a request reaches: the API server's rule, scope and selector predicates."""

from __future__ import annotations

from typing import Any

import pytest

from devcluster.admission import AdmissionAttributes, Operation, UserInfo
from devcluster.resources import Registry
from devcluster.webhook_matching import (
    NamespaceMissingError,
    is_exempt,
    namespace_selector_matches,
    object_selector_matches,
    rule_matches,
)

REGISTRY = Registry()
USER = UserInfo("alice")


def attrs(
    plural: str,
    *,
    group: str = "",
    operation: Operation = "CREATE",
    subresource: str = "",
    namespace: str = "default",
    name: str = "x",
    obj: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
) -> AdmissionAttributes:
    rtype = REGISTRY.lookup(group, "v1", plural)
    assert rtype is not None
    return AdmissionAttributes(
        operation, rtype, subresource, namespace, name, obj, old, USER, dry_run=False
    )


def rule(resources: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "operations": ["CREATE", "UPDATE"],
        "apiGroups": ["*"],
        "apiVersions": ["*"],
        "resources": resources,
        **extra,
    }


@pytest.mark.parametrize(
    ("resources", "subresource", "expected"),
    [
        (["pods"], "", True),
        (["pods"], "status", False),
        (["*"], "", True),
        (["*"], "status", False),  # "*" matches every resource but no subresource
        (["*/*"], "status", True),
        (["*/status"], "status", True),
        (["*/status"], "", False),
        (["pods/*"], "log", True),
        (["deployments"], "", False),
    ],
)
def test_resources_and_subresources_match_as_the_api_server_does(
    resources: list[str], subresource: str, expected: bool
) -> None:
    assert rule_matches(rule(resources), attrs("pods", subresource=subresource)) is expected


def test_deployments_scale_matches_only_the_scale_subresource() -> None:
    scale = attrs("deployments", group="apps", subresource="scale", operation="UPDATE")
    assert rule_matches(rule(["deployments/scale"]), scale)
    assert not rule_matches(rule(["deployments"]), scale)


def test_operations_groups_and_versions_must_all_match() -> None:
    pods = attrs("pods", operation="DELETE")
    assert not rule_matches(rule(["pods"]), pods)
    assert rule_matches(rule(["pods"], operations=["*"]), pods)
    assert not rule_matches(rule(["pods"], apiGroups=["apps"]), attrs("pods"))
    assert not rule_matches(rule(["pods"], apiVersions=["v2"]), attrs("pods"))


def test_namespaced_scope_excludes_cluster_objects_and_namespaces_themselves() -> None:
    namespaced = rule(["*"], scope="Namespaced")
    cluster = rule(["*"], scope="Cluster")
    namespace_obj = attrs("namespaces", namespace="", name="shop")
    assert rule_matches(namespaced, attrs("pods"))
    assert not rule_matches(namespaced, attrs("nodes", namespace=""))
    assert not rule_matches(namespaced, namespace_obj)
    assert rule_matches(cluster, namespace_obj)
    assert not rule_matches(cluster, attrs("pods"))


def labels_of(namespaces: dict[str, dict[str, str]]) -> Any:
    return namespaces.get


SELECTOR = {"matchLabels": {"env": "prod"}}


def test_namespace_selector_reads_the_stored_namespace_labels() -> None:
    lookup = labels_of({"default": {"env": "prod"}, "dev": {"env": "dev"}})
    assert namespace_selector_matches(SELECTOR, attrs("pods"), lookup)
    assert not namespace_selector_matches(SELECTOR, attrs("pods", namespace="dev"), lookup)


def test_namespace_selector_never_exempts_cluster_scoped_objects() -> None:
    assert namespace_selector_matches(SELECTOR, attrs("nodes", namespace=""), labels_of({}))


def test_namespace_selector_matches_a_namespace_on_its_own_new_labels() -> None:
    created = attrs(
        "namespaces", namespace="", name="shop", obj={"metadata": {"labels": {"env": "prod"}}}
    )
    assert namespace_selector_matches(SELECTOR, created, labels_of({}))
    deleted = attrs("namespaces", namespace="", name="shop", operation="DELETE")
    assert not namespace_selector_matches(SELECTOR, deleted, labels_of({"shop": {}}))


def test_namespace_selector_on_a_missing_namespace_is_an_error() -> None:
    with pytest.raises(NamespaceMissingError):
        namespace_selector_matches(SELECTOR, attrs("pods", namespace="gone"), labels_of({}))


def test_object_selector_matches_the_object_or_the_old_object() -> None:
    selector = {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}
    tagged = {"metadata": {"labels": {"team": "a"}}}
    plain: dict[str, Any] = {"metadata": {}}
    assert object_selector_matches(selector, attrs("pods", obj=tagged))
    assert object_selector_matches(selector, attrs("pods", obj=plain, old=tagged))
    assert not object_selector_matches(selector, attrs("pods", obj=plain, old=plain))
    assert object_selector_matches({}, attrs("pods", obj=plain))


def test_webhook_configurations_are_exempt_from_webhooks() -> None:
    group = "admissionregistration.k8s.io"
    assert is_exempt(attrs("validatingwebhookconfigurations", group=group, namespace=""))
    assert is_exempt(attrs("mutatingwebhookconfigurations", group=group, namespace=""))
    assert not is_exempt(attrs("pods"))
