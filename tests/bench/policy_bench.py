"""Policy evaluation latency of the shipped policies, one thread, embedded engine.

Run: .venv/bin/python tests/bench/policy_bench.py [--iterations N]
Prints p50/p99 latency and evaluations per second for each query the
admission pipeline makes, with a 10-step WorkflowExecution input.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webhook.policy import EmbeddedPolicyEngine

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def workflow_review(steps: int) -> dict[str, Any]:
    return {
        "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:kubernaut-system:reconciler", "groups": []},
        "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "WorkflowExecution"},
        "resource": {
            "group": "kubernaut.ai",
            "version": "v1alpha1",
            "resource": "workflowexecutions",
        },
        "subResource": "",
        "namespace": "shop",
        "name": "wfe-web",
        "dryRun": False,
        "object": {
            "apiVersion": "kubernaut.ai/v1alpha1",
            "kind": "WorkflowExecution",
            "metadata": {
                "name": "wfe-web",
                "namespace": "shop",
                "labels": {"kubernaut.ai/environment": "production"},
                "annotations": {"kubernaut.ai/created-by": "alice"},
            },
            "spec": {
                "remediationRequestRef": {"name": "rr-web"},
                "targetResource": {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "namespace": "shop",
                    "name": "web",
                },
                "workflowDefinition": {
                    "name": "scale-out",
                    "version": "1",
                    "steps": [
                        {
                            "stepNumber": n,
                            "name": f"scale-{n}",
                            "action": "scaleDeployment",
                            "parameters": {
                                "scaleDeployment": {
                                    "namespace": "shop",
                                    "deployment": "web",
                                    "replicas": 3,
                                }
                            },
                            "criticalStep": n == 1,
                            "timeout": "1m",
                            "maxRetries": 2,
                            "dependsOn": [n - 1] if n > 1 else [],
                            "rollbackSpec": {
                                "action": "scaleDeployment",
                                "parameters": {
                                    "scaleDeployment": {
                                        "namespace": "shop",
                                        "deployment": "web",
                                        "replicas": 2,
                                    }
                                },
                            },
                        }
                        for n in range(1, steps + 1)
                    ],
                },
                "executionStrategy": {
                    "approvalRequired": True,
                    "dryRunFirst": True,
                    "rollbackStrategy": "automatic",
                },
            },
        },
        "oldObject": None,
        "namespaceLabels": {"kubernetes.io/metadata.name": "shop"},
    }


def measure(name: str, call: Callable[[], object], iterations: int) -> float:
    for _ in range(50):
        call()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    rate = len(samples) / sum(samples)
    print(
        f"{name:<34} p50 {p50 * 1e6:8.1f} µs   p99 {p99 * 1e6:8.1f} µs   {rate:9.0f} evaluations/s"
    )
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    engine = EmbeddedPolicyEngine(POLICIES)
    review = workflow_review(args.steps)
    assert engine.admission_decision(review).allowed, engine.admission_decision(review)
    print(
        f"shipped policies, {args.steps}-step WorkflowExecution, "
        f"{args.iterations} iterations, one thread"
    )
    total = 0.0
    total += measure(
        "admission_decision (deny+warn)", lambda: engine.admission_decision(review), args.iterations
    )
    measure(
        "validation_decision (+approval)",
        lambda: engine.validation_decision(review),
        args.iterations,
    )
    total += measure("mutation_defaults", lambda: engine.mutation_defaults(review), args.iterations)
    total += measure("approval_denials", lambda: engine.approval_denials(review), args.iterations)
    print(
        f"{'mutation+admission+approval':<34} p50 {total * 1e6:8.1f} µs   "
        f"-> {1 / total:9.0f} reviews/s"
    )
    analysis = {"environment": "production", "confidence": 0.9, "actions": ["scaleDeployment"]}
    measure("require_approval", lambda: engine.require_approval(analysis), args.iterations)
    signal = {
        "signal": {"severity": "sev2"},
        "namespaceLabels": {"env": "production"},
        "targetLabels": {},
    }
    measure("classify", lambda: engine.classify(signal), args.iterations)
    target = {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 3},
    }
    condition = {
        "action": "restartDeployment",
        "parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
        "target": target,
    }
    measure(
        "precondition",
        lambda: engine.precondition("deployment_has_ready_replica", condition),
        args.iterations,
    )


if __name__ == "__main__":
    main()
