"""The API resources the KubernetesExecution controller creates, watches and reads (pure).

Targets of remediation steps are read live to evaluate pre- and postconditions;
only the kinds kubernaut acts on are known here, addressed by the
``apiVersion`` and ``kind`` of ``spec.targetResource``.
"""

from __future__ import annotations

from typing import Final

from api.constants import GROUP, VERSION
from reconciler.kube import Resource

__all__ = ["EXECUTIONS", "JOBS", "PODS", "TARGET_RESOURCES", "target_resource"]

EXECUTIONS: Final = Resource(GROUP, VERSION, "kubernetesexecutions", "KubernetesExecution")
JOBS: Final = Resource("batch", "v1", "jobs", "Job")
PODS: Final = Resource("", "v1", "pods", "Pod")

TARGET_RESOURCES: Final[dict[tuple[str, str], Resource]] = {
    (resource.api_version, resource.kind): resource
    for resource in (
        Resource("apps", "v1", "deployments", "Deployment"),
        Resource("apps", "v1", "replicasets", "ReplicaSet"),
        Resource("apps", "v1", "statefulsets", "StatefulSet"),
        Resource("apps", "v1", "daemonsets", "DaemonSet"),
        Resource("", "v1", "pods", "Pod"),
        Resource("", "v1", "configmaps", "ConfigMap"),
        Resource("", "v1", "nodes", "Node", namespaced=False),
        Resource("batch", "v1", "jobs", "Job"),
    )
}
"""Readable target kinds by ``(apiVersion, kind)``."""


def target_resource(api_version: str, kind: str) -> Resource | None:
    """The resource of a target, or None for a kind kubernaut does not read."""
    return TARGET_RESOURCES.get((api_version, kind))
