"""Reading a reconciled object's spec with its ``api`` model, and naming the object in logs."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["object_key", "parse_spec"]

JSON = dict[str, Any]
Spec = TypeVar("Spec", bound=BaseModel)


def parse_spec(model: type[Spec], obj: JSON) -> Spec | str:
    """``obj.spec`` as ``model``, or a one-line message saying what is wrong with it.

    Specs are validated by the admission webhook, so a failure here means the
    webhook was bypassed or the API changed: the object fails with this
    message instead of the reconciler retrying forever.
    """
    try:
        return model.model_validate(obj.get("spec") or {})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "spec"
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        return f"invalid spec: {where}: {first['msg']}{more}"


def object_key(obj: JSON) -> str:
    """``namespace/name`` of ``obj``, for log lines."""
    metadata = obj.get("metadata") or {}
    return f"{metadata.get('namespace') or ''}/{metadata.get('name') or ''}"
