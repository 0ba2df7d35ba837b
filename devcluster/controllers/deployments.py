"""Simulated Deployment and ReplicaSet controllers (the executor of :mod:`.rollout`).

One loop reconciles both kinds: a Deployment into its ReplicaSets and status, a
ReplicaSet into its pods (scheduled round-robin on schedulable Nodes; a
``devcluster-node`` is created when there is none) and status. Crash-looping
pods (see :mod:`.rollout`: the ``simulate``/``crashloop-pods`` annotations,
cleared by a rolling restart) count one more restart every
``crashloop_interval``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Iterable
from typing import Any

from devcluster.controllers import rollout
from devcluster.controllers.base import (
    Clock,
    controller_owner,
    controller_user,
    deleting,
    get_or_none,
    ignore_gone,
    parse_timestamp,
    resource,
    timestamp,
    utc_now,
)
from devcluster.controllers.loop import ControllerLoop, Source
from devcluster.errors import ApiError
from devcluster.resources import ResourceType
from devcluster.store import JsonObject, Store
from devcluster.watch import WatchEvent

_LOG = logging.getLogger("devcluster.controllers.deployments")
DEFAULT_NODE = "devcluster-node"
_DEPLOYMENT_USER = controller_user("deployment-controller")
_REPLICASET_USER = controller_user("replicaset-controller")
_CREATE_RETRY = 5.0
Key = tuple[str, str, str]


def _meta(obj: JsonObject) -> dict[str, Any]:
    meta: dict[str, Any] = obj["metadata"]
    return meta


class DeploymentController:
    def __init__(
        self, store: Store, *, crashloop_interval: float = 5.0, clock: Clock = utc_now
    ) -> None:
        self._store = store
        self._clock = clock
        self._crash_interval = crashloop_interval
        self._last_crash: dict[Key, float] = {}
        self._deployments = resource(store, "apps", "deployments")
        self._replicasets = resource(store, "apps", "replicasets")
        self._pods = resource(store, "", "pods")
        self._nodes = resource(store, "", "nodes")
        self._loop = ControllerLoop(
            store,
            "deployments",
            [
                Source(self._deployments, self._deployment_keys),
                Source(self._replicasets, self._replicaset_keys),
                Source(self._pods, self._pod_keys),
                Source(self._nodes, self._node_keys),
            ],
            self._reconcile,
        )

    def start(self) -> None:
        if not self._store.list_objects(self._nodes).items:
            ignore_gone(
                lambda: self._store.create(
                    self._nodes,
                    "",
                    {
                        "metadata": {
                            "name": DEFAULT_NODE,
                            "labels": {"kubernetes.io/hostname": DEFAULT_NODE},
                        },
                        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                    },
                )
            )
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    # ------------------------------------------------------------------ keys

    @staticmethod
    def _deployment_keys(event: WatchEvent) -> Iterable[Hashable]:
        meta = event.object["metadata"]
        return [("Deployment", str(meta.get("namespace", "")), str(meta["name"]))]

    @staticmethod
    def _replicaset_keys(event: WatchEvent) -> Iterable[Hashable]:
        meta = event.object["metadata"]
        namespace = str(meta.get("namespace", ""))
        keys: list[Hashable] = [("ReplicaSet", namespace, str(meta["name"]))]
        owner = controller_owner(event.object)
        if owner and owner[0] == "Deployment":
            keys.append(("Deployment", namespace, owner[1]))
        return keys

    @staticmethod
    def _pod_keys(event: WatchEvent) -> Iterable[Hashable]:
        owner = controller_owner(event.object)
        if owner and owner[0] == "ReplicaSet":
            return [("ReplicaSet", str(event.object["metadata"].get("namespace", "")), owner[1])]
        return []

    def _node_keys(self, _event: WatchEvent) -> Iterable[Hashable]:
        return [
            ("ReplicaSet", str(_meta(rs).get("namespace", "")), str(_meta(rs)["name"]))
            for rs in self._store.list_objects(self._replicasets).items
        ]

    def _reconcile(self, key: Hashable) -> float | None:
        assert isinstance(key, tuple)
        kind, namespace, name = key
        if kind == "Deployment":
            return self._reconcile_deployment(namespace, name)
        return self._reconcile_replicaset(namespace, name)

    # ------------------------------------------------------------ deployments

    def _reconcile_deployment(self, namespace: str, name: str) -> float | None:
        deployment = get_or_none(self._store, self._deployments, namespace, name)
        if deployment is None or deleting(deployment):
            return None
        spec = deployment.get("spec") or {}
        uid = str(_meta(deployment)["uid"])
        owned = [
            rs
            for rs in self._store.dependents(self._replicasets, namespace, uid)
            if rollout.owned_by(rs, uid)
        ]
        hash_value = rollout.template_hash(spec.get("template") or {})
        new_name = rollout.replicaset_name(name, hash_value)
        template = spec.get("template") or {}
        new = next((rs for rs in owned if rollout.same_template(rs, template)), None)
        if new is not None:
            new_name = str(_meta(new)["name"])
        highest = max((rollout.revision_of(rs) for rs in owned), default=0)
        paused = bool(spec.get("paused"))
        if new is None and not paused:
            replaced = max(owned, key=rollout.revision_of, default=None)
            cleared = rollout.clears_crashloop(template, replaced)
            new = self._store.create(
                self._replicasets,
                namespace,
                rollout.new_replicaset(
                    deployment, hash_value, highest + 1, crashloop_cleared=cleared
                ),
                user=_DEPLOYMENT_USER,
            ).object
            owned.append(new)
        elif new is not None and rollout.revision_of(new) < highest and not paused:
            new = self._set_revision(new, highest + 1)
            owned = [new if _meta(rs)["name"] == new_name else rs for rs in owned]
        if not paused:
            desired = int(spec.get("replicas", 1))
            for rs in owned:
                want = desired if new is not None and _meta(rs)["name"] == new_name else 0
                if int((rs.get("spec") or {}).get("replicas", 0)) != want:
                    self._scale(rs, want)
            limit = int(spec.get("revisionHistoryLimit", 10))
            old = [rs for rs in owned if _meta(rs)["name"] != new_name]
            for stale in rollout.history_to_delete(old, limit):
                self._delete(self._replicasets, namespace, str(stale["metadata"]["name"]))
        if new is not None:
            self._annotate_revision(deployment, str(rollout.revision_of(new)))
        return self._write_status(deployment, new, owned)

    def _set_revision(self, rs: JsonObject, revision: int) -> JsonObject:
        def change(current: JsonObject) -> JsonObject:
            annotations = current["metadata"].setdefault("annotations", {})
            annotations[rollout.REVISION] = str(revision)
            return current

        return self._store.modify(
            self._replicasets,
            str(_meta(rs)["namespace"]),
            str(_meta(rs)["name"]),
            change,
            user=_DEPLOYMENT_USER,
        ).object

    def _scale(self, rs: JsonObject, replicas: int) -> None:
        def change(current: JsonObject) -> JsonObject:
            current.setdefault("spec", {})["replicas"] = replicas
            if replicas:
                annotations = current["metadata"].setdefault("annotations", {})
                annotations[rollout.DESIRED_REPLICAS] = str(replicas)
            return current

        ignore_gone(
            lambda: self._store.modify(
                self._replicasets,
                str(_meta(rs)["namespace"]),
                str(_meta(rs)["name"]),
                change,
                user=_DEPLOYMENT_USER,
            )
        )

    def _annotate_revision(self, deployment: JsonObject, revision: str) -> None:
        annotations = _meta(deployment).get("annotations") or {}
        if annotations.get(rollout.REVISION) == revision:
            return

        def change(current: JsonObject) -> JsonObject:
            current["metadata"].setdefault("annotations", {})[rollout.REVISION] = revision
            return current

        ignore_gone(
            lambda: self._store.modify(
                self._deployments,
                str(_meta(deployment)["namespace"]),
                str(_meta(deployment)["name"]),
                change,
                user=_DEPLOYMENT_USER,
            )
        )

    def _write_status(
        self, deployment: JsonObject, new: JsonObject | None, owned: list[JsonObject]
    ) -> float | None:
        now = self._clock()
        deadline = int((deployment.get("spec") or {}).get("progressDeadlineSeconds", 600))
        since = parse_timestamp(rollout.progressing_since(deployment))
        remaining = (deadline - (now - since).total_seconds()) if since else float(deadline)
        status = rollout.deployment_status(
            deployment, new, owned, timestamp(now), deadline_passed=remaining <= 0
        )
        ignore_gone(
            lambda: self._store.modify(
                self._deployments,
                str(_meta(deployment)["namespace"]),
                str(_meta(deployment)["name"]),
                lambda current: {**current, "status": status},
                subresource="status",
                user=_DEPLOYMENT_USER,
            )
        )
        progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
        if progressing["reason"] == "ReplicaSetUpdated":
            return max(remaining, 0.5)
        return None

    # ------------------------------------------------------------ replicasets

    def _reconcile_replicaset(self, namespace: str, name: str) -> float | None:
        rs = get_or_none(self._store, self._replicasets, namespace, name)
        if rs is None or deleting(rs):
            self._last_crash.pop(("ReplicaSet", namespace, name), None)
            return None
        uid = str(_meta(rs)["uid"])
        pods = [
            pod
            for pod in self._store.dependents(self._pods, namespace, uid)
            if rollout.owned_by(pod, uid)
        ]
        want = int((rs.get("spec") or {}).get("replicas", 0))
        live: dict[int, JsonObject] = {}
        for pod in pods:
            index = rollout.pod_index(name, str(_meta(pod)["name"]))
            if deleting(pod):
                continue
            if index is None or index >= want:
                self._delete(self._pods, namespace, str(pod["metadata"]["name"]))
                continue
            live[index] = pod
        nodes = self._schedulable_nodes()
        for index in range(want):
            if index not in live:
                node = nodes[index % len(nodes)] if nodes else ""
                try:
                    live[index] = self._store.create(
                        self._pods,
                        namespace,
                        rollout.new_pod(rs, index, node),
                        user=_REPLICASET_USER,
                    ).object
                except ApiError as err:
                    if err.code != 409:  # 409: a pod of that name is still there
                        _LOG.warning(
                            "cannot create pod",
                            extra={"object": f"{namespace}/{name}", "error": err.message},
                        )
                    return _CREATE_RETRY if err.code != 409 else 0.5
        key: Key = ("ReplicaSet", namespace, name)
        crashes = {index: rollout.pod_crashes(rs, pod) for index, pod in live.items()}
        crashing = any(crashes.values())
        restart = crashing and (
            time.monotonic() - self._last_crash.get(key, time.monotonic()) >= self._crash_interval
        )
        if crashing and (restart or key not in self._last_crash):
            self._last_crash[key] = time.monotonic()
        current_pods = [
            self._settle_pod(
                pod, nodes, index, restart=restart and crashes[index], crashing=crashes[index]
            )
            for index, pod in live.items()
        ]
        status = rollout.replicaset_status(rs, [p for p in current_pods if p is not None])
        ignore_gone(
            lambda: self._store.modify(
                self._replicasets,
                namespace,
                name,
                lambda current: {**current, "status": status},
                subresource="status",
                user=_REPLICASET_USER,
            )
        )
        return self._crash_interval if crashing else None

    def _delete(self, rtype: ResourceType, namespace: str, name: str) -> None:
        user = _DEPLOYMENT_USER if rtype is self._replicasets else _REPLICASET_USER
        ignore_gone(lambda: self._store.delete(rtype, namespace, name, user=user))

    def _schedulable_nodes(self) -> list[str]:
        return sorted(
            str(node["metadata"]["name"])
            for node in self._store.list_objects(self._nodes).items
            if not (node.get("spec") or {}).get("unschedulable") and not deleting(node)
        )

    def _settle_pod(
        self, pod: JsonObject, nodes: list[str], index: int, *, restart: bool, crashing: bool
    ) -> JsonObject | None:
        namespace, name = str(_meta(pod)["namespace"]), str(_meta(pod)["name"])
        if not (pod.get("spec") or {}).get("nodeName") and nodes:

            def bind(current: JsonObject) -> JsonObject:
                current.setdefault("spec", {})["nodeName"] = nodes[index % len(nodes)]
                return current

            ignore_gone(
                lambda: self._store.modify(self._pods, namespace, name, bind, user=_REPLICASET_USER)
            )
        now = timestamp(self._clock())
        try:
            return self._store.modify(
                self._pods,
                namespace,
                name,
                lambda current: {
                    **current,
                    "status": rollout.pod_status(current, now, restart=restart, crashing=crashing),
                },
                subresource="status",
                user=controller_user("kubelet"),
            ).object
        except ApiError as err:
            if err.code == 404:
                return None
            raise
