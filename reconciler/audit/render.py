"""Text and JSON renderings of query results (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.audit.queries import Trail

_CELL_CHARS = 72


def trail_json(trail: Trail) -> str:
    document = {
        "namespace": trail.namespace,
        "remediation": trail.remediation,
        "summary": trail.summary,
        "workflows": trail.workflows,
        "events": trail.events,
    }
    return json.dumps(document, indent=2, default=_json_default, ensure_ascii=False)


def trail_table(trail: Trail) -> str:
    lines: list[str] = []
    summary = trail.summary
    if summary is not None:
        target = "/".join(
            str(part)
            for part in (
                summary.get("target_kind"),
                summary.get("target_namespace"),
                summary.get("target_name"),
            )
            if part
        )
        lines.append(
            f"Remediation {trail.namespace}/{trail.remediation}: {summary.get('outcome')}"
            f" (phase {summary.get('phase') or '-'}, duration"
            f" {_seconds(summary.get('duration_seconds'))}, target {target or '-'},"
            f" fingerprint {summary.get('signal_fingerprint') or '-'})"
        )
    for workflow in trail.workflows:
        lines.append(
            f"Workflow {workflow['name']}: {workflow['outcome']}, steps"
            f" {workflow.get('steps_completed') or 0}/{workflow.get('total_steps') or 0} completed,"
            f" {workflow.get('steps_failed') or 0} failed,"
            f" rollbacks {workflow.get('rollbacks_performed') or 0}"
        )
    if lines:
        lines.append("")
    header = ("TIME", "KIND", "NAME", "FROM", "TO", "REASON", "MESSAGE")
    rows = [
        (
            _timestamp(event["occurred_at"]),
            str(event["kind"]),
            str(event["name"]),
            event["phase_from"] or "-",
            event["phase_to"] or _note_type(str(event["event_key"])),
            event["reason"] or "-",
            event["message"] or "",
        )
        for event in trail.events
    ]
    lines.append(_table(header, rows))
    return "\n".join(lines)


def search_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2, default=_json_default, ensure_ascii=False)


def search_table(rows: Sequence[Mapping[str, Any]]) -> str:
    header = ("STARTED", "NAMESPACE", "NAME", "OUTCOME", "DURATION", "TARGET", "FINGERPRINT")
    body = [
        (
            _timestamp(row["started_at"]) if row["started_at"] else "-",
            str(row["namespace"]),
            str(row["name"]),
            str(row["outcome"]),
            _seconds(row["duration_seconds"]),
            "/".join(
                str(part)
                for part in (row["target_kind"], row["target_namespace"], row["target_name"])
                if part
            )
            or "-",
            str(row["signal_fingerprint"] or "-"),
        )
        for row in rows
    ]
    return _table(header, body)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = [list(header)] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[index]) for row in cells) for index in range(len(header))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def _cell(value: str) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= _CELL_CHARS else flat[: _CELL_CHARS - 1] + "…"


def _note_type(event_key: str) -> str:
    parts = event_key.split("/")
    return f"({parts[1]})" if len(parts) > 1 else "-"


def _timestamp(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _seconds(value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot serialise {type(value).__name__}")
