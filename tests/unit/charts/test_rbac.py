"""The chart's RBAC grants what the code calls, and the actions no more than that.

Reconciler: ``reconciler_permissions.yaml`` (next to this file) is the reviewed
list of its API calls; the test checks that every ``Resource(...)`` the
reconciler defines and every kind it creates or deletes through an effect is
in that list, and that the chart's ClusterRole (and leader-election Role)
grant all of it.

Actions: the calls are derived from the code. Each action's function (from the
runner's table) is read with ``ast``, following the helpers it calls inside
``reconciler/actions``; a client call ``get/list/patch/delete/create`` on a
Resource constant, ``evict`` (pods/eviction) and ``read_log`` (pods/log) give
(group, resource, verb). The chart's ClusterRole of that action must grant
exactly that set, bound cluster-wide when the action touches cluster-scoped
objects or lists across namespaces, else only in the configured namespaces.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.constants import GROUP, VERSION
from reconciler.actions import runner
from reconciler.controllers.ke_job import service_account_name

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
JSON = dict[str, Any]
Permission = tuple[str, str, str]  # (group, resource, verb)

_CONSTANTS = {"GROUP": GROUP, "VERSION": VERSION}
_CLIENT_VERBS = {
    "get": "get",
    "list": "list",
    "patch": "patch",
    "delete": "delete",
    "create": "create",
}


# ------------------------------------------------------------- code scanning


@dataclass(frozen=True)
class _Resource:
    group: str
    plural: str
    namespaced: bool


def _literal(node: ast.expr | None) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    return None


def _resource_of(call: ast.Call) -> _Resource | None:
    """A ``Resource(group, version, plural, kind[, namespaced])`` call with literal names."""
    if not (isinstance(call.func, ast.Name) and call.func.id == "Resource"):
        return None
    args = list(call.args)
    group, plural = _literal(args[0]), _literal(args[2]) if len(args) > 2 else None
    if not isinstance(group, str) or not isinstance(plural, str):
        return None
    namespaced = True
    if len(args) > 4:
        namespaced = bool(_literal(args[4]))
    for keyword in call.keywords:
        if keyword.arg == "namespaced":
            namespaced = bool(_literal(keyword.value))
    return _Resource(group, plural, namespaced)


def _modules(package: str) -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _resource_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Resource"
    ]


def _constants(trees: dict[Path, ast.Module]) -> dict[str, _Resource]:
    """Module-level ``NAME = Resource(...)`` (or annotated) constants, by name."""
    found: dict[str, _Resource] = {}
    for tree in trees.values():
        for node in tree.body:
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            if isinstance(target, ast.Name) and isinstance(value, ast.Call):
                resource = _resource_of(value)
                if resource is not None:
                    assert found.get(target.id, resource) == resource, target.id
                    found[target.id] = resource
    return found


# -------------------------------------------------------------- chart rules


def _grants(role: JSON) -> set[Permission]:
    return {
        (group, resource, verb)
        for rule in role.get("rules") or []
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule["verbs"]
    }


def _find(docs: list[JSON], kind: str, name: str | None = None) -> list[JSON]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def _one(docs: list[JSON], kind: str, name: str) -> JSON:
    found = _find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _no_wildcards(role: JSON) -> None:
    for rule in role.get("rules") or []:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule.get(field, []), (role["metadata"]["name"], rule)


# ----------------------------------------------------------------- reconciler


def _table() -> list[JSON]:
    loaded: list[JSON] = yaml.safe_load((HERE / "reconciler_permissions.yaml").read_text("utf-8"))
    return loaded


def _needed() -> set[Permission]:
    return {(e["group"], e["resource"], verb) for e in _table() for verb in e["verbs"]}


def test_every_resource_the_reconciler_defines_is_in_the_reviewed_table() -> None:
    listed = {(e["group"], e["resource"]) for e in _table()}
    trees = {p: t for p, t in _modules("reconciler").items() if "actions" not in p.parts}
    seen = set()
    for tree in trees.values():
        for call in _resource_calls(tree):
            resource = _resource_of(call)
            if resource is not None:
                seen.add((resource.group, resource.plural))
    assert len(seen) >= 15  # the scan finds the definitions
    assert seen - listed == set(), "add the new calls to reconciler_permissions.yaml"


def test_every_crd_with_its_status_is_in_the_reviewed_table() -> None:
    needed = _needed()
    for path in (ROOT / "charts" / "kubernaut" / "crds").glob("*.yaml"):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        plural = crd["spec"]["names"]["plural"]
        for verb in ("get", "list", "watch", "patch"):
            assert (GROUP, plural, verb) in needed
        assert (GROUP, f"{plural}/status", "patch") in needed


def test_children_created_and_deleted_through_effects_are_in_the_table() -> None:
    trees = {p: t for p, t in _modules("reconciler").items() if "actions" not in p.parts}
    constants = _constants(trees)
    needed = _needed()
    checked = 0
    for tree in trees.values():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            verb = {"CreateChild": "create", "DeleteObject": "delete"}.get(node.func.id)
            if verb is None or not node.args or not isinstance(node.args[0], ast.Name):
                continue
            resource = constants.get(node.args[0].id)
            if resource is not None:
                assert (resource.group, resource.plural, verb) in needed
                checked += 1
    assert checked >= 4


def test_reconciler_roles_grant_every_call(rendered: list[JSON]) -> None:
    cluster_role = _one(rendered, "ClusterRole", "kubernaut-reconciler")
    lease_role = _one(rendered, "Role", "kubernaut-reconciler-leader-election")
    _no_wildcards(cluster_role)
    granted = _grants(cluster_role)
    lease_granted = _grants(lease_role)
    for entry in _table():
        for verb in entry["verbs"]:
            permission = (entry["group"], entry["resource"], verb)
            if entry.get("scope") == "lease":
                assert permission in lease_granted, permission
            else:
                assert permission in granted, (permission, entry["where"])
    # Nothing beyond the reviewed table.
    assert granted <= _needed()
    binding = _one(rendered, "ClusterRoleBinding", "kubernaut-reconciler")
    assert binding["roleRef"]["name"] == "kubernaut-reconciler"


def test_webhook_has_no_api_access(rendered: list[JSON]) -> None:
    account = _one(rendered, "ServiceAccount", "kubernaut-webhook")
    assert account["automountServiceAccountToken"] is False
    for doc in rendered:
        if doc["kind"] in {"RoleBinding", "ClusterRoleBinding"}:
            assert all(s["name"] != "kubernaut-webhook" for s in doc["subjects"])


# -------------------------------------------------------------------- actions


@dataclass(frozen=True)
class _Call:
    permission: Permission
    cluster_wide: bool


class _ActionScanner:
    """Derives the API calls of an action function, following helpers in reconciler/actions."""

    def __init__(self) -> None:
        self.trees = _modules("reconciler/actions")
        self.resources = _constants(self.trees)
        self.functions: dict[tuple[str, str], ast.FunctionDef] = {}
        self.imports: dict[str, dict[str, str]] = {}
        for path, tree in self.trees.items():
            module = f"reconciler.actions.{path.stem}"
            self.imports[module] = {}
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    self.functions[(module, node.name)] = node
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "reconciler.actions."
                ):
                    for alias in node.names:
                        self.imports[module][alias.asname or alias.name] = node.module or ""

    def calls(self, module: str, name: str) -> set[_Call]:
        found: set[_Call] = set()
        self._visit(module, name, found, set())
        return found

    def _visit(self, module: str, name: str, found: set[_Call], seen: set[tuple[str, str]]) -> None:
        if (module, name) in seen or (module, name) not in self.functions:
            return
        seen.add((module, name))
        for node in ast.walk(self.functions[(module, name)]):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name):
                target = self.imports[module].get(node.func.id, module)
                self._visit(target, node.func.id, found, seen)
            elif isinstance(node.func, ast.Attribute) and self._is_client(node.func.value):
                found |= self._client_call(node.func.attr, node)

    @staticmethod
    def _is_client(node: ast.expr) -> bool:
        return (isinstance(node, ast.Name) and node.id == "client") or (
            isinstance(node, ast.Attribute) and node.attr == "client"
        )

    def _client_call(self, method: str, node: ast.Call) -> set[_Call]:
        if method == "evict":
            return {_Call(("", "pods/eviction", "create"), self._all_namespaces(node, 0))}
        if method == "read_log":
            return {_Call(("", "pods/log", "get"), self._all_namespaces(node, 0))}
        verb = _CLIENT_VERBS.get(method)
        if verb is None or not node.args or not isinstance(node.args[0], ast.Name):
            return set()
        resource = self.resources[node.args[0].id]
        plural = resource.plural
        for keyword in node.keywords:
            if keyword.arg == "subresource" and isinstance(_literal(keyword.value), str):
                plural = f"{plural}/{_literal(keyword.value)}"
        cluster_wide = not resource.namespaced or self._all_namespaces(node, 1)
        return {_Call((resource.group, plural, verb), cluster_wide)}

    @staticmethod
    def _all_namespaces(node: ast.Call, index: int) -> bool:
        """The namespace argument is a literal None: a call across every namespace."""
        if len(node.args) <= index:
            return False
        argument = node.args[index]
        return isinstance(argument, ast.Constant) and argument.value is None


ACTIONS = sorted(runner._ACTIONS)


@pytest.fixture(scope="module")
def scanner() -> _ActionScanner:
    return _ActionScanner()


def _derived(scanner: _ActionScanner, action: str) -> set[_Call]:
    function = runner._ACTIONS[action][1]  # type: ignore[index]
    module = inspect.getmodule(function)
    assert module is not None
    return scanner.calls(module.__name__, function.__name__)


def test_the_scan_sees_the_calls(scanner: _ActionScanner) -> None:
    drain = _derived(scanner, "drainNode")
    assert _Call(("", "pods/eviction", "create"), False) in drain
    assert _Call(("", "pods", "list"), True) in drain
    assert _Call(("", "nodes", "patch"), True) in drain
    assert {c.permission for c in _derived(scanner, "scaleDeployment")} == {
        ("apps", "deployments", "get"),
        ("apps", "deployments/scale", "patch"),
    }


@pytest.mark.parametrize("action", ACTIONS)
def test_action_role_grants_exactly_the_calls_of_the_code(
    scanner: _ActionScanner, render: Any, action: str
) -> None:
    docs = render({})
    calls = _derived(scanner, action)
    needed = {call.permission for call in calls}
    account = service_account_name(action)
    role_name = "kubernaut-action-" + account.removeprefix("kubernaut-action-")
    roles = _find(docs, "ClusterRole", role_name)
    granted = _grants(roles[0]) if roles else set()
    assert granted == needed
    for role in roles:
        _no_wildcards(role)
    assert _one(docs, "ServiceAccount", account)["metadata"]["namespace"] == "default"
    if not needed:
        return
    cluster_binding = _find(docs, "ClusterRoleBinding", role_name)
    namespaced_binding = _find(docs, "RoleBinding", role_name)
    if any(call.cluster_wide for call in calls):
        assert len(cluster_binding) == 1
        assert namespaced_binding == []
        subjects = cluster_binding[0]["subjects"]
    else:
        assert len(namespaced_binding) == 1
        assert cluster_binding == []
        assert namespaced_binding[0]["metadata"]["namespace"] == "default"
        subjects = namespaced_binding[0]["subjects"]
    assert subjects == [{"kind": "ServiceAccount", "name": account, "namespace": "default"}]


def test_actions_are_bound_in_every_listed_namespace_and_can_be_disabled(
    render: Any, value_sets: dict[str, JSON]
) -> None:
    docs = render(value_sets["restricted"])
    accounts = {
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in _find(docs, "ServiceAccount")
    }
    for namespace in ("shop", "shop-staging"):
        assert (namespace, "kubernaut-action-restart-deployment") in accounts
        assert (namespace, "kubernaut-action-drain-node") not in accounts
        assert (namespace, "kubernaut-action-delete-pod") not in accounts
        binding = _one(
            [d for d in docs if d["metadata"].get("namespace") == namespace],
            "RoleBinding",
            "kubernaut-action-restart-deployment",
        )
        assert binding["subjects"][0]["namespace"] == namespace
    assert ("default", "kubernaut-action-restart-deployment") not in accounts
    cordon = _one(docs, "ClusterRoleBinding", "kubernaut-action-cordon-node")
    assert {s["namespace"] for s in cordon["subjects"]} == {"shop", "shop-staging"}
    custom = _one(docs, "ClusterRole", "kubernaut-action-custom")
    assert _grants(custom) == {("", "services", "get")}
