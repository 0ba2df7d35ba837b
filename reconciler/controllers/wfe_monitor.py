"""After the last step: did the targets reach the expected state?

Pure. The workflow's target, when it is a Deployment, and every Deployment a
completed step acted on are checked like ``kubectl rollout status``: the
controller observed the latest generation, every replica is updated, no old
replica is left, and at least the desired number are available.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from api.parameters import (
    RestartDeploymentParams,
    RollbackDeploymentParams,
    ScaleDeploymentParams,
    UpdateImageParams,
)
from api.workflowexecution import StepStatus, WorkflowExecutionSpec
from reconciler.kube import Resource

__all__ = [
    "DEPLOYMENTS",
    "DeploymentHealth",
    "ObjectKey",
    "ResourceHealth",
    "deployment_health",
    "monitored_deployments",
    "resource_health",
]

JSON = dict[str, Any]
ObjectKey = tuple[str, str]
"""(namespace, name)"""
ResourceHealth = Literal["Healthy", "Degraded", "Unhealthy", "Unknown"]

DEPLOYMENTS: Final = Resource("apps", "v1", "deployments", "Deployment")
_DeploymentParams = (
    ScaleDeploymentParams,
    RestartDeploymentParams,
    RollbackDeploymentParams,
    UpdateImageParams,
)


@dataclass(frozen=True)
class DeploymentHealth:
    key: ObjectKey
    healthy: bool
    available: int
    message: str


def monitored_deployments(
    spec: WorkflowExecutionSpec, records: Mapping[int, StepStatus]
) -> list[ObjectKey]:
    """The target Deployment and the Deployments of completed steps, without duplicates."""
    keys: list[ObjectKey] = []
    target = spec.target_resource
    if target.kind == "Deployment" and target.api_version == DEPLOYMENTS.api_version:
        keys.append((target.namespace or "", target.name))
    for step in spec.workflow_definition.steps:
        record = records.get(step.step_number)
        if record is None or record.status != "Completed":
            continue
        block = step.parameters.block
        if isinstance(block, _DeploymentParams):
            keys.append((block.namespace, block.deployment))
    return list(dict.fromkeys(keys))


def _count(source: JSON, key: str) -> int:
    value = source.get(key)
    return value if isinstance(value, int) else 0


def deployment_health(key: ObjectKey, deployment: JSON | None) -> DeploymentHealth:
    where = f"deployment {key[0]}/{key[1]}"
    if deployment is None:
        return DeploymentHealth(key, healthy=False, available=0, message=f"{where} not found")
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation")
    replicas = spec.get("replicas")
    desired = replicas if isinstance(replicas, int) else 1
    available = _count(status, "availableReplicas")
    updated = _count(status, "updatedReplicas")
    current = _count(status, "replicas")
    observed = status.get("observedGeneration")
    problems: list[str] = []
    if isinstance(generation, int) and not (isinstance(observed, int) and observed >= generation):
        problems.append(f"generation {generation} not yet observed")
    if updated < desired:
        problems.append(f"{updated} of {desired} replicas updated")
    if current > updated:
        problems.append(f"{current - updated} old replica(s) pending termination")
    if available < desired:
        problems.append(f"{available} of {desired} replicas available")
    if problems:
        return DeploymentHealth(key, False, available, f"{where}: {'; '.join(problems)}")
    return DeploymentHealth(key, True, available, f"{where}: {available} of {desired} available")


def resource_health(healths: Sequence[DeploymentHealth]) -> ResourceHealth:
    """Healthy when all are; Unhealthy when one is missing or has none available; else Degraded."""
    if not healths:
        return "Unknown"
    if all(health.healthy for health in healths):
        return "Healthy"
    if any(not health.healthy and health.available == 0 for health in healths):
        return "Unhealthy"
    return "Degraded"
