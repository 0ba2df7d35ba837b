"""Counts of the API requests devcluster served, by client, verb, resource and answer.

For benchmarks and tests that check how many requests a client needs (e.g.
writes per workflow against the minimum). Thread-safe; the HTTP layer records
every request that reached a resource route::

    app.requests.snapshot() -> {RequestKey(agent, verb, resource, subresource, code): count}
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Final

WRITE_VERBS: Final = frozenset({"create", "update", "patch", "delete", "deletecollection"})


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


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[RequestKey] = Counter()

    def record(self, key: RequestKey) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[RequestKey, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
