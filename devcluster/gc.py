"""Garbage-collector decisions (pure), after ``pkg/controller/garbagecollector``.

For a dependent whose owner went away or is being deleted in the foreground, the
collector looks at every owner reference: *solid* owners (present, not waiting
for dependents), *dangling* ones (gone) and *waiting* ones (present with the
``foregroundDeletion`` finalizer). With a solid owner left the dependent stays and
only loses its references to dangling/waiting owners; otherwise it is deleted, in
the foreground when an owner waits for it, else in the background.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

JsonObject = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


class OwnerState(enum.Enum):
    ABSENT = "absent"
    SOLID = "solid"
    WAITING = "waiting"


@dataclass(frozen=True)
class GcAction:
    """``keep``, ``strip`` (remove references to ``uids``) or ``delete`` with ``propagation``."""

    action: str
    uids: frozenset[str] = frozenset()
    propagation: str = "Background"


def owner_state(owner: Mapping[str, Any] | None) -> OwnerState:
    if owner is None:
        return OwnerState.ABSENT
    meta = owner.get("metadata") or {}
    if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
        return OwnerState.WAITING
    return OwnerState.SOLID


def decide_dependent(
    owner_refs: Iterable[Mapping[str, Any]], states: Mapping[str, OwnerState]
) -> GcAction:
    """What to do with a dependent, given the state of each of its owners (by uid)."""
    refs = [ref for ref in owner_refs if ref.get("uid")]
    solid = [r for r in refs if states.get(str(r["uid"]), OwnerState.ABSENT) is OwnerState.SOLID]
    unsolid = frozenset(str(r["uid"]) for r in refs if r not in solid)
    if not unsolid:
        return GcAction("keep")
    if solid:
        return GcAction("strip", unsolid)
    waiting = any(states.get(str(r["uid"])) is OwnerState.WAITING for r in refs)
    return GcAction("delete", propagation="Foreground" if waiting else "Background")


def blocks_owner(dependent: Mapping[str, Any], owner_uid: str) -> bool:
    """Does this dependent hold up the foreground deletion of ``owner_uid``?"""
    return any(
        ref.get("uid") == owner_uid and ref.get("blockOwnerDeletion") is True
        for ref in (dependent.get("metadata") or {}).get("ownerReferences") or []
    )


def without_owner_refs(obj: JsonObject, uids: frozenset[str]) -> JsonObject:
    """A copy of ``obj`` whose owner references to ``uids`` are removed."""
    meta = dict(obj.get("metadata") or {})
    remaining = [ref for ref in meta.get("ownerReferences") or [] if ref.get("uid") not in uids]
    if remaining:
        meta["ownerReferences"] = remaining
    else:
        meta.pop("ownerReferences", None)
    return {**obj, "metadata": meta}
