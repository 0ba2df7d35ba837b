"""Pre- and postconditions: evaluation through the policy engine, and the pure verdict."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.kubernetesexecution import ActionCondition
from reconciler.controllers.ke_conditions import (
    ConditionCheck,
    evaluate_conditions,
    execution_input,
    failed_checks,
    judge,
)
from webhook.policy import ConditionResult, EmbeddedPolicyEngine, PolicyEvaluationError

STARTED = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
POLICIES = Path(__file__).resolve().parents[4] / "policies"
POLL = timedelta(seconds=5)


def _condition(
    name: str = "ready", *, required: bool = True, timeout: str | None = None
) -> ActionCondition:
    return ActionCondition(type=name, rego=f"rule_{name}", required=required, timeout=timeout)


def _check(passed: bool, **condition: Any) -> ConditionCheck:
    return ConditionCheck(_condition(**condition), passed, () if passed else ("no ready replica",))


def _judge(checks: list[ConditionCheck], seconds: float, default: timedelta) -> Any:
    return judge(
        checks,
        started=STARTED,
        now=STARTED + timedelta(seconds=seconds),
        default_timeout=default,
        poll_interval=POLL,
    )


def test_all_passed() -> None:
    verdict = _judge([_check(True), _check(True, name="other")], 0, timedelta(0))
    assert verdict.state == "passed"
    assert verdict.results == [
        {"conditionType": "ready", "passed": True, "evaluationTime": "2026-11-29T08:00:00Z"},
        {"conditionType": "other", "passed": True, "evaluationTime": "2026-11-29T08:00:00Z"},
    ]


def test_no_conditions_pass() -> None:
    assert _judge([], 0, timedelta(0)).state == "passed"


def test_required_without_timeout_fails_at_once() -> None:
    verdict = _judge([_check(False)], 0, timedelta(0))
    assert verdict.state == "failed"
    assert verdict.failures == ["ready (rule_ready): no ready replica"]
    assert verdict.results[0]["errorMessage"] == "no ready replica"


def test_optional_failure_is_a_warning() -> None:
    verdict = _judge([_check(False, required=False), _check(True, name="b")], 0, timedelta(0))
    assert verdict.state == "passed"
    assert verdict.warnings == ["ready (rule_ready): no ready replica"]


@pytest.mark.parametrize(
    ("seconds", "state", "wait"),
    [
        (0, "waiting", 5.0),  # the poll interval
        (28, "waiting", 2.0),  # never beyond the deadline
        (30, "failed", None),
        (31, "failed", None),
    ],
)
def test_condition_with_timeout_is_polled_until_its_deadline(
    seconds: float, state: str, wait: float | None
) -> None:
    verdict = _judge([_check(False, timeout="30s")], seconds, timedelta(0))
    assert verdict.state == state
    assert verdict.wait_seconds == wait


def test_default_timeout_applies_to_conditions_without_one() -> None:
    assert _judge([_check(False)], 60, timedelta(minutes=2)).state == "waiting"
    assert _judge([_check(False)], 120, timedelta(minutes=2)).state == "failed"


def test_a_failed_required_condition_ends_the_wait_for_others() -> None:
    checks = [_check(False), _check(False, name="slow", timeout="10m")]
    assert _judge(checks, 0, timedelta(0)).state == "failed"


def test_optional_condition_is_waited_for_until_its_timeout() -> None:
    checks = [_check(False, required=False, timeout="1m")]
    assert _judge(checks, 10, timedelta(0)).state == "waiting"
    late = _judge(checks, 60, timedelta(0))
    assert (late.state, len(late.warnings)) == ("passed", 1)


class _Policy:
    def __init__(self, answers: Mapping[str, ConditionResult | Exception]) -> None:
        self.answers = answers
        self.inputs: list[Mapping[str, Any]] = []

    def precondition(self, rule_name: str, execution_input: Mapping[str, Any]) -> ConditionResult:
        self.inputs.append(execution_input)
        answer = self.answers[rule_name]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_evaluate_conditions_passes_the_input_and_turns_errors_into_failures() -> None:
    policy = _Policy(
        {
            "rule_a": ConditionResult(True, ()),
            "rule_b": ConditionResult(False, ("too few",)),
            "rule_c": PolicyEvaluationError("OPA unreachable"),
        }
    )
    document = execution_input("restartDeployment", {"restartDeployment": {}}, "Deployment", None)
    checks = evaluate_conditions(
        policy, [_condition("a"), _condition("b"), _condition("c")], document
    )
    assert [(check.passed, check.messages) for check in checks] == [
        (True, ()),
        (False, ("too few",)),
        (False, ("cannot evaluate rule_c: OPA unreachable",)),
    ]
    assert policy.inputs[0] == {
        "action": "restartDeployment",
        "parameters": {"restartDeployment": {}},
        "targetKind": "Deployment",
        "target": None,
    }


def test_failed_checks_share_one_reason() -> None:
    checks = failed_checks([_condition("a"), _condition("b")], "cannot read the target")
    assert all(
        not check.passed and check.messages == ("cannot read the target",) for check in checks
    )


def test_shipped_policy_blocks_a_restart_without_a_ready_replica() -> None:
    engine = EmbeddedPolicyEngine(POLICIES)
    condition = ActionCondition(type="ready", rego="deployment_has_ready_replica")
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 3},
        "status": {"replicas": 3, "readyReplicas": 0},
    }
    parameters = {"restartDeployment": {"namespace": "shop", "deployment": "web"}}
    blocked = evaluate_conditions(
        engine,
        [condition],
        execution_input("restartDeployment", parameters, "Deployment", deployment),
    )
    assert not blocked[0].passed
    assert "has no ready replica" in blocked[0].messages[0]
    deployment["status"]["readyReplicas"] = 1
    allowed = evaluate_conditions(
        engine,
        [condition],
        execution_input("restartDeployment", parameters, "Deployment", deployment),
    )
    assert allowed[0].passed
