"""The Deployment and ReplicaSet controllers' decisions (pure).

* A ReplicaSet per pod template: ``<deployment>-<hash>``, the hash an FNV-32a
  of the template rendered in the API server's safe alphabet, also set as the
  ``pod-template-hash`` label of its selector, template and pods.
* ``deployment.kubernetes.io/revision``: a new ReplicaSet gets the highest
  revision plus one; a rollback to an older template moves that ReplicaSet to
  a new highest revision, as the real controller does (so ``kubectl rollout
  undo`` and the action runner's rollbackDeployment work).
* Rollouts are immediate: the current ReplicaSet is scaled to
  ``spec.replicas`` and every older one to 0; scaled-down ReplicaSets beyond
  ``revisionHistoryLimit`` are deleted, oldest revision first.
* Pods are ``<replicaset>-<index>``, one per replica.

Crash loops (pod-template annotations, for demos and end-to-end tests):

* ``devcluster.kubernaut.ai/simulate: crashloop`` keeps the pods not ready in
  ``CrashLoopBackOff`` with a rising restart count;
* ``devcluster.kubernaut.ai/crashloop-pods: "N"`` limits that to the first N
  pods (indexes ``0..N-1``); the others run and are ready, so the Deployment
  has ready replicas but is not available;
* a rolling restart clears the crash loop, as restarting a workload whose
  pods are stuck on transient state does: when the template gets a new
  ReplicaSet whose ``kubectl.kubernetes.io/restartedAt`` differs from the one
  of the ReplicaSet it replaces (``kubectl rollout restart``, the
  restartDeployment action), that new ReplicaSet is marked
  ``devcluster.kubernaut.ai/crashloop-cleared: "true"`` and its pods run. Later
  template changes keep the mark (it is the same, repaired workload); the
  crash loop starts again only when the simulate annotation newly appears, or
  when a rollback returns to a ReplicaSet that still crash-loops.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

JsonObject = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
TEMPLATE_HASH = "pod-template-hash"
SIMULATE = "devcluster.kubernaut.ai/simulate"
CRASHLOOP = "crashloop"
CRASHLOOP_PODS = "devcluster.kubernaut.ai/crashloop-pods"
CRASHLOOP_CLEARED = "devcluster.kubernaut.ai/crashloop-cleared"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Mapping[str, Any]) -> str:
    """FNV-32a of the template's canonical JSON, its decimal digits in the safe alphabet."""
    value = 0x811C9DC5
    for byte in json.dumps(template, sort_keys=True, separators=(",", ":")).encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in str(value))


def _semantic(value: Any) -> Any:
    """Drop empty maps and lists: the API machinery's semantic equality treats them as unset."""
    if isinstance(value, dict):
        cleaned = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def same_template(replicaset: Mapping[str, Any], template: Mapping[str, Any]) -> bool:
    """``EqualIgnoreHash``: the ReplicaSet's template equals ``template`` but for the hash label."""
    ours = copy.deepcopy(dict((replicaset.get("spec") or {}).get("template") or {}))
    ours.get("metadata", {}).get("labels", {}).pop(TEMPLATE_HASH, None)
    return bool(_semantic(ours) == _semantic(dict(template)))


def replicaset_name(deployment: str, hash_value: str) -> str:
    return f"{deployment}-{hash_value}"


def pod_name(replicaset: str, index: int) -> str:
    return f"{replicaset}-{index}"


def pod_index(replicaset: str, name: str) -> int | None:
    prefix = f"{replicaset}-"
    rest = name[len(prefix) :] if name.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def revision_of(obj: Mapping[str, Any]) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
    return int(value) if str(value).isdigit() else 0


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    return any(
        ref.get("controller") and ref.get("uid") == uid
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
    )


