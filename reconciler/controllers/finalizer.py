"""The cleanup finalizer every kind carries, and the bounded wait for its audit trail (pure).

A kubernaut object gets ``<kind>.kubernaut.ai/cleanup`` on its first
reconcile. When it is deleted, the finalizer stays until the object's audit
trail is complete in PostgreSQL, so a database outage cannot lose the trail of
a deleted object. The wait is bounded: once ``grace`` has passed since
``metadata.deletionTimestamp`` the finalizer goes anyway (with a Warning
Event), because nothing may block a deletion forever.

``observe`` asks an :class:`AuditCompleteness` (None: no audit configured,
always complete); :func:`finalize` turns the answer into effects.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from api.constants import finalizer_for
from api.timestamps import parse_timestamp
from reconciler.effects import AddFinalizer, Effect, RecordEvent, RemoveFinalizer, RequeueAfter

__all__ = [
    "AUDIT_GRACE",
    "AUDIT_RECHECK_SECONDS",
    "AuditCompleteness",
    "audit_complete",
    "deleting",
    "ensure_finalizer",
    "finalize",
]

JSON = dict[str, Any]

AUDIT_GRACE: Final = timedelta(minutes=10)
"""Longest a deletion waits for the audit trail."""
AUDIT_RECHECK_SECONDS: Final = 5.0
"""How often an incomplete trail is asked about again."""


class AuditCompleteness(Protocol):
    """Whether every transition of an object is stored in the audit trail."""

    def is_complete(self, obj: JSON) -> bool: ...


def audit_complete(audit: AuditCompleteness | None, obj: JSON) -> bool:
    """The answer of ``audit`` (I/O, for ``observe``); no audit configured counts as complete."""
    return True if audit is None else audit.is_complete(obj)


def deleting(obj: JSON) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _finalizers(obj: JSON) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


def ensure_finalizer(obj: JSON) -> list[Effect]:
    """Add the kind's finalizer when it is missing (never on an object being deleted)."""
    name = finalizer_for(str(obj.get("kind", "")))
    if deleting(obj) or name in _finalizers(obj):
        return []
    return [AddFinalizer(name)]


def finalize(
    obj: JSON, *, complete: bool, now: datetime, grace: timedelta = AUDIT_GRACE
) -> list[Effect]:
    """Effects for an object being deleted: remove the finalizer once the trail is complete.

    While incomplete and within ``grace`` of the deletion timestamp, ask again
    after :data:`AUDIT_RECHECK_SECONDS` (or at the end of the grace period,
    whichever is first).
    """
    name = finalizer_for(str(obj.get("kind", "")))
    if name not in _finalizers(obj):
        return []
    if complete:
        return [
            RecordEvent("Normal", "Finalized", "audit trail complete; cleanup finished"),
            RemoveFinalizer(name),
        ]
    stamp = (obj.get("metadata") or {}).get("deletionTimestamp")
    deleted_at = parse_timestamp(stamp) if stamp else now
    remaining = (deleted_at + grace - now).total_seconds()
    if remaining > 0:
        return [RequeueAfter(min(AUDIT_RECHECK_SECONDS, remaining))]
    return [
        RecordEvent(
            "Warning",
            "AuditIncomplete",
            f"audit trail still incomplete {int(grace.total_seconds())}s after deletion; "
            "removing the finalizer so the deletion is not blocked",
        ),
        RemoveFinalizer(name),
    ]
