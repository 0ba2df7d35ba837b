"""The step dependency graph of a workflow: invariants and execution levels.

Pure functions over anything with ``step_number`` and ``depends_on`` (the
WorkflowStep model). The webhook rejects a workflow for which
:func:`step_dag_errors` reports anything; the reconciler plans with
:func:`topological_levels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from api.errors import FieldError

__all__ = ["DagStep", "step_dag_errors", "topological_levels"]

STEPS_PATH = "spec.workflowDefinition.steps"


class DagStep(Protocol):
    @property
    def step_number(self) -> int: ...

    @property
    def depends_on(self) -> Sequence[int] | None: ...


def step_dag_errors(steps: Sequence[DagStep], path: str = STEPS_PATH) -> list[FieldError]:
    """Every violation of: unique step numbers, known and distinct dependencies, no cycle.

    Paths are ``<path>[i].stepNumber`` or ``<path>[i].dependsOn[j]`` for the
    offending entry; a cycle is reported once, on the ``dependsOn`` of its
    first step in list order, with the cycle spelled out.
    """
    errors: list[FieldError] = []
    index_of: dict[int, int] = {}
    for index, step in enumerate(steps):
        if step.step_number in index_of:
            errors.append(
                FieldError(
                    f"{path}[{index}].stepNumber",
                    f"duplicate step number {step.step_number} "
                    f"(already used by {path}[{index_of[step.step_number]}])",
                )
            )
        else:
            index_of[step.step_number] = index

    # A cycle needs an edge to a step listed later; without one, the list order is a
    # topological order and the cycle search is skipped.
    forward_edge = False
    for index, step in enumerate(steps):
        seen: set[int] = set()
        for position, dependency in enumerate(step.depends_on or ()):
            problem = _dependency_problem(dependency, step.step_number, index_of, seen)
            seen.add(dependency)
            if problem:
                errors.append(FieldError(f"{path}[{index}].dependsOn[{position}]", problem))
            elif index_of[dependency] > index:
                forward_edge = True

    if not forward_edge:
        return errors
    for cycle in _cycles(_edges(steps, index_of)):
        first = min(cycle, key=index_of.__getitem__)
        start = cycle.index(first)
        ordered = [*cycle[start:], *cycle[:start], first]
        errors.append(
            FieldError(
                f"{path}[{index_of[first]}].dependsOn",
                "dependency cycle: "
                + " -> ".join(str(number) for number in ordered)
                + " (a -> b: step a depends on step b)",
            )
        )
    return errors


def _dependency_problem(
    dependency: int, step_number: int, index_of: dict[int, int], seen: set[int]
) -> str:
    """What is wrong with one ``dependsOn`` entry ("" when nothing)."""
    if dependency == step_number:
        return f"step {dependency} cannot depend on itself"
    if dependency not in index_of:
        return f"step {dependency} does not exist"
    if dependency in seen:
        return f"step {dependency} is listed more than once"
    return ""


def topological_levels(steps: Sequence[DagStep]) -> list[list[int]]:
    """Group step numbers into levels: a step's dependencies are all in earlier levels.

    Steps of one level may run in parallel; each level is sorted. Raises
    ValueError when :func:`step_dag_errors` reports anything.
    """
    problems = step_dag_errors(steps)
    if problems:
        raise ValueError("invalid step graph: " + "; ".join(str(p) for p in problems))
    remaining = {step.step_number: set(step.depends_on or ()) for step in steps}
    levels: list[list[int]] = []
    done: set[int] = set()
    while remaining:
        ready = sorted(number for number, deps in remaining.items() if deps <= done)
        levels.append(ready)
        done.update(ready)
        for number in ready:
            del remaining[number]
    return levels


def _edges(steps: Sequence[DagStep], index_of: dict[int, int]) -> dict[int, list[int]]:
    """Dependency edges between known, distinct steps (first occurrence of a number wins)."""
    edges: dict[int, list[int]] = {}
    for number, index in index_of.items():
        deps = steps[index].depends_on or ()
        edges[number] = [d for d in dict.fromkeys(deps) if d in index_of and d != number]
    return edges


def _cycles(edges: dict[int, list[int]]) -> list[list[int]]:
    """One cycle per strongly connected component with more than one step (Tarjan)."""
    counter = 0
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[set[int]] = []

    def visit(node: int) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for successor in edges[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component: set[int] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in edges:
        if node not in index:
            visit(node)
    return [_cycle_within(component, edges) for component in components]


def _cycle_within(component: set[int], edges: dict[int, list[int]]) -> list[int]:
    """A simple cycle inside a strongly connected component, starting at its smallest step."""
    start = min(component)
    path = [start]
    seen = {start}
    node = start
    while True:
        successor = next(s for s in edges[node] if s in component)
        if successor in seen:
            return path[path.index(successor) :]
        path.append(successor)
        seen.add(successor)
        node = successor
