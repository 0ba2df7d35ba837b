"""What SignalProcessing learns about a signal's target from the cluster.

* :func:`resource_for` maps a target's ``apiVersion``/``kind`` onto the API
  resource to read (pure; unknown kinds give None);
* :func:`read_target` reads the target, its namespace and its chain of
  controlling owners (Pod -> ReplicaSet -> Deployment) through a
  :class:`~reconciler.controller.ClusterView` (I/O, for ``observe``).

A target that cannot be found, or whose kind kubernaut does not read, is a
result (``found`` False with the reason), never an error. Retriable API
trouble (transport errors, throttling, 5xx) is raised as
:class:`~reconciler.kube.ApiError` so the controller can retry until its
phase deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from api.meta import TargetResource
from reconciler.controller import ClusterView
from reconciler.kube import ApiError, Resource

__all__ = [
    "MAX_OWNER_DEPTH",
    "NAMESPACES",
    "READABLE_KINDS",
    "TargetSnapshot",
    "read_target",
    "resource_for",
]

JSON = dict[str, Any]

MAX_OWNER_DEPTH: Final = 5
"""Most owners followed up from the target (Pod -> ReplicaSet -> Deployment needs 2)."""

NAMESPACES: Final = Resource("", "v1", "namespaces", "Namespace", namespaced=False)

READABLE_KINDS: Final[dict[tuple[str, str], Resource]] = {
    (resource.api_version, resource.kind): resource
    for resource in (
        Resource("apps", "v1", "deployments", "Deployment"),
        Resource("apps", "v1", "statefulsets", "StatefulSet"),
        Resource("apps", "v1", "daemonsets", "DaemonSet"),
        Resource("apps", "v1", "replicasets", "ReplicaSet"),
        Resource("", "v1", "pods", "Pod"),
        Resource("", "v1", "services", "Service"),
        Resource("", "v1", "configmaps", "ConfigMap"),
        Resource("", "v1", "nodes", "Node", namespaced=False),
        Resource("batch", "v1", "jobs", "Job"),
        Resource("batch", "v1", "cronjobs", "CronJob"),
    )
}
"""Targets and owners kubernaut reads, by ``(apiVersion, kind)``."""


def resource_for(api_version: str, kind: str) -> Resource | None:
    """The resource of ``apiVersion``/``kind``, or None for a kind kubernaut does not read."""
    return READABLE_KINDS.get((api_version, kind))


@dataclass(frozen=True)
class TargetSnapshot:
    """The target as found: existence, labels, namespace labels and owners (nearest first)."""

    found: bool
    reason: str = ""
    """Why the target was not found (empty when found)."""
    labels: dict[str, str] = field(default_factory=dict)
    namespace_labels: dict[str, str] = field(default_factory=dict)
    owner_chain: tuple[JSON, ...] = ()
    """OwnerChainEntry documents in wire format."""


def _describe(target: TargetResource) -> str:
    where = f"{target.namespace}/{target.name}" if target.namespace else target.name
    return f"{target.kind} {where}"


def _get(view: ClusterView, resource: Resource, namespace: str | None, name: str) -> JSON | None:
    """``view.get`` where a refusal (403, ...) counts as not readable and is reported as such."""
    try:
        return view.get(resource, namespace, name)
    except ApiError as err:
        if err.retriable:
            raise
        raise _UnreadableError(f"{resource.kind} {name} could not be read: {err}") from err


class _UnreadableError(Exception):
    """A non-retriable API answer (forbidden, bad request): the object cannot be read."""


def read_target(view: ClusterView, target: TargetResource) -> TargetSnapshot:
    """Read ``target``, its namespace's labels and its owner chain."""
    resource = resource_for(target.api_version, target.kind)
    if resource is None:
        known = ", ".join(sorted(f"{kind} ({version})" for version, kind in READABLE_KINDS))
        return TargetSnapshot(
            found=False,
            reason=f"kind {target.kind} ({target.api_version}) is not one kubernaut reads; "
            f"known kinds: {known}",
        )
    namespace = target.namespace if resource.namespaced else None
    if resource.namespaced and not namespace:
        return TargetSnapshot(
            found=False, reason=f"{target.kind} {target.name} is namespaced but has no namespace"
        )
    try:
        namespace_labels: dict[str, str] = {}
        if namespace:
            namespace_obj = _get(view, NAMESPACES, None, namespace)
            if namespace_obj is None:
                return TargetSnapshot(found=False, reason=f"namespace {namespace} not found")
            namespace_labels = _labels(namespace_obj)
        obj = _get(view, resource, namespace, target.name)
        if obj is None:
            return TargetSnapshot(
                found=False,
                reason=f"{_describe(target)} not found",
                namespace_labels=namespace_labels,
            )
        return TargetSnapshot(
            found=True,
            labels=_labels(obj),
            namespace_labels=namespace_labels,
            owner_chain=tuple(_owner_chain(view, obj, namespace)),
        )
    except _UnreadableError as err:
        return TargetSnapshot(found=False, reason=str(err))


def _labels(obj: JSON) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {str(key): str(value) for key, value in labels.items()}


def _controller_reference(obj: JSON) -> JSON | None:
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if reference.get("controller") and reference.get("kind") and reference.get("name"):
            return dict(reference)
    return None


def _owner_chain(view: ClusterView, obj: JSON, namespace: str | None) -> list[JSON]:
    """Controlling owners from the nearest up, at most :data:`MAX_OWNER_DEPTH`, no cycles."""
    chain: list[JSON] = []
    seen = {(obj.get("metadata") or {}).get("uid")}
    current = obj
    while len(chain) < MAX_OWNER_DEPTH:
        reference = _controller_reference(current)
        if reference is None or reference.get("uid") in seen:
            break
        seen.add(reference.get("uid"))
        api_version = str(reference.get("apiVersion", ""))
        resource = resource_for(api_version, str(reference["kind"]))
        owner_namespace = namespace if resource is None or resource.namespaced else None
        entry: JSON = {
            "apiVersion": api_version,
            "kind": reference["kind"],
            "name": reference["name"],
        }
        if owner_namespace:
            entry["namespace"] = owner_namespace
        chain.append(entry)
        if resource is None:
            break  # an owner kind kubernaut does not read: the chain ends here
        try:
            owner = _get(view, resource, owner_namespace, str(reference["name"]))
        except _UnreadableError:
            break  # the owner is recorded; what owns it cannot be known
        if owner is None:
            break
        current = owner
    return chain
