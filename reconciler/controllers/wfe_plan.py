"""Planning a workflow: execution levels, strategy, and the time and retries each step gets.

Pure functions over the typed spec. The plan is recorded in
``status.executionPlan``; the controller launches steps as soon as their
dependencies completed, in level order, never more than ``maxParallel`` at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from api.dag import topological_levels
from api.durations import format_duration, parse_duration
from api.workflow import WorkflowStep
from api.workflowexecution import ExecutionPlan, WorkflowExecutionSpec

__all__ = [
    "PhaseTimeouts",
    "StepLimits",
    "execution_order",
    "make_plan",
    "phase_timeouts",
    "step_limits",
]


@dataclass(frozen=True)
class PhaseTimeouts:
    """Time allowed per phase and per step attempt."""

    planning: timedelta
    validating: timedelta
    """Includes the dry run and the wait for approval."""
    step: timedelta
    monitoring: timedelta


@dataclass(frozen=True)
class StepLimits:
    """What one step's KubernetesExecution is given."""

    timeout: timedelta
    """Per attempt."""
    timeout_text: str
    max_retries: int

    @property
    def deadline(self) -> timedelta:
        """How long the workflow waits for the step: every attempt its full timeout."""
        return self.timeout * (self.max_retries + 1)


def make_plan(spec: WorkflowExecutionSpec) -> ExecutionPlan:
    """Topological levels of the step DAG and the strategy they amount to.

    ``sequential`` when at most one step can ever run at a time (every level
    has one step, or maxParallel is 1), ``parallel`` when every step is
    independent, ``sequential-with-parallel`` otherwise. Raises ValueError for
    an invalid step graph (the webhook prevents one from being stored).
    """
    levels = topological_levels(spec.workflow_definition.steps)
    max_parallel = spec.execution_strategy.max_parallel
    strategy: Literal["sequential", "parallel", "sequential-with-parallel"]
    if max_parallel == 1 or all(len(level) == 1 for level in levels):
        strategy = "sequential"
    elif len(levels) == 1:
        strategy = "parallel"
    else:
        strategy = "sequential-with-parallel"
    return ExecutionPlan(levels=levels, strategy=strategy, max_parallel=max_parallel)


def execution_order(spec: WorkflowExecutionSpec) -> list[int]:
    """Step numbers in launch priority: level by level, by step number within a level."""
    return [number for level in make_plan(spec).levels for number in level]


def phase_timeouts(raw_spec: Mapping[str, Any], defaults: PhaseTimeouts) -> PhaseTimeouts:
    """The spec's ``timeouts`` where set, ``defaults`` for the rest.

    Read from the wire document rather than the model so that a value the
    user (or the webhook's defaulting) did not write falls back to the
    reconciler's configured default.
    """
    written = raw_spec.get("timeouts") or {}

    def pick(field: str, default: timedelta) -> timedelta:
        text = written.get(field)
        return parse_duration(text) if isinstance(text, str) else default

    return PhaseTimeouts(
        planning=pick("planning", defaults.planning),
        validating=pick("validating", defaults.validating),
        step=pick("step", defaults.step),
        monitoring=pick("monitoring", defaults.monitoring),
    )


def step_limits(
    step: WorkflowStep,
    spec: WorkflowExecutionSpec,
    timeouts: PhaseTimeouts,
    default_max_retries: int,
) -> StepLimits:
    """The step's own timeout, else the workflow's; the step's retries capped by the strategy's."""
    if step.timeout is not None:
        timeout, text = parse_duration(step.timeout), step.timeout
    else:
        timeout, text = timeouts.step, format_duration(timeouts.step)
    cap = spec.execution_strategy.max_retries
    retries = step.max_retries
    if retries is None:
        retries = cap if cap is not None else default_max_retries
    elif cap is not None:
        retries = min(retries, cap)
    return StepLimits(timeout=timeout, timeout_text=text, max_retries=retries)
