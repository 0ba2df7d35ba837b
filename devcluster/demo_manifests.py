"""Manifests of the demo, the end-to-end tests and the orchestration benchmark (pure).

Namespaces labelled with their environment, small Deployments (optionally
crash-looping under devcluster's simulation, see
:mod:`devcluster.controllers.rollout`), and RemediationRequests as an alert
gateway files them: the fingerprint is the SHA-256 of the signal name and
target, so the same alert about the same target always has the same one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]

API_VERSION = "kubernaut.ai/v1alpha1"
LABEL_ENVIRONMENT = "kubernaut.ai/environment"
SIMULATE = "devcluster.kubernaut.ai/simulate"
CRASHLOOP_PODS = "devcluster.kubernaut.ai/crashloop-pods"
IMAGE = "registry.k8s.io/pause:3.9"


def namespace(name: str, environment: str | None = None) -> JSON:
    """A Namespace, labelled ``kubernaut.ai/environment`` when given one."""
    metadata: JSON = {"name": name}
    if environment:
        metadata["labels"] = {LABEL_ENVIRONMENT: environment}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def deployment(
    name: str,
    ns: str,
    *,
    replicas: int = 2,
    crashing_pods: int | None = None,
    image: str = IMAGE,
) -> JSON:
    """A Deployment of ``replicas`` pods; ``crashing_pods`` of them crash-loop (devcluster)."""
    annotations: dict[str, str] = {}
    if crashing_pods is not None:
        annotations = {SIMULATE: "crashloop", CRASHLOOP_PODS: str(crashing_pods)}
    template_meta: JSON = {"labels": {"app": name}}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": template_meta,
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def fingerprint(signal_name: str, target_namespace: str, target_name: str) -> str:
    """64 lower-case hex: the same signal about the same target, the same fingerprint."""
    text = f"{signal_name}/{target_namespace}/{target_name}"
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def remediation_request(
    name: str,
    ns: str,
    *,
    signal: str,
    target: str,
    target_namespace: str | None = None,
    severity: str = "warning",
    summary: str = "",
    timeouts: Mapping[str, str] | None = None,
    signal_fingerprint: str | None = None,
    now: str | None = None,
) -> JSON:
    """A RemediationRequest about Deployment ``target`` (in ``ns`` unless told otherwise)."""
    where = target_namespace or ns
    moment = now or _now()
    spec: JSON = {
        "signalFingerprint": signal_fingerprint or fingerprint(signal, where, target),
        "signalName": signal,
        "severity": severity,
        "signalType": "prometheus",
        "signalSource": "alertmanager-main",
        "targetResource": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": where,
            "name": target,
        },
        "signalLabels": {"alertname": signal, "namespace": where, "deployment": target},
        "firingTime": moment,
        "receivedTime": moment,
    }
    if summary:
        spec["signalAnnotations"] = {"summary": summary}
    if timeouts:
        spec["timeouts"] = dict(timeouts)
    return {
        "apiVersion": API_VERSION,
        "kind": "RemediationRequest",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }
