"""Specs are immutable: an UPDATE must carry exactly the stored spec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.errors import FieldError, join_path

_MAX_LISTED = 20


def spec_changes(old: Any, new: Any, path: tuple[str | int, ...] = ("spec",)) -> list[str]:
    """The paths (wire names) where ``new`` differs from ``old``, leaves first found."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changes: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in old or key not in new:
                changes.append(join_path((*path, str(key))))
            else:
                changes.extend(spec_changes(old[key], new[key], (*path, str(key))))
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        changes = []
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            changes.extend(spec_changes(before, after, (*path, index)))
        return changes
    return [] if _same(old, new) else [join_path(path)]


def _same(old: Any, new: Any) -> bool:
    # JSON has one number type: 2 and 2.0 are the same value, but True is not 1.
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    return bool(old == new)


def immutability_errors(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    """One error per changed field of ``spec`` (capped), none when the spec is unchanged."""
    if old is None:
        return []
    changes = spec_changes(old.get("spec"), obj.get("spec"))
    errors = [
        FieldError(path, "field is immutable: the spec cannot change after creation")
        for path in changes[:_MAX_LISTED]
    ]
    if len(changes) > _MAX_LISTED:
        errors.append(FieldError("spec", f"and {len(changes) - _MAX_LISTED} more changed fields"))
    return errors
