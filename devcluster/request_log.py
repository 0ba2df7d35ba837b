"""Counts of the API requests devcluster served, by client, verb, resource and answer.

For benchmarks and tests that check how many requests a client needs (e.g.
writes per workflow against the minimum). Thread-safe; the HTTP layer records
every request that reached a resource route, and how long devcluster took to
answer it (arrival to answer: admission webhooks included, watch streams not)::

    app.requests.snapshot() -> {RequestKey(agent, verb, resource, subresource, code): count}
    app.requests.latencies() -> {(agent, write): [count per LATENCY_BOUNDS_MS bucket]}
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

WRITE_VERBS: Final = frozenset({"create", "update", "patch", "delete", "deletecollection"})
LATENCY_BOUNDS_MS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
"""Upper bounds of the latency buckets; one more bucket holds everything slower."""


@dataclass(frozen=True, order=True)
class RequestKey:
    agent: str
    """The client's User-Agent product (before the first ``/`` or space), e.g. ``kubectl``."""
    verb: str
    """Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection."""
    resource: str
    """``<group>/<plural>``, or ``<plural>`` for the core group."""
    subresource: str
    code: int
    """HTTP status of the answer (200 for a watch stream)."""

    @property
    def write(self) -> bool:
        return self.verb in WRITE_VERBS


def user_agent_product(header: str) -> str:
    """``kubernaut-reconciler`` of ``kubernaut-reconciler/1.0 (linux)``; ``""`` when absent."""
    return header.strip().split("/", 1)[0].split(" ", 1)[0]


def latency_bucket(seconds: float) -> int:
    """Index of the :data:`LATENCY_BOUNDS_MS` bucket holding ``seconds``."""
    return bisect.bisect_left(LATENCY_BOUNDS_MS, seconds * 1000)


def bucket_percentile(buckets: Sequence[int], fraction: float) -> float:
    """Upper bound (ms) of the bucket holding the ``fraction`` quantile; inf past the last."""
    total = sum(buckets)
    if total == 0:
        return float("nan")
    rank = fraction * total
    seen = 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= rank and count:
            return float(LATENCY_BOUNDS_MS[index]) if index < len(LATENCY_BOUNDS_MS) else math.inf
    return math.inf


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[RequestKey] = Counter()
        self._latencies: dict[tuple[str, bool], list[int]] = {}

    def record(self, key: RequestKey, seconds: float | None = None) -> None:
        """Count one answered request; ``seconds``: how long answering it took."""
        with self._lock:
            self._counts[key] += 1
            if seconds is not None:
                buckets = self._latencies.setdefault(
                    (key.agent, key.write), [0] * (len(LATENCY_BOUNDS_MS) + 1)
                )
                buckets[latency_bucket(seconds)] += 1

    def snapshot(self) -> dict[RequestKey, int]:
        with self._lock:
            return dict(self._counts)

    def latencies(self) -> dict[tuple[str, bool], list[int]]:
        """Per (agent, write?): request counts per :data:`LATENCY_BOUNDS_MS` bucket."""
        with self._lock:
            return {key: list(buckets) for key, buckets in self._latencies.items()}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._latencies.clear()
