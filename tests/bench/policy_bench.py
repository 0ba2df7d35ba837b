"""Policy evaluation latency of the shipped policies, one thread, embedded engine.

Run: .venv/bin/python tests/bench/policy_bench.py [--iterations N] [--steps N]
Prints p50/p99 latency of each query of the admission pipeline and the
reconciler with the interpreter and in compiled mode side by side, the
per-review total (validation_decision + mutation_defaults of a 10-step
WorkflowExecution CREATE), and the cost of converting the input alone.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic_core
import regorus

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


Row = tuple[float, float]  # p50, p99 in seconds


def measure(call: Callable[[], object], iterations: int) -> Row:
    for _ in range(50):
        call()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples), samples[max(int(len(samples) * 0.99) - 1, 0)]


def print_header(title: str) -> None:
    print(f"\n{title}")
    print(
        f"{'':<34} {'interpreter p50':>15} {'p99':>9}   {'compiled p50':>12} {'p99':>9}   "
        f"{'speed-up':>8}"
    )


def print_row(name: str, interpreted: Row, compiled: Row) -> None:
    print(
        f"{name:<34} {interpreted[0] * 1e6:12.1f} µs {interpreted[1] * 1e6:6.1f} µs"
        f"   {compiled[0] * 1e6:9.1f} µs {compiled[1] * 1e6:6.1f} µs"
        f"   {interpreted[0] / compiled[0]:7.1f}x"
    )


def queries(review: dict[str, Any]) -> list[tuple[str, Callable[[EmbeddedPolicyEngine], object]]]:
    analysis = {"environment": "production", "confidence": 0.9, "actions": ["scaleDeployment"]}
    signal = {
        "signal": {"severity": "sev2"},
        "namespaceLabels": {"env": "production"},
        "targetLabels": {},
    }
    condition = {
        "action": "restartDeployment",
        "parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
        "target": {
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 3},
            "status": {"readyReplicas": 3},
        },
    }
    return [
        ("admission_decision (deny+warn)", lambda engine: engine.admission_decision(review)),
        ("validation_decision (+approval)", lambda engine: engine.validation_decision(review)),
        ("mutation_defaults", lambda engine: engine.mutation_defaults(review)),
        ("approval_denials", lambda engine: engine.approval_denials(review)),
        ("require_approval (interpreter)", lambda engine: engine.require_approval(analysis)),
        ("classify", lambda engine: engine.classify(signal)),
        (
            "precondition",
            lambda engine: engine.precondition("deployment_has_ready_replica", condition),
        ),
    ]


def review_total(engine: EmbeddedPolicyEngine, review: dict[str, Any]) -> None:
    engine.validation_decision(review)
    engine.mutation_defaults(review)


def conversions(review: dict[str, Any], iterations: int) -> None:
    """Input conversion alone: what each mode pays before any rule runs."""
    engine = regorus.Engine()
    vm = regorus.Rvm()
    text = json.dumps(review)
    rows = [
        ("json.dumps", lambda: json.dumps(review)),
        ("pydantic_core.to_json (compiled)", lambda: pydantic_core.to_json(review).decode()),
        ("Engine.set_input (interpreter)", lambda: engine.set_input(review)),
        ("Engine.set_input_json", lambda: engine.set_input_json(text)),
        ("Rvm.set_input_json (compiled)", lambda: vm.set_input_json(text)),
    ]
    print(f"\ninput conversion, {len(text)} bytes of JSON")
    for name, call in rows:
        p50, p99 = measure(call, iterations)
        print(f"{name:<34} p50 {p50 * 1e6:8.1f} µs   p99 {p99 * 1e6:8.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    interpreter = EmbeddedPolicyEngine(POLICIES, compiled=False)
    compiled = EmbeddedPolicyEngine(POLICIES)
    if compiled.mode != "compiled":
        raise SystemExit(f"compiled mode is unavailable: {compiled.status().detail}")
    review = workflow_review(args.steps)
    for engine in (interpreter, compiled):
        decision = engine.validation_decision(review)
        if not decision.allowed:
            raise SystemExit(f"the benchmark review is denied: {decision.deny}")
    print(
        f"shipped policies, {args.steps}-step WorkflowExecution CREATE, "
        f"{args.iterations} iterations per query, one thread"
    )
    print_header("per query")
    for name, call in queries(review):
        print_row(
            name,
            measure(functools.partial(call, interpreter), args.iterations),
            measure(functools.partial(call, compiled), args.iterations),
        )
    print_header("per review (validation_decision + mutation_defaults)")
    interpreted_total = measure(lambda: review_total(interpreter, review), args.iterations)
    compiled_total = measure(lambda: review_total(compiled, review), args.iterations)
    print_row("total", interpreted_total, compiled_total)
    print(
        f"{'':<34} {1 / interpreted_total[0]:12.0f} /s {'':>9}   "
        f"{1 / compiled_total[0]:9.0f} /s   (policy work alone, p50)"
    )
    conversions(review, args.iterations)


if __name__ == "__main__":
    main()
