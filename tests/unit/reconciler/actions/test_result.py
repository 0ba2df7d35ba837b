"""The termination-message document: its shape, and always valid JSON within 4096 bytes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from api.results import (
    AffectedResource,
    CustomExecutionResult,
    ScaleExecutionResult,
)
from reconciler.actions.base import ActionReport, Change, Rollback
from reconciler.actions.result import MAX_BYTES, render, result_document


def _scale_report() -> ActionReport:
    return ActionReport(
        "scaled deployment shop/web from 2 to 5 replicas",
        typed=ScaleExecutionResult(
            previous_replicas=2, new_replicas=5, namespace="shop", deployment="web"
        ),
        affected=[
            AffectedResource(
                api_version="apps/v1",
                kind="Deployment",
                name="web",
                namespace="shop",
                change_type="scaled",
            )
        ],
        changes=[Change("apps/v1 Deployment shop/web", "spec.replicas", 2, 5)],
        rollback=Rollback(
            "scaleDeployment", {"namespace": "shop", "deployment": "web", "replicas": 2}
        ),
    )


def _logs_report(logs: dict[str, str], message: str = "collected") -> ActionReport:
    return ActionReport(
        message, typed=CustomExecutionResult(action_type="collectLogs", output=logs)
    )


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def test_document_has_the_documented_shape() -> None:
    document = result_document(
        "scaleDeployment", False, _scale_report(), timedelta(milliseconds=412), "shop/ke-1"
    )
    assert document == {
        "outcome": "succeeded",
        "action": "scaleDeployment",
        "dryRun": False,
        "execution": "shop/ke-1",
        "result": {
            "success": True,
            "executionTime": "412ms",
            "message": "scaled deployment shop/web from 2 to 5 replicas",
            "scaleResult": {
                "previousReplicas": 2,
                "newReplicas": 5,
                "namespace": "shop",
                "deployment": "web",
            },
            "resourcesAffected": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "web",
                    "namespace": "shop",
                    "changeType": "scaled",
                }
            ],
        },
        "changes": [
            {
                "resource": "apps/v1 Deployment shop/web",
                "field": "spec.replicas",
                "before": 2,
                "after": 5,
            }
        ],
        "rollback": {
            "action": "scaleDeployment",
            "parameters": {"namespace": "shop", "deployment": "web", "replicas": 2},
        },
    }
    assert json.loads(render(document)) == document


def test_dry_run_prefixes_the_message_and_has_no_rollback() -> None:
    document = result_document("scaleDeployment", True, _scale_report(), timedelta(seconds=1))
    assert document["dryRun"] is True
    assert document["result"]["message"].startswith("dry run: scaled")
    assert document["rollback"] is None
    assert document["changes"][0]["after"] == 5


def test_failure_outcome_agrees_with_success() -> None:
    report = ActionReport("no container 'x'", success=False)
    document = result_document("updateImage", False, report, timedelta(0))
    assert document["outcome"] == "failed"
    assert document["result"] == {
        "success": False,
        "executionTime": "1ms",
        "message": "no container 'x'",
    }
    assert document["changes"] == []
    assert document["rollback"] is None


def test_huge_logs_keep_their_end_and_fit() -> None:
    log = "".join(f"line {n}\n" for n in range(100_000))
    document = result_document("collectLogs", False, _logs_report({"web-1/app": log}), timedelta(1))
    text = render(document)
    assert _size(text) <= MAX_BYTES
    parsed = json.loads(text)
    assert parsed["truncated"] is True
    kept = parsed["result"]["customResult"]["output"]["web-1/app"]
    assert kept.endswith("line 99999\n")
    assert kept.startswith("[truncated]…")
    assert len(kept) > 2000
    assert parsed["result"]["message"] == "collected"


def test_small_document_is_not_marked_truncated() -> None:
    text = render(result_document("collectLogs", False, _logs_report({"a/b": "hi"}), timedelta(1)))
    assert "truncated" not in json.loads(text)


def test_rollback_is_kept_whole_while_other_parts_shrink() -> None:
    report = _scale_report()
    report.warnings = ["w" * 3000, "x" * 3000]
    rollback_updates = {f"key{n}": f"value{n}" for n in range(40)}
    report.rollback = Rollback(
        "updateConfigMap", {"namespace": "shop", "name": "cfg", "dataUpdates": rollback_updates}
    )
    parsed = json.loads(render(result_document("updateConfigMap", False, report, timedelta(1))))
    assert parsed["truncated"] is True
    assert parsed["rollback"]["parameters"]["dataUpdates"] == rollback_updates
    assert "rollbackDropped" not in parsed


def test_a_rollback_too_big_to_fit_is_dropped_not_shortened() -> None:
    report = _scale_report()
    report.rollback = Rollback(
        "updateConfigMap", {"namespace": "shop", "name": "cfg", "dataUpdates": {"k": "v" * 5000}}
    )
    text = render(result_document("updateConfigMap", False, report, timedelta(1)))
    parsed = json.loads(text)
    assert _size(text) <= MAX_BYTES
    assert parsed["rollback"] is None
    assert parsed["rollbackDropped"] is True
    assert parsed["result"]["success"] is True


def test_huge_unicode_message_fits_in_utf8_bytes() -> None:
    report = ActionReport("💥é" * 10_000, success=False)
    text = render(result_document("custom", False, report, timedelta(1)))
    assert _size(text) <= MAX_BYTES
    parsed = json.loads(text)
    assert parsed["outcome"] == "failed"
    assert parsed["result"]["message"].startswith("💥é💥é")


def test_lone_surrogates_from_the_environment_still_give_utf8_json() -> None:
    report = ActionReport("bad byte: \udcff", success=False)
    text = render(result_document("\udcfeaction", False, report, timedelta(1)))
    assert json.loads(text.encode("utf-8"))["result"]["message"] == "bad byte: ?"


def test_many_changes_are_cut_to_the_first_entries() -> None:
    report = _scale_report()
    report.changes = [Change(f"v1 Pod shop/pod-{n}", "exists", True, False) for n in range(500)]
    parsed = json.loads(render(result_document("restartPod", False, report, timedelta(1))))
    assert parsed["truncated"] is True
    assert parsed["changes"]
    assert parsed["changes"][0]["resource"] == "v1 Pod shop/pod-0"
    assert parsed["rollback"]["action"] == "scaleDeployment"


_text = st.text(st.characters(codec="utf-8"), max_size=3000)


@settings(max_examples=60, deadline=None)
@given(
    message=_text,
    logs=st.dictionaries(st.text(min_size=1, max_size=80), _text, max_size=6),
    warnings=st.lists(_text, max_size=5),
    changes=st.lists(st.tuples(_text, _text), max_size=30),
    action=st.text(max_size=300),
)
def test_render_always_gives_valid_json_within_the_limit(
    message: str,
    logs: dict[str, str],
    warnings: list[str],
    changes: list[tuple[str, str]],
    action: str,
) -> None:
    report = _logs_report(logs, message)
    report.warnings = warnings
    report.changes = [Change(resource, "field", before, None) for resource, before in changes]
    document = result_document(action, False, report, timedelta(1))
    text = render(document)
    assert _size(text) <= MAX_BYTES
    parsed: Any = json.loads(text)
    assert parsed["outcome"] == "succeeded"
    assert parsed["result"]["success"] is True
    if _size(json.dumps(document, ensure_ascii=False, separators=(",", ":"))) <= MAX_BYTES:
        assert parsed == document
    else:
        assert parsed["truncated"] is True
