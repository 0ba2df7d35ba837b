from __future__ import annotations

import json
from datetime import UTC, datetime

from reconciler.audit.queries import Trail
from reconciler.audit.render import search_table, trail_json, trail_table


def _trail() -> Trail:
    return Trail(
        namespace="shop",
        remediation="rr-1",
        summary={
            "outcome": "completed",
            "phase": "Completed",
            "duration_seconds": 3723.0,
            "target_kind": "Deployment",
            "target_namespace": "shop",
            "target_name": "web",
            "signal_fingerprint": "ab",
        },
        workflows=[],
        events=[
            {
                "occurred_at": datetime(2026, 11, 29, 7, 20, 3, 500000, tzinfo=UTC),
                "kind": "RemediationRequest",
                "name": "rr-1",
                "event_key": "transition/0",
                "phase_from": None,
                "phase_to": "Pending",
                "reason": "Created",
                "message": "line one\nline two",
            },
            {
                "occurred_at": datetime(2026, 11, 29, 7, 21, tzinfo=UTC),
                "kind": "KubernetesExecution",
                "name": "step-1",
                "event_key": "note/job-created/step-1-0",
                "phase_from": "Executing",
                "phase_to": None,
                "reason": "JobCreated",
                "message": "",
            },
        ],
    )


def test_trail_table_has_summary_header_and_one_line_per_event() -> None:
    lines = trail_table(_trail()).splitlines()
    assert "completed" in lines[0]
    assert "1h2m3s" in lines[0]
    assert "Deployment/shop/web" in lines[0]
    assert lines[2].split() == ["TIME", "KIND", "NAME", "FROM", "TO", "REASON", "MESSAGE"]
    assert lines[3].split()[:6] == [
        "2026-11-29T07:20:03Z",
        "RemediationRequest",
        "rr-1",
        "-",
        "Pending",
        "Created",
    ]
    assert lines[3].endswith("line one line two")
    assert "(job-created)" in lines[4]
    assert len(lines) == 5


def test_trail_json_keeps_full_precision_timestamps() -> None:
    document = json.loads(trail_json(_trail()))
    assert document["events"][0]["occurred_at"] == "2026-11-29T07:20:03.500000Z"
    assert document["summary"]["outcome"] == "completed"
    assert len(document["events"]) == 2


def test_search_table_lists_rows() -> None:
    rows = [
        {
            "started_at": datetime(2026, 11, 29, tzinfo=UTC),
            "namespace": "shop",
            "name": "rr-1",
            "outcome": "failed",
            "duration_seconds": 59.6,
            "target_kind": None,
            "target_namespace": None,
            "target_name": None,
            "signal_fingerprint": None,
        }
    ]
    lines = search_table(rows).splitlines()
    assert lines[1].split() == ["2026-11-29T00:00:00Z", "shop", "rr-1", "failed", "1m0s", "-", "-"]
