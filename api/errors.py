"""Field errors with Kubernetes-style paths (``spec.workflowDefinition.steps[2].parameters``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

__all__ = ["FieldError", "field_errors", "join_path"]

# pydantic prefixes the messages of ValueErrors raised in validators with this.
_VALUE_ERROR_PREFIX = "Value error, "


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field; ``path`` uses wire names, dots and ``[index]``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def join_path(parts: Iterable[str | int]) -> str:
    """``("spec", "steps", 2, "parameters")`` -> ``spec.steps[2].parameters``."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """Turn a pydantic ValidationError into field errors, in pydantic's order.

    ``prefix`` is prepended to every path (``"spec"`` when a spec was validated
    alone). Locations must come from validating by alias so that the paths use
    wire names.
    """
    result: list[FieldError] = []
    for detail in error.errors(include_url=False):
        path = join_path(detail["loc"])
        if prefix:
            path = f"{prefix}.{path}" if path and not path.startswith("[") else prefix + path
        message = detail["msg"]
        if detail["type"] == "value_error" and message.startswith(_VALUE_ERROR_PREFIX):
            message = message[len(_VALUE_ERROR_PREFIX) :]
        elif detail["type"] == "extra_forbidden":
            message = "unknown field"
        result.append(FieldError(path, message))
    return result
