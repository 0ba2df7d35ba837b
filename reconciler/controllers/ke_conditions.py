"""Pre- and postconditions: evaluating them over the live target, and judging the results.

:func:`evaluate_conditions` is the I/O half (the policy engine, possibly an
OPA server); :func:`judge` is pure: given what each condition said and when
the phase began, it decides whether to go on, keep polling or fail.

A condition that does not hold is polled until its ``timeout`` (counted from
the start of the phase); a precondition without a timeout is evaluated once,
a postcondition without one gets the controller's default. When the deadline
of a failing *required* condition passes, the execution fails; a failing
optional condition then becomes a warning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from api.durations import parse_duration
from api.kubernetesexecution import ActionCondition
from api.timestamps import format_timestamp
from webhook.policy import ConditionResult, PolicyError

__all__ = [
    "ConditionCheck",
    "ConditionPolicy",
    "ConditionVerdict",
    "evaluate_conditions",
    "execution_input",
    "failed_checks",
    "judge",
]

JSON = dict[str, Any]


class ConditionPolicy(Protocol):
    """What evaluates a condition: :class:`webhook.policy.PolicyEngine` fits."""

    def precondition(
        self, rule_name: str, execution_input: Mapping[str, Any]
    ) -> ConditionResult: ...


@dataclass(frozen=True)
class ConditionCheck:
    """What one condition said about the live target just now."""

    condition: ActionCondition
    passed: bool
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConditionVerdict:
    state: Literal["passed", "failed", "waiting"]
    results: list[JSON] = field(default_factory=list)
    """api ConditionResult wire JSON of every condition, in spec order."""
    failures: list[str] = field(default_factory=list)
    """Why required conditions failed (state ``failed``)."""
    warnings: list[str] = field(default_factory=list)
    """Why optional conditions failed after their timeout (any state)."""
    wait_seconds: float | None = None
    """When to evaluate again (state ``waiting``)."""


def execution_input(
    action: str, parameters: JSON, target_kind: str, target: JSON | None
) -> dict[str, Any]:
    """The ``kubernaut.execution`` input document (policies/README.md)."""
    return {
        "action": action,
        "parameters": parameters,
        "targetKind": target_kind,
        "target": target,
    }


def evaluate_conditions(
    policy: ConditionPolicy,
    conditions: Sequence[ActionCondition],
    policy_input: Mapping[str, Any],
) -> tuple[ConditionCheck, ...]:
    """Evaluate every condition; a policy error is a failed check that says so."""
    checks = []
    for condition in conditions:
        try:
            verdict = policy.precondition(condition.rego, policy_input)
        except PolicyError as err:
            checks.append(
                ConditionCheck(condition, False, (f"cannot evaluate {condition.rego}: {err}",))
            )
            continue
        checks.append(ConditionCheck(condition, verdict.allowed, tuple(verdict.messages)))
    return tuple(checks)


def failed_checks(
    conditions: Sequence[ActionCondition], message: str
) -> tuple[ConditionCheck, ...]:
    """Every condition failed for the same reason (the target could not be read)."""
    return tuple(ConditionCheck(condition, False, (message,)) for condition in conditions)


def _describe(check: ConditionCheck) -> str:
    reasons = "; ".join(check.messages) or "not satisfied"
    return f"{check.condition.type} ({check.condition.rego}): {reasons}"


def _result(check: ConditionCheck, now: datetime) -> JSON:
    result: JSON = {
        "conditionType": check.condition.type,
        "passed": check.passed,
        "evaluationTime": format_timestamp(now),
    }
    if not check.passed:
        result["errorMessage"] = "; ".join(check.messages) or "not satisfied"
    return result


def _timeout(condition: ActionCondition, default: timedelta) -> timedelta:
    return parse_duration(condition.timeout) if condition.timeout else default


def judge(
    checks: Sequence[ConditionCheck],
    *,
    started: datetime,
    now: datetime,
    default_timeout: timedelta,
    poll_interval: timedelta,
) -> ConditionVerdict:
    """Decide over the latest checks of a phase that began at ``started``.

    ``default_timeout`` applies to conditions without their own (zero: decide
    on the first evaluation). Waiting is asked for only while a failing
    condition's deadline is ahead; a failed required condition past its
    deadline fails at once, whatever the others still wait for.
    """
    failures: list[str] = []
    warnings: list[str] = []
    waits: list[float] = []
    for check in checks:
        if check.passed:
            continue
        left = (started + _timeout(check.condition, default_timeout) - now).total_seconds()
        if left > 0:
            waits.append(left)
        elif check.condition.required:
            failures.append(_describe(check))
        else:
            warnings.append(_describe(check))
    results = [_result(check, now) for check in checks]
    if failures:
        return ConditionVerdict("failed", results, failures, warnings)
    if waits:
        wait = min(poll_interval.total_seconds(), *waits)
        # Never ask for less than a millisecond: the deadline is met on the next pass.
        wait = max(math.ceil(wait * 1000) / 1000, 0.001)
        return ConditionVerdict("waiting", results, [], warnings, wait)
    return ConditionVerdict("passed", results, [], warnings)
