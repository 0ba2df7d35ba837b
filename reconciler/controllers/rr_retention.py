"""Retention of finished RemediationRequests (pure).

A request in a terminal phase is kept for the retention period (24h by
default) after ``status.completionTime`` and then deleted with Background
propagation: its children go by their owner references, and its own
finalizer still holds it until its audit trail is complete.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.durations import format_duration
from api.timestamps import parse_timestamp
from reconciler.controllers.rr_children import REMEDIATION_REQUESTS
from reconciler.effects import DeleteObject, Effect, RecordEvent, RequeueAfter

__all__ = ["finished_at", "retention_effects"]

JSON = dict[str, Any]


def finished_at(obj: JSON) -> datetime | None:
    """When the request finished: completionTime, else the start of its terminal phase."""
    status = obj.get("status") or {}
    metadata = obj.get("metadata") or {}
    for stamp in (
        status.get("completionTime"),
        status.get("phaseStartTime"),
        metadata.get("creationTimestamp"),
    ):
        if isinstance(stamp, str):
            try:
                return parse_timestamp(stamp)
            except ValueError:
                continue
    return None


def retention_effects(obj: JSON, retention: timedelta, now: datetime) -> list[Effect]:
    """Delete ``obj`` once ``retention`` has passed since it finished; else come back then."""
    metadata = obj.get("metadata") or {}
    finished = finished_at(obj) or now
    due = finished + retention
    if now < due:
        return [RequeueAfter((due - now).total_seconds())]
    return [
        RecordEvent(
            "Normal",
            "RetentionExpired",
            f"finished {format_duration(retention)} ago or more; deleting it and its children",
        ),
        DeleteObject(REMEDIATION_REQUESTS, metadata.get("namespace"), str(metadata["name"])),
    ]
