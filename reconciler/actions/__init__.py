"""The action runner: what a KubernetesExecution's Job runs (``kubernaut action run``).

One remediation action per process, performed with the Job's ServiceAccount;
the outcome is written as JSON to the container's termination message (its
shape is documented in :mod:`reconciler.actions.result`). Each action family
has its own module with the pure planning separated from the API calls.
"""
