"""The API client of the action runner: the generic client plus pod eviction and logs.

:func:`connect` builds it from the in-cluster ServiceAccount (a Job's pod) or,
outside a cluster, from the kubeconfig (``KUBECONFIG`` honoured).
"""

from __future__ import annotations

import json
import os
from typing import Final

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from reconciler.kube import ApiError, KubeClient, Resource

__all__ = [
    "CONFIGMAPS",
    "DEPLOYMENTS",
    "NODES",
    "PODS",
    "REPLICASETS",
    "ActionClient",
    "ClusterConfigError",
    "connect",
]

DEPLOYMENTS: Final = Resource("apps", "v1", "deployments", "Deployment")
REPLICASETS: Final = Resource("apps", "v1", "replicasets", "ReplicaSet")
PODS: Final = Resource("", "v1", "pods", "Pod")
CONFIGMAPS: Final = Resource("", "v1", "configmaps", "ConfigMap")
NODES: Final = Resource("", "v1", "nodes", "Node", namespaced=False)

_USER_AGENT: Final = "kubernaut-action-runner"


class ClusterConfigError(Exception):
    """Neither an in-cluster ServiceAccount nor a usable kubeconfig was found."""


class ActionClient(KubeClient):
    """:class:`KubeClient` with the two pod subresources the actions need."""

    def evict(
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> None:
        """Evict a pod through ``policy/v1`` Eviction; a PodDisruptionBudget refusal is a 429."""
        eviction: dict[str, object] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        if grace_period_seconds is not None:
            eviction["deleteOptions"] = {"gracePeriodSeconds": grace_period_seconds}
        self._request(
            "POST",
            PODS.path(namespace, name, "eviction"),
            query={"dryRun": "All"} if dry_run else None,
            body=eviction,
        )

    def read_log(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
    ) -> str:
        """The pod container's log as text (undecodable bytes replaced)."""
        path = PODS.path(namespace, name, "log")
        query = {"container": container, "tailLines": tail_lines, "sinceSeconds": since_seconds}
        response = self._send("GET", path, query=query)
        try:
            raw: bytes = response.read()  # type: ignore[no-untyped-call]
        except OSError as err:
            raise ApiError(0, "TransportError", f"GET {path}: {err}") from err
        if not 200 <= response.status < 300:
            raise _log_error(response.status, response.reason or "", raw)
        return raw.decode("utf-8", "replace")


def _log_error(status: int, reason: str, raw: bytes) -> ApiError:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return ApiError(status, str(body.get("reason") or reason), str(body.get("message", "")))
    return ApiError(status, reason, raw.decode("utf-8", "replace")[:500])


def connect() -> ActionClient:
    """The client of the Job's ServiceAccount, or of the kubeconfig outside a cluster."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except k8s_config.ConfigException as in_cluster_error:
        try:
            # KUBECONFIG is read now, not when the kubernetes package was imported.
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=os.environ.get("KUBECONFIG") or None,
                client_configuration=configuration,
            )
        except (k8s_config.ConfigException, OSError, ValueError) as kubeconfig_error:
            raise ClusterConfigError(
                f"no cluster configuration: not running in a pod ({in_cluster_error}) "
                f"and no usable kubeconfig ({kubeconfig_error})"
            ) from kubeconfig_error
    return ActionClient(k8s.ApiClient(configuration), user_agent=_USER_AGENT)
