"""Prometheus metrics of the admission webhook (default registry).

The policy engine's own metrics (evaluation latency, reload failures, bundle
in service) live in :mod:`webhook.policy.metrics` and are served alongside.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "kubernaut_admission_requests_total",
    "Admission reviews answered, by kind, operation, decision and endpoint. "
    "decision is allowed, denied, error (denied because the pipeline failed), "
    "ignored (not a kubernaut resource) or malformed (HTTP 400).",
    ["kind", "operation", "decision", "endpoint"],
)
DURATION = Histogram(
    "kubernaut_admission_duration_seconds",
    "Time to decide one admission review, from the request body to the encoded answer.",
    ["kind", "operation", "decision", "endpoint"],
    buckets=(0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)

MALFORMED = "malformed"


def observe(kind: str, operation: str, decision: str, endpoint: str, seconds: float) -> None:
    REQUESTS.labels(kind, operation, decision, endpoint).inc()
    DURATION.labels(kind, operation, decision, endpoint).observe(seconds)
