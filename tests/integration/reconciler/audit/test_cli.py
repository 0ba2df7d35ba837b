from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubernaut.cli import main
from reconciler.audit.events import events_from_object, notable_event
from reconciler.audit.store import AuditStore
from reconciler.audit.summaries import summary_of

pytestmark = pytest.mark.integration

START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


@pytest.fixture
def seeded(store: AuditStore, make_object: Any) -> dict[str, Any]:
    """A failed remediation rr-1 with two children, plus an unrelated rr-2."""
    rr = make_object(
        "RemediationRequest",
        "rr-1",
        uid="rr-1-uid",
        remediation="rr-1",
        start=START,
        phases=["Pending", "Processing", "Executing", "Failed"],
        step=timedelta(seconds=30),
    )
    sp = make_object(
        "SignalProcessing",
        "rr-1-sp",
        uid="sp-uid",
        remediation="rr-1",
        start=START + timedelta(seconds=5),
        phases=["Pending", "Completed"],
    )
    wfe = make_object(
        "WorkflowExecution",
        "rr-1-wfe",
        uid="wfe-uid",
        remediation="rr-1",
        start=START + timedelta(seconds=65),
        phases=["Pending", "Failed"],
    )
    job = notable_event(
        wfe,
        note_type="job-created",
        discriminator="rr-1-wfe-step-1-0",
        occurred_at=START + timedelta(seconds=70),
        reason="JobCreated",
        message="created Job rr-1-wfe-step-1-0",
    )
    other = make_object(
        "RemediationRequest",
        "rr-2",
        uid="rr-2-uid",
        remediation="rr-2",
        start=START,
        phases=["Pending", "Completed"],
    )
    other["spec"]["signalFingerprint"] = "d" * 64
    objects = [rr, sp, wfe, other]
    store.write(
        [event for obj in objects for event in events_from_object(obj)] + [job],
        [summary for obj in objects if (summary := summary_of(obj)) is not None],
    )
    return {"rr": rr}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_show_prints_the_trail_as_a_table(
    postgres_dsn: str, seeded: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys, "audit", "show", "rr-1", "-n", "shop", "--audit-dsn", postgres_dsn
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("Remediation shop/rr-1: failed")
    assert "Workflow rr-1-wfe: failed" in lines[1]
    header = next(index for index, line in enumerate(lines) if line.startswith("TIME"))
    body = [line.split()[:5] for line in lines[header + 1 :]]
    assert body == [
        [START.strftime("%Y-%m-%dT%H:%M:%SZ"), "RemediationRequest", "rr-1", "-", "Pending"],
        [
            (START + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "SignalProcessing",
            "rr-1-sp",
            "-",
            "Pending",
        ],
        [
            (START + timedelta(seconds=15)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "SignalProcessing",
            "rr-1-sp",
            "Pending",
            "Completed",
        ],
        [
            (START + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RemediationRequest",
            "rr-1",
            "Pending",
            "Processing",
        ],
        [
            (START + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RemediationRequest",
            "rr-1",
            "Processing",
            "Executing",
        ],
        [
            (START + timedelta(seconds=65)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "WorkflowExecution",
            "rr-1-wfe",
            "-",
            "Pending",
        ],
        [
            (START + timedelta(seconds=70)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "WorkflowExecution",
            "rr-1-wfe",
            "Failed",
            "(job-created)",
        ],
        [
            (START + timedelta(seconds=75)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "WorkflowExecution",
            "rr-1-wfe",
            "Pending",
            "Failed",
        ],
        [
            (START + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "RemediationRequest",
            "rr-1",
            "Executing",
            "Failed",
        ],
    ]


def test_show_prints_the_trail_as_json(
    postgres_dsn: str, seeded: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, "audit", "show", "rr-1", "-n", "shop", "-o", "json", "--audit-dsn", postgres_dsn
    )
    assert code == 0
    document = json.loads(out)
    assert document["summary"]["outcome"] == "failed"
    assert document["summary"]["signal_fingerprint"] == "c" * 64
    assert document["workflows"][0]["name"] == "rr-1-wfe"
    events = document["events"]
    assert len(events) == 9
    assert [event["occurred_at"] for event in events] == sorted(e["occurred_at"] for e in events)
    assert events[-1]["message"] == "rr-1 entered Failed"
    assert events[6]["event_key"] == "note/job-created/rr-1-wfe-step-1-0"


def test_show_of_an_unknown_remediation_exits_1(
    postgres_dsn: str, seeded: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys, "audit", "show", "nope", "-n", "shop", "--audit-dsn", postgres_dsn
    )
    assert (code, out) == (1, "")
    assert "no audit trail for remediation shop/nope" in err


def test_search_filters_by_fingerprint_outcome_and_time(
    postgres_dsn: str, seeded: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    def names(*flags: str) -> list[str]:
        code, out, _ = _run(
            capsys, "audit", "search", "-o", "json", "--audit-dsn", postgres_dsn, *flags
        )
        assert code == 0
        return sorted(row["name"] for row in json.loads(out))

    assert names() == ["rr-1", "rr-2"]
    assert names("--outcome", "failed") == ["rr-1"]
    assert names("--fingerprint", "d" * 64) == ["rr-2"]
    assert names("--since", "1h") == ["rr-1", "rr-2"]
    assert names("--since", "10m") == []
    code, out, _ = _run(
        capsys, "audit", "search", "--outcome", "failed", "--audit-dsn", postgres_dsn
    )
    assert code == 0
    assert out.splitlines()[1].split()[1:4] == ["shop", "rr-1", "failed"]


def test_migrate_and_prune(postgres_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "audit", "migrate", "--audit-dsn", postgres_dsn)
    assert code == 0
    assert "audit schema at version 1" in out
    code, out, _ = _run(
        capsys, "audit", "prune", "--retention-days", "30", "--audit-dsn", postgres_dsn
    )
    assert code == 0
    assert "partitions dropped: none" in out


def test_unreachable_database_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    dsn = "postgresql://kubernaut@127.0.0.1:1/audit?connect_timeout=1"
    code, out, err = _run(capsys, "audit", "show", "rr-1", "--audit-dsn", dsn)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err == "kubernaut audit: error: audit database 127.0.0.1:1/audit: Connection refused\n"
    assert "Traceback" not in err


def test_malformed_dsn_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "audit", "migrate", "--audit-dsn", "host=x port")
    assert code == 2
    assert err.startswith("kubernaut audit: error: invalid audit DSN")


@pytest.fixture
def data_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="kubernaut-cli-pg-"))
    yield root / "audit"
    shutil.rmtree(root, ignore_errors=True)


def test_embedded_default_runs_and_stops_its_own_server(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNAUT_AUDIT_DSN", raising=False)
    monkeypatch.setenv("KUBERNAUT_AUDIT_DATA_DIR", str(data_dir))
    code, out, _ = _run(capsys, "audit", "migrate")
    assert code == 0
    assert "audit schema at version 1" in out
    assert (data_dir / "PG_VERSION").exists()
    assert not (data_dir / "postmaster.pid").exists()
    code, out, _ = _run(capsys, "audit", "search", "-o", "json")
    assert (code, json.loads(out)) == (0, [])
