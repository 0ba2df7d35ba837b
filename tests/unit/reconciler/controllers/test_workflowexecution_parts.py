"""The pure parts of the WorkflowExecution controller: plan, limits, names, health, observe."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from api.workflowexecution import WorkflowExecutionSpec
from reconciler.cache import Cache
from reconciler.controller import ClusterView
from reconciler.controllers.wfe_children import (
    KUBERNETES_EXECUTIONS,
    POSTCONDITIONS,
    PRECONDITIONS,
    execution_name,
)
from reconciler.controllers.wfe_monitor import DEPLOYMENTS, deployment_health, resource_health
from reconciler.controllers.wfe_plan import PhaseTimeouts, make_plan, phase_timeouts, step_limits
from reconciler.controllers.workflowexecution import WorkflowExecutionController
from reconciler.kube import KubeClient

JSON = dict[str, Any]
DEFAULTS = PhaseTimeouts(
    planning=timedelta(seconds=30),
    validating=timedelta(minutes=5),
    step=timedelta(minutes=5),
    monitoring=timedelta(minutes=10),
)
REPOSITORY = Path(__file__).resolve().parents[4]


def spec(dependencies: dict[int, list[int]], **strategy: Any) -> WorkflowExecutionSpec:
    steps = [
        {
            "stepNumber": number,
            "name": f"s{number}",
            "action": "cordonNode",
            "parameters": {"cordonNode": {"nodeName": "n1"}},
            "dependsOn": deps,
        }
        for number, deps in dependencies.items()
    ]
    return WorkflowExecutionSpec.model_validate(
        {
            "remediationRequestRef": {"name": "rr"},
            "targetResource": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
            "workflowDefinition": {"name": "w", "version": "1", "steps": steps},
            "executionStrategy": strategy,
        }
    )


@pytest.mark.parametrize(
    ("dependencies", "strategy", "levels", "expected"),
    [
        ({1: [], 2: [1], 3: [2]}, {}, [[1], [2], [3]], "sequential"),
        ({1: [], 2: [], 3: []}, {}, [[1, 2, 3]], "parallel"),
        ({1: [], 2: [1], 3: [1]}, {}, [[1], [2, 3]], "sequential-with-parallel"),
        ({1: [], 2: [], 3: []}, {"maxParallel": 1}, [[1, 2, 3]], "sequential"),
        ({1: []}, {}, [[1]], "sequential"),
    ],
)
def test_plan_levels_and_strategy(
    dependencies: dict[int, list[int]], strategy: JSON, levels: list[list[int]], expected: str
) -> None:
    plan = make_plan(spec(dependencies, **strategy))
    assert plan.levels == levels
    assert plan.strategy == expected


def test_phase_timeouts_take_what_the_spec_wrote() -> None:
    assert phase_timeouts({}, DEFAULTS) == DEFAULTS
    chosen = phase_timeouts({"timeouts": {"planning": "1m", "step": "90s"}}, DEFAULTS)
    assert chosen.planning == timedelta(minutes=1)
    assert chosen.step == timedelta(seconds=90)
    assert chosen.monitoring == DEFAULTS.monitoring


@pytest.mark.parametrize(
    ("step_retries", "cap", "expected"),
    [(None, None, 3), (5, None, 5), (None, 2, 2), (5, 2, 2), (1, 2, 1), (0, None, 0)],
)
def test_step_retries_are_the_steps_capped_by_the_strategy(
    step_retries: int | None, cap: int | None, expected: int
) -> None:
    strategy = {} if cap is None else {"maxRetries": cap}
    workflow = spec({1: []}, **strategy)
    step = workflow.workflow_definition.steps[0].model_copy(update={"max_retries": step_retries})
    limits = step_limits(step, workflow, DEFAULTS, default_max_retries=3)
    assert limits.max_retries == expected
    assert limits.deadline == DEFAULTS.step * (expected + 1)


def test_step_timeout_prefers_the_step_then_the_workflow() -> None:
    workflow = spec({1: []})
    step = workflow.workflow_definition.steps[0]
    assert step_limits(step, workflow, DEFAULTS, 0).timeout_text == "5m"
    timed = step.model_copy(update={"timeout": "45s"})
    assert step_limits(timed, workflow, DEFAULTS, 0).timeout == timedelta(seconds=45)


def test_child_names_are_stable_distinct_and_fit() -> None:
    assert execution_name("wfe", "step", 2) == "wfe-step-2"
    long = "w" * 253
    names = {execution_name(long, purpose, n) for purpose in ("step", "rollback") for n in (1, 2)}
    assert len(names) == 4
    assert all(len(name) <= 253 and name.endswith(("-1", "-2")) for name in names)
    assert execution_name(long, "step", 1) == execution_name(long, "step", 1)


def test_default_conditions_are_rules_of_the_execution_policy() -> None:
    rego = (REPOSITORY / "policies" / "execution" / "execution.rego").read_text()
    defined = set(re.findall(r"^([a-z_]+) := verdict\(", rego, re.MULTILINE))
    used = {rule for rules in (*PRECONDITIONS.values(), *POSTCONDITIONS.values()) for rule in rules}
    assert used <= defined


def rollout(**fields: int) -> JSON:
    values = {
        "generation": 2,
        "observed": 2,
        "replicas": 3,
        "current": 3,
        "updated": 3,
        "available": 3,
    }
    values.update(fields)
    return {
        "metadata": {"generation": values["generation"]},
        "spec": {"replicas": values["replicas"]},
        "status": {
            "observedGeneration": values["observed"],
            "replicas": values["current"],
            "updatedReplicas": values["updated"],
            "availableReplicas": values["available"],
        },
    }


@pytest.mark.parametrize(
    ("fields", "healthy", "problem"),
    [
        ({}, True, None),
        ({"observed": 1}, False, "generation 2 not yet observed"),
        ({"updated": 2}, False, "2 of 3 replicas updated"),
        ({"current": 4}, False, "1 old replica(s) pending termination"),
        ({"available": 2}, False, "2 of 3 replicas available"),
        ({"replicas": 0, "current": 0, "updated": 0, "available": 0}, True, None),
    ],
)
def test_deployment_health_follows_rollout_status(
    fields: dict[str, int], healthy: bool, problem: str | None
) -> None:
    health = deployment_health(("shop", "web"), rollout(**fields))
    assert health.healthy is healthy
    if problem is not None:
        assert problem in health.message


def test_resource_health_summary() -> None:
    good = deployment_health(("a", "a"), rollout())
    partial = deployment_health(("b", "b"), rollout(available=1))
    missing = deployment_health(("c", "c"), None)
    assert resource_health([]) == "Unknown"
    assert resource_health([good]) == "Healthy"
    assert resource_health([good, partial]) == "Degraded"
    assert resource_health([good, missing]) == "Unhealthy"


def test_observe_reads_owned_executions_and_monitored_deployments() -> None:
    executions, deployments = Cache(), Cache()
    mine = {
        "metadata": {
            "name": "wfe-step-1",
            "namespace": "shop",
            "ownerReferences": [{"uid": "wfe-uid", "controller": True}],
        }
    }
    merely_referencing = {
        "metadata": {
            "name": "other",
            "namespace": "shop",
            "ownerReferences": [{"uid": "wfe-uid"}, {"uid": "x", "controller": True}],
        }
    }
    executions.upsert(mine)
    executions.upsert(merely_referencing)
    deployments.upsert({"metadata": {"name": "web", "namespace": "shop"}})
    view = ClusterView(
        cast(KubeClient, None),
        {KUBERNETES_EXECUTIONS: [executions], DEPLOYMENTS: [deployments]},
    )
    obj: JSON = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {"name": "wfe", "namespace": "shop", "uid": "wfe-uid"},
        "spec": {
            "remediationRequestRef": {"name": "rr"},
            "targetResource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
            },
            "workflowDefinition": {
                "name": "w",
                "version": "1",
                "steps": [
                    {
                        "stepNumber": 1,
                        "name": "r",
                        "action": "restartDeployment",
                        "parameters": {
                            "restartDeployment": {"namespace": "shop", "deployment": "api"}
                        },
                    }
                ],
            },
        },
        "status": {
            "phase": "Executing",
            "stepStatuses": [
                {"stepNumber": 1, "action": "restartDeployment", "status": "Completed"}
            ],
        },
    }
    controller = WorkflowExecutionController()
    observed = controller.observe(obj, view)
    assert list(observed.executions) == ["wfe-step-1"]
    assert observed.deployments == {}

    obj["status"]["phase"] = "Monitoring"
    observed = controller.observe(obj, view)
    assert observed.deployments == {
        ("shop", "web"): {"metadata": {"name": "web", "namespace": "shop"}},
        ("shop", "api"): None,
    }
