"""Deleting a KubernetesExecution: stop its Job, wait (bounded) for the audit trail (pure).

The finalizer ``kubernetesexecution.kubernaut.ai/cleanup`` holds the object
until

* a Job that is still running has been deleted (its pods go with it: the
  deletion uses Background propagation, because a Job deleted without one
  orphans its pods), and
* the object's audit trail is complete, or the grace period, counted from
  ``metadata.deletionTimestamp``, is over: a database outage must not keep
  the object forever (the audit writer rebuilds the trail from the status
  transitions it already has).

An Event says which of the two ended the wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from api.constants import finalizer_for
from api.durations import format_duration
from api.timestamps import parse_timestamp
from reconciler.controllers.ke_job import job_state
from reconciler.controllers.ke_resources import JOBS
from reconciler.effects import (
    AuditNote,
    DeleteObject,
    Effect,
    RecordEvent,
    RemoveFinalizer,
    RequeueAfter,
)

__all__ = ["FINALIZER", "AuditCompleteness", "Finalization", "finalize"]

JSON = dict[str, Any]

FINALIZER: Final = finalizer_for("KubernetesExecution")


class AuditCompleteness(Protocol):
    """Whether an object's audit trail is fully persisted (``AuditWriter.is_complete`` fits)."""

    def is_complete(self, obj: JSON) -> bool: ...


@dataclass(frozen=True)
class Finalization:
    grace: timedelta = timedelta(minutes=10)
    """How long to wait for the audit trail before letting the object go anyway."""
    poll_interval: timedelta = timedelta(seconds=5)
    """How often completeness is checked again while waiting."""


def _metadata(obj: JSON) -> JSON:
    return dict(obj.get("metadata") or {})


def deletion_time(obj: JSON) -> datetime | None:
    """``metadata.deletionTimestamp``; None when absent or unreadable."""
    stamp = _metadata(obj).get("deletionTimestamp")
    if not isinstance(stamp, str):
        return None
    try:
        return parse_timestamp(stamp)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _stop_job(obj: JSON, job: JSON | None) -> list[Effect]:
    if job is None or job_state(job).finished or _metadata(job).get("deletionTimestamp"):
        return []
    name = str(_metadata(job)["name"])
    text = f"deleted the running Job {name}: the execution is being deleted"
    return [
        DeleteObject(JOBS, _metadata(obj).get("namespace"), name, "Background"),
        AuditNote("job-deleted", name, "ExecutionDeleted", text, {"job": name}),
        RecordEvent("Normal", "JobDeleted", text),
    ]


def finalize(
    obj: JSON,
    *,
    job: JSON | None,
    audit_complete: bool,
    settings: Finalization,
    now: datetime,
) -> list[Effect]:
    """Effects for an execution being deleted (nothing once the finalizer is gone)."""
    if FINALIZER not in (_metadata(obj).get("finalizers") or []):
        return []
    effects = _stop_job(obj, job)
    if audit_complete:
        effects.append(RecordEvent("Normal", "Finalized", "cleanup done, finalizer removed"))
    else:
        deleted_at = deletion_time(obj)
        # An unreadable deletion time cannot start a wait that would ever end.
        left = deleted_at + settings.grace - now if deleted_at else timedelta(0)
        if left > timedelta(0):
            wait = min(settings.poll_interval, left).total_seconds()
            return [*effects, RequeueAfter(max(wait, 0.001))]
        effects.append(
            RecordEvent(
                "Warning",
                "AuditIncomplete",
                f"the audit trail is still incomplete {format_duration(settings.grace)} after "
                "deletion; finalizer removed anyway (the trail is rebuilt from the transitions "
                "when the database is back)",
            )
        )
    effects.append(RemoveFinalizer(FINALIZER))
    return effects
