"""The base class of every kubernaut wire type.

camelCase on the wire, snake_case in Python, unknown fields rejected, no type
coercion (``"5"`` is not an integer: the API server's schema would refuse it
too). Python code may construct models by attribute name; wire documents are
read by alias only through :func:`api.validation.parse_resource`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["WireModel"]


class WireModel(BaseModel):
    """Strict camelCase model: the spec and status types of every kind derive from it."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        strict=True,
        use_attribute_docstrings=True,
    )
