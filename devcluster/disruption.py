"""PodDisruptionBudget arithmetic for the eviction subresource (pure).

After ``pkg/registry/core/pod/storage/eviction.go`` and the disruption
controller: a pod that is not running (Pending, Succeeded, Failed) is evicted
without looking at budgets; a pod covered by more than one budget cannot be
evicted (500); otherwise the budget's desired healthy count comes from
``minAvailable`` or ``maxUnavailable`` (percentages of the pods the selector
covers, rounded up) and a ready pod may go only while ``currentHealthy -
desiredHealthy >= 1``. An unready pod may go while the budget is healthy
(``unhealthyPodEvictionPolicy: IfHealthyBudget``, the default) or always
(``AlwaysAllow``). A refusal is 429 TooManyRequests with a DisruptionBudget cause.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from devcluster.errors import ApiError
from devcluster.selectors import SelectorError, selector_from_label_selector_object

_NOT_RUNNING = frozenset({"Pending", "Succeeded", "Failed"})


@dataclass(frozen=True)
class Budget:
    name: str
    expected: int
    healthy: int
    desired: int

    @property
    def disruptions_allowed(self) -> int:
        return max(0, self.healthy - self.desired)


def _ready(pod: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _scaled(value: Any, total: int) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%") and text[:-1].isdigit():
        return math.ceil(int(text[:-1]) * total / 100)
    return int(text) if text.isdigit() else 0


def covers(pdb: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Same namespace and a non-empty selector matching the pod's labels."""
    selector_doc = (pdb.get("spec") or {}).get("selector")
    if not selector_doc:
        return False
    try:
        selector = selector_from_label_selector_object(selector_doc)
    except SelectorError:
        return False
    pod_meta = pod.get("metadata") or {}
    return (pdb.get("metadata") or {}).get("namespace") == pod_meta.get(
        "namespace"
    ) and selector.matches(pod_meta.get("labels"))


def budget(pdb: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> Budget:
    covered = [
        pod
        for pod in pods
        if covers(pdb, pod) and not (pod.get("metadata") or {}).get("deletionTimestamp")
    ]
    expected = len(covered)
    healthy = sum(1 for pod in covered if _ready(pod))
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
    else:
        desired = _scaled(spec.get("minAvailable", 1), expected)
    return Budget(str((pdb.get("metadata") or {}).get("name", "")), expected, healthy, desired)


def check_eviction(
    pod: Mapping[str, Any], pdbs: Sequence[Mapping[str, Any]], pods: Sequence[Mapping[str, Any]]
) -> None:
    """Raise the API server's refusal when evicting ``pod`` now would break a budget."""
    if (pod.get("status") or {}).get("phase") in _NOT_RUNNING:
        return
    matching = [pdb for pdb in pdbs if covers(pdb, pod)]
    if not matching:
        return
    if len(matching) > 1:
        raise ApiError(
            500,
            "InternalError",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource "
            "does not support.",
        )
    pdb = matching[0]
    current = budget(pdb, pods)
    if not _ready(pod):
        policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
        if policy == "AlwaysAllow" or current.healthy >= current.desired:
            return
    elif current.disruptions_allowed >= 1:
        return
    raise ApiError(
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
        {
            "causes": [
                {
                    "reason": "DisruptionBudget",
                    "message": f"The disruption budget {current.name} needs {current.desired} "
                    f"healthy pods and has {current.healthy} currently",
                }
            ]
        },
    )
