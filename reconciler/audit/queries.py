"""Read queries over the audit trail (parameterised, index-backed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

_TRAIL = (
    "SELECT occurred_at, kind, name, object_uid, event_key, transition_index,"
    " phase_from, phase_to, reason, message, actor, signal_fingerprint, payload"
    " FROM audit_events WHERE namespace = %s AND remediation = %s"
    " ORDER BY occurred_at, transition_index NULLS LAST, event_id"
)
_REMEDIATION = (
    "SELECT namespace, name, object_uid, signal_fingerprint, signal_name, severity,"
    " target_kind, target_namespace, target_name, phase, outcome, started_at, completed_at,"
    " duration_seconds, phase_durations, steps_total, steps_completed, steps_failed"
    " FROM remediation_summaries"
)
_WORKFLOWS = (
    "SELECT name, workflow_name, workflow_version, phase, outcome, total_steps,"
    " steps_completed, steps_failed, duration_seconds, effectiveness_score,"
    " rollbacks_performed, error_message, step_executions"
    " FROM workflow_execution_summaries WHERE namespace = %s AND remediation = %s"
    " ORDER BY started_at NULLS LAST, name"
)


@dataclass(frozen=True, slots=True)
class Trail:
    namespace: str
    remediation: str
    summary: dict[str, Any] | None
    workflows: list[dict[str, Any]]
    events: list[dict[str, Any]]


def remediation_trail(conn: psycopg.Connection[Any], namespace: str, remediation: str) -> Trail:
    """Every event of a remediation (its RR and all children) in time order."""
    with conn.cursor(row_factory=dict_row) as cur:
        events = cur.execute(_TRAIL, (namespace, remediation)).fetchall()
        summaries = cur.execute(
            _REMEDIATION + " WHERE namespace = %s AND name = %s ORDER BY started_at DESC LIMIT 1",
            (namespace, remediation),
        ).fetchall()
        workflows = cur.execute(_WORKFLOWS, (namespace, remediation)).fetchall()
    return Trail(
        namespace=namespace,
        remediation=remediation,
        summary=summaries[0] if summaries else None,
        workflows=workflows,
        events=events,
    )


def search_remediations(
    conn: psycopg.Connection[Any],
    *,
    fingerprint: str | None = None,
    since: datetime | None = None,
    outcome: str | None = None,
    namespace: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Remediation summaries matching every given filter, newest first."""
    conditions: list[str] = []
    params: list[Any] = []
    if fingerprint is not None:
        conditions.append("signal_fingerprint = %s")
        params.append(fingerprint)
    if since is not None:
        conditions.append("started_at >= %s")
        params.append(since)
    if outcome is not None:
        conditions.append("outcome = %s")
        params.append(outcome.lower())
    if namespace is not None:
        conditions.append("namespace = %s")
        params.append(namespace)
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    query = _REMEDIATION + where + " ORDER BY started_at DESC NULLS LAST, name LIMIT %s"
    params.append(limit)
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query.encode(), params).fetchall()
