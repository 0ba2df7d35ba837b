"""Prometheus metrics of the reconciler (prefix ``kubernaut_``).

One :class:`ReconcilerMetrics` per process, on a registry the caller chooses
(tests pass their own :class:`CollectorRegistry`).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

_PHASE_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class ReconcilerMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.reconciles = Counter(
            "kubernaut_reconcile_total",
            "Reconciles by controller and result (success, requeue, conflict, error).",
            ["controller", "result"],
            registry=registry,
        )
        self.reconcile_seconds = Histogram(
            "kubernaut_reconcile_duration_seconds",
            "Time to reconcile one object (observe, decide and execute).",
            ["controller"],
            registry=registry,
        )
        self.reconcile_errors = Counter(
            "kubernaut_reconcile_errors_total",
            "Reconciles that failed and were requeued with backoff.",
            ["controller"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "kubernaut_workqueue_depth",
            "Keys waiting in a controller's work queue.",
            ["controller"],
            registry=registry,
        )
        self.phase_transitions = Counter(
            "kubernaut_phase_transitions_total",
            "Phase transitions written, by kind and phases.",
            ["kind", "from_phase", "to_phase"],
            registry=registry,
        )
        self.phase_seconds = Histogram(
            "kubernaut_phase_duration_seconds",
            "Time an object spent in a phase before leaving it.",
            ["kind", "phase"],
            buckets=_PHASE_BUCKETS,
            registry=registry,
        )
        self.api_writes = Counter(
            "kubernaut_api_writes_total",
            "Write requests sent to the API server, by verb and resource.",
            ["verb", "resource"],
            registry=registry,
        )