def owner_ref(owner: Mapping[str, Any]) -> JsonObject:
    meta = owner["metadata"]
    return {
        "apiVersion": str(owner.get("apiVersion", "")),
        "kind": str(owner.get("kind", "")),
        "name": str(meta["name"]),
        "uid": str(meta["uid"]),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def new_replicaset(
    deployment: Mapping[str, Any],
    hash_value: str,
    revision: int,
    *,
    crashloop_cleared: bool = False,
) -> JsonObject:
    """The ReplicaSet for the deployment's current template (created with 0 replicas)."""
    meta = deployment["metadata"]
    spec = deployment.get("spec") or {}
    template = copy.deepcopy(spec.get("template") or {})
    template_meta = template.setdefault("metadata", {})
    template_meta.setdefault("labels", {})[TEMPLATE_HASH] = hash_value
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[TEMPLATE_HASH] = hash_value
    replicas = int(spec.get("replicas", 1))
    annotations = {
        REVISION: str(revision),
        DESIRED_REPLICAS: str(replicas),
        MAX_REPLICAS: str(replicas + max_surge(deployment)),
    }
    if crashloop_cleared:
        annotations[CRASHLOOP_CLEARED] = "true"
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": replicaset_name(str(meta["name"]), hash_value),
            "namespace": meta["namespace"],
            "labels": dict(template_meta["labels"]),
            "annotations": annotations,
            "ownerReferences": [owner_ref(deployment)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": template},
    }


def _resolve(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = str(value or "0")
    if text.endswith("%") and text[:-1].isdigit():
        share = int(text[:-1]) * total / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(text) if text.isdigit() else 0


def _rolling(deployment: Mapping[str, Any]) -> Mapping[str, Any]:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    return strategy.get("rollingUpdate") or {} if strategy.get("type") != "Recreate" else {}


def max_surge(deployment: Mapping[str, Any]) -> int:
    replicas = int((deployment.get("spec") or {}).get("replicas", 1))
    return _resolve(_rolling(deployment).get("maxSurge", 0), replicas, round_up=True)


def max_unavailable(deployment: Mapping[str, Any]) -> int:
    spec = deployment.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        return replicas
    return min(
        replicas, _resolve(_rolling(deployment).get("maxUnavailable", 0), replicas, round_up=False)
    )


def history_to_delete(
    old_replicasets: Sequence[Mapping[str, Any]], limit: int
) -> list[Mapping[str, Any]]:
    """Scaled-down old ReplicaSets beyond ``revisionHistoryLimit``, oldest revision first."""
    idle = sorted(
        (
            rs
            for rs in old_replicasets
            if int((rs.get("spec") or {}).get("replicas", 0)) == 0
            and int((rs.get("status") or {}).get("replicas", 0)) == 0
        ),
        key=revision_of,
    )
    excess = len(idle) - max(limit, 0)
    return idle[:excess] if excess > 0 else []


# -- pods -----------------------------------------------------------------------------


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def crashlooping(obj: Mapping[str, Any]) -> bool:
    """The object (a pod, or a pod template) carries the crash-loop simulation."""
    return _annotations(obj).get(SIMULATE) == CRASHLOOP


def _template_of(replicaset: Mapping[str, Any]) -> Mapping[str, Any]:
    return (replicaset.get("spec") or {}).get("template") or {}


def clears_crashloop(template: Mapping[str, Any], replaced: Mapping[str, Any] | None) -> bool:
    """Whether a new ReplicaSet for ``template`` starts with its crash loop cleared.

    ``replaced`` is the ReplicaSet it supersedes (the newest revision so far).
    A restart (a changed ``restartedAt``) of a crash-looping template clears
    the loop; a template change of an already cleared workload keeps it
    cleared; a template that newly simulates a crash loop crash-loops.
    """
    if not crashlooping(template) or replaced is None:
        return False
    previous = _template_of(replaced)
    if not crashlooping(previous):
        return False
    if _annotations(replaced).get(CRASHLOOP_CLEARED) == "true":
        return True
    return _annotations(template).get(RESTARTED_AT) != _annotations(previous).get(RESTARTED_AT)


def _crashing_pods(annotations: Mapping[str, Any]) -> int | None:
    """The ``crashloop-pods`` limit; None (all pods) when absent or not a count."""
    text = str(annotations.get(CRASHLOOP_PODS, "")).strip()
    return int(text) if text.isdigit() else None


def pod_crashes(replicaset: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether ``pod`` of ``replicaset`` crash-loops under the simulation."""
    if not crashlooping(pod) or _annotations(replicaset).get(CRASHLOOP_CLEARED) == "true":
        return False
    limit = _crashing_pods(_annotations(pod))
    if limit is None:
        return True
    rs_name = str((replicaset.get("metadata") or {}).get("name", ""))
    index = pod_index(rs_name, str((pod.get("metadata") or {}).get("name", "")))
    return index is not None and index < limit


def new_pod(replicaset: Mapping[str, Any], index: int, node: str) -> JsonObject:
    meta = replicaset["metadata"]
    template = (replicaset.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    spec = copy.deepcopy(template.get("spec") or {})
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(str(meta["name"]), index),
            "namespace": meta["namespace"],
            "labels": dict(template_meta.get("labels") or {}),
            "annotations": dict(template_meta.get("annotations") or {}),
            "ownerReferences": [owner_ref(replicaset)],
        },
        "spec": spec,
    }


def _condition(kind: str, ok: bool, since: str, reason: str = "") -> JsonObject:
    condition: JsonObject = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastTransitionTime": since,
    }
    if reason:
        condition["reason"] = reason
    return condition


def pod_status(
    pod: Mapping[str, Any], now: str, *, restart: bool = False, crashing: bool | None = None
) -> JsonObject:
    """A scheduled pod's status: Running and Ready, or crash-looping.

    Times already recorded are kept, so recomputing an unchanged pod changes
    nothing; ``restart`` counts one more crash of a crash-looping pod.
    ``crashing`` is whether it crash-loops (:func:`pod_crashes`); None reads
    the pod's own simulate annotation.
    """
    current = pod.get("status") or {}
    spec = pod.get("spec") or {}
    if not spec.get("nodeName"):
        return {
            "phase": "Pending",
            "conditions": [_condition("PodScheduled", False, now, "Unschedulable")],
            "qosClass": "BestEffort",
        }
    started = str(current.get("startTime") or now)
    if crashing is None:
        crashing = crashlooping(pod)
    previous = {s.get("name"): s for s in current.get("containerStatuses") or []}
    statuses = []
    for container in spec.get("containers") or []:
        name = str(container.get("name", ""))
        before = previous.get(name) or {}
        count = int(before.get("restartCount", 0))
        entry: JsonObject = {
            "name": name,
            "image": str(container.get("image", "")),
            "imageID": "",
            "ready": not crashing,
            "started": not crashing,
            "restartCount": count + 1 if crashing and restart else count,
        }
        if crashing:
            entry["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off restarting failed container {name}",
                }
            }
            entry["lastState"] = {
                "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": started,
                    "finishedAt": now if restart else started,
                }
            }
            if not restart and "lastState" in before:
                entry["lastState"] = before["lastState"]
        else:
            running = ((before.get("state") or {}).get("running") or {}).get("startedAt")
            entry["state"] = {"running": {"startedAt": running or started}}
        statuses.append(entry)
    was_ready = {
        c.get("type"): c for c in current.get("conditions") or [] if c.get("type") == "Ready"
    }.get("Ready")
    ready_since = (
        str(was_ready.get("lastTransitionTime"))
        if was_ready and (was_ready.get("status") == "True") == (not crashing)
        else now
    )
    reason = "ContainersNotReady" if crashing else ""
    return {
        "phase": "Running",
        "startTime": started,
        "hostIP": "10.0.0.1",
        "podIP": current.get("podIP") or "10.244.0.2",
        "conditions": [
            _condition("PodScheduled", True, started),
            _condition("Initialized", True, started),
            _condition("ContainersReady", not crashing, ready_since, reason),
            _condition("Ready", not crashing, ready_since, reason),
        ],
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }


def pod_ready(pod: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def replicaset_status(
    replicaset: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> JsonObject:
    ready = sum(1 for pod in pods if pod_ready(pod))
    return {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": int((replicaset.get("metadata") or {}).get("generation", 1)),
    }


def _keep_times(previous: Mapping[str, Any] | None, condition: JsonObject) -> JsonObject:
    if (
        previous
        and previous.get("status") == condition["status"]
        and previous.get("reason") == condition["reason"]
    ):
        condition["lastUpdateTime"] = previous.get("lastUpdateTime", condition["lastUpdateTime"])
        condition["lastTransitionTime"] = previous.get(
            "lastTransitionTime", condition["lastTransitionTime"]
        )
    elif previous and previous.get("status") == condition["status"]:
        condition["lastTransitionTime"] = previous.get(
            "lastTransitionTime", condition["lastTransitionTime"]
        )
    return condition


def deployment_status(
    deployment: Mapping[str, Any],
    new_rs: Mapping[str, Any] | None,
    replicasets: Sequence[Mapping[str, Any]],
    now: str,
    *,
    deadline_passed: bool = False,
) -> JsonObject:
    """Status counts and the Available/Progressing conditions of the real controller."""
    spec = deployment.get("spec") or {}
    desired = int(spec.get("replicas", 1))

    def count(rs: Mapping[str, Any] | None, field: str) -> int:
        return int(((rs or {}).get("status") or {}).get(field, 0))

    total = sum(count(rs, "replicas") for rs in replicasets)
    ready = sum(count(rs, "readyReplicas") for rs in replicasets)
    available = sum(count(rs, "availableReplicas") for rs in replicasets)
    updated = count(new_rs, "replicas")
    previous = {c.get("type"): c for c in (deployment.get("status") or {}).get("conditions") or []}
    has_minimum = available >= desired - max_unavailable(deployment)
    available_condition = _keep_times(
        previous.get("Available"),
        {
            "type": "Available",
            "status": "True" if has_minimum else "False",
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": "MinimumReplicasAvailable" if has_minimum else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if has_minimum
            else "Deployment does not have minimum availability.",
        },
    )
    rs_name = str(((new_rs or {}).get("metadata") or {}).get("name", ""))
    complete = updated == desired == total and available == desired
    if complete:
        progressing = ("True", "NewReplicaSetAvailable", "has successfully progressed.")
    elif deadline_passed:
        progressing = ("False", "ProgressDeadlineExceeded", "has timed out progressing.")
    else:
        progressing = ("True", "ReplicaSetUpdated", "is progressing.")
    progressing_condition = _keep_times(
        previous.get("Progressing"),
        {
            "type": "Progressing",
            "status": progressing[0],
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": progressing[1],
            "message": f'ReplicaSet "{rs_name}" {progressing[2]}',
        },
    )
    status: JsonObject = {
        "observedGeneration": int((deployment.get("metadata") or {}).get("generation", 1)),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": [available_condition, progressing_condition],
    }
    if desired - available > 0:
        status["unavailableReplicas"] = desired - available
    return {key: value for key, value in status.items() if value != 0 or key == "replicas"}


def progressing_since(deployment: Mapping[str, Any]) -> str:
    """When the current rollout last made progress (Progressing's lastUpdateTime)."""
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if (
            condition.get("type") == "Progressing"
            and condition.get("reason") == "ReplicaSetUpdated"
        ):
            return str(condition.get("lastUpdateTime") or "")
    return ""
