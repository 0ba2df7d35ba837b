from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import pytest

from api.dag import step_dag_errors, topological_levels
from api.errors import FieldError


@dataclass
class Step:
    step_number: int
    depends_on: Sequence[int] | None = None


P = "spec.workflowDefinition.steps"


def test_valid_graph_has_no_errors_and_levels_group_parallel_steps() -> None:
    steps = [Step(1), Step(2), Step(3, [1, 2]), Step(4, [3]), Step(5, [1])]
    assert step_dag_errors(steps) == []
    assert topological_levels(steps) == [[1, 2], [3, 5], [4]]


def test_steps_in_any_order_and_sparse_numbers() -> None:
    steps = [Step(30, [10, 20]), Step(20, [10]), Step(10)]
    assert topological_levels(steps) == [[10], [20], [30]]


def test_no_dependencies_is_one_level() -> None:
    assert topological_levels([Step(2), Step(1), Step(3, [])]) == [[1, 2, 3]]


def test_duplicate_step_number() -> None:
    assert step_dag_errors([Step(1), Step(2), Step(1)]) == [
        FieldError(f"{P}[2].stepNumber", f"duplicate step number 1 (already used by {P}[0])")
    ]


def test_missing_self_and_repeated_dependencies() -> None:
    errors = step_dag_errors([Step(1), Step(2, [2, 7, 1, 1])])
    assert errors == [
        FieldError(f"{P}[1].dependsOn[0]", "step 2 cannot depend on itself"),
        FieldError(f"{P}[1].dependsOn[1]", "step 7 does not exist"),
        FieldError(f"{P}[1].dependsOn[3]", "step 1 is listed more than once"),
    ]


def test_cycle_is_reported_once_on_its_first_step() -> None:
    errors = step_dag_errors([Step(1), Step(2, [4]), Step(3, [2]), Step(4, [3]), Step(5, [1])])
    assert errors == [
        FieldError(
            f"{P}[1].dependsOn",
            "dependency cycle: 2 -> 4 -> 3 -> 2 (a -> b: step a depends on step b)",
        )
    ]


def test_two_separate_cycles_are_both_reported() -> None:
    errors = step_dag_errors([Step(1, [2]), Step(2, [1]), Step(3, [4]), Step(4, [3])])
    assert [e.path for e in errors] == [f"{P}[0].dependsOn", f"{P}[2].dependsOn"]
    assert errors[0].message.startswith("dependency cycle: 1 -> 2 -> 1")


def test_cycle_found_inside_a_larger_component() -> None:
    errors = step_dag_errors([Step(1, [2, 3]), Step(2, [3]), Step(3, [1])])
    assert len(errors) == 1
    cycle = errors[0].message.split(": ")[1].split(" (")[0].split(" -> ")
    assert cycle[0] == cycle[-1]
    steps = {1: [2, 3], 2: [3], 3: [1]}
    for a, b in pairwise(cycle):
        assert int(b) in steps[int(a)]


def test_custom_path_prefix() -> None:
    errors = step_dag_errors([Step(1, [9])], path="status.selectedWorkflow.steps")
    assert errors == [
        FieldError("status.selectedWorkflow.steps[0].dependsOn[0]", "step 9 does not exist")
    ]


def test_levels_refuse_an_invalid_graph() -> None:
    with pytest.raises(ValueError, match="dependency cycle"):
        topological_levels([Step(1, [2]), Step(2, [1])])
