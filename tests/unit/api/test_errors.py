import pytest
from pydantic import ValidationError

from api.errors import FieldError, field_errors, join_path
from api.workflow import WorkflowStep


@pytest.mark.parametrize(
    ("parts", "path"),
    [
        ((), ""),
        (("spec",), "spec"),
        (("spec", "steps", 2, "parameters"), "spec.steps[2].parameters"),
        (("steps", 0, "dependsOn", 1), "steps[0].dependsOn[1]"),
        ((3, "name"), "[3].name"),
    ],
)
def test_join_path(parts: tuple[str | int, ...], path: str) -> None:
    assert join_path(parts) == path


def test_field_errors_use_wire_names_and_prefix() -> None:
    with pytest.raises(ValidationError) as caught:
        WorkflowStep.model_validate(
            {"stepNumber": 0, "name": "x", "action": "cordonNode", "parameters": {}, "bogus": 1},
            by_alias=True,
            by_name=False,
        )
    errors = field_errors(caught.value, prefix="spec.workflowDefinition.steps[4]")
    paths = {error.path: error.message for error in errors}
    assert paths["spec.workflowDefinition.steps[4].stepNumber"].startswith(
        "Input should be greater than or equal to 1"
    )
    assert paths["spec.workflowDefinition.steps[4].bogus"] == "unknown field"
    assert paths["spec.workflowDefinition.steps[4].parameters"].startswith(
        "exactly one parameter block is required"
    )


def test_field_error_str() -> None:
    assert str(FieldError("spec.x", "bad")) == "spec.x: bad"
    assert str(FieldError("", "expected an object")) == "expected an object"
