"""Prometheus metrics of the policy engines (registered on the default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVALUATION_SECONDS = Histogram(
    "kubernaut_policy_evaluation_seconds",
    "Time to evaluate one policy query (one or more rules over one input).",
    ["query"],
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5),
)
EVALUATION_ERRORS = Counter(
    "kubernaut_policy_evaluation_errors_total",
    "Policy queries that failed with an evaluation error.",
    ["query"],
)
RELOAD_FAILURES = Counter(
    "kubernaut_policy_reload_failures_total",
    "Policy bundle loads that failed; the previous bundle stays in service.",
)
BUNDLE_INFO = Gauge(
    "kubernaut_policy_bundle_info",
    "The policy bundle in service (value 1), by content digest and evaluation mode "
    "(compiled: regorus VM program; interpreter: compiled mode off or unavailable).",
    ["sha256", "mode"],
)
INTERPRETER_FALLBACKS = Counter(
    "kubernaut_policy_interpreter_fallbacks_total",
    "Compiled-mode queries answered by the interpreter instead: the VM gave an "
    "undefined value (undefined) or failed (error).",
    ["reason"],
)
