"""Reading an attempt's outcome: the Job decides, the termination message adds detail."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from api.results import ScaleExecutionResult
from reconciler.actions.base import ActionReport, Change, Rollback
from reconciler.actions.result import render, result_document
from reconciler.controllers.ke_job import JobState
from reconciler.controllers.ke_result import attempt_result, pods_of_job, termination_message

SUCCEEDED = JobState("succeeded")
FAILED = JobState("failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")


def _pod(
    message: str | None,
    *,
    name: str = "ke-1-abcde",
    created: str = "2026-11-29T08:00:00Z",
    reason: str = "Completed",
    exit_code: int = 0,
    job: str = "ke-1",
    owner_uid: str | None = "job-uid",
) -> dict[str, Any]:
    terminated: dict[str, Any] = {"reason": reason, "exitCode": exit_code}
    if message is not None:
        terminated["message"] = message
    metadata: dict[str, Any] = {
        "name": name,
        "creationTimestamp": created,
        "labels": {"batch.kubernetes.io/job-name": job, "job-name": job},
    }
    if owner_uid:
        metadata["ownerReferences"] = [{"kind": "Job", "uid": owner_uid, "controller": True}]
    return {
        "metadata": metadata,
        "status": {"containerStatuses": [{"name": "action", "state": {"terminated": terminated}}]},
    }


def _scale_message(*, success: bool = True, dry_run: bool = False) -> str:
    report = ActionReport(
        "scaled deployment shop/web from 2 to 5 replicas" if success else "scale refused",
        success=success,
        typed=ScaleExecutionResult(
            previous_replicas=2, new_replicas=5, namespace="shop", deployment="web"
        ),
        changes=[Change("apps/v1 Deployment shop/web", "spec.replicas", 2, 5)],
        rollback=Rollback(
            "scaleDeployment", {"namespace": "shop", "deployment": "web", "replicas": 2}
        ),
    )
    document = result_document(
        "scaleDeployment", dry_run, report, timedelta(milliseconds=412), "shop/ke"
    )
    return render(document)


def test_success_with_the_runners_document() -> None:
    result = attempt_result(SUCCEEDED, [_pod(_scale_message())], dry_run=False)
    assert result.succeeded
    assert result.message == "scaled deployment shop/web from 2 to 5 replicas"
    assert result.execution_result == {
        "success": True,
        "executionTime": "412ms",
        "message": "scaled deployment shop/web from 2 to 5 replicas",
        "scaleResult": {
            "previousReplicas": 2,
            "newReplicas": 5,
            "namespace": "shop",
            "deployment": "web",
        },
    }
    assert result.rollback_info == {
        "available": True,
        "action": "scaleDeployment",
        "parameters": {
            "scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": 2}
        },
    }


def test_dry_run_has_no_rollback() -> None:
    result = attempt_result(SUCCEEDED, [_pod(_scale_message(dry_run=True))], dry_run=True)
    assert result.succeeded
    assert result.message.startswith("dry run: ")
    assert result.rollback_info == {
        "available": False,
        "failureReason": "dry run: nothing was changed",
    }


def test_failure_with_the_runners_document() -> None:
    result = attempt_result(
        FAILED, [_pod(_scale_message(success=False), reason="Error", exit_code=1)], dry_run=False
    )
    assert not result.succeeded
    assert result.message == "scale refused"
    assert result.execution_result["success"] is False


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "not a JSON object"),
        ('{"outcome": "succeeded"}', "has no result object"),
        ('{"result": {"success": "yes"}}', "malformed: result.success"),
        (None, "no termination message"),
    ],
)
def test_garbled_or_missing_message_the_job_decides(message: str | None, problem: str) -> None:
    result = attempt_result(SUCCEEDED, [_pod(message)], dry_run=False)
    assert result.succeeded
    assert result.message == "the action succeeded"
    assert result.execution_result["success"] is True
    assert any(problem in warning for warning in result.execution_result["warnings"])
    assert result.rollback_info["available"] is False


def test_failed_job_without_message_explains_from_the_container_and_the_job() -> None:
    pod = _pod(None, reason="OOMKilled", exit_code=137)
    result = attempt_result(FAILED, [pod], dry_run=False)
    assert not result.succeeded
    assert result.message == (
        "the action failed: container OOMKilled, exit code 137; "
        "Job has reached the specified backoff limit"
    )


def test_failed_job_without_pods() -> None:
    result = attempt_result(JobState("failed", "DeadlineExceeded"), [], dry_run=False)
    assert result.message == "the action failed: DeadlineExceeded"


def test_job_outcome_wins_over_a_contradicting_message() -> None:
    result = attempt_result(FAILED, [_pod(_scale_message(success=True))], dry_run=False)
    assert not result.succeeded
    assert result.execution_result["success"] is False
    assert any("the Job's outcome counts" in w for w in result.execution_result["warnings"])


def test_dropped_and_malformed_rollbacks_are_unavailable_with_a_reason() -> None:
    document = json.loads(_scale_message())
    document["rollback"] = None
    document["rollbackDropped"] = True
    dropped = attempt_result(SUCCEEDED, [_pod(json.dumps(document))], dry_run=False)
    assert dropped.rollback_info == {
        "available": False,
        "failureReason": "the rollback did not fit into the termination message",
    }
    document["rollback"] = {"action": "scaleDeployment", "parameters": {"replicas": "two"}}
    malformed = attempt_result(SUCCEEDED, [_pod(json.dumps(document))], dry_run=False)
    assert malformed.rollback_info["available"] is False
    assert "malformed" in malformed.rollback_info["failureReason"]
    document["rollback"] = None
    del document["rollbackDropped"]
    nothing = attempt_result(SUCCEEDED, [_pod(json.dumps(document))], dry_run=False)
    assert nothing.rollback_info["failureReason"] == "the action reported nothing to undo"


def test_the_newest_pod_with_a_message_is_read() -> None:
    old = _pod('{"result": {"success": false, "message": "old"}}', created="2026-11-29T07:00:00Z")
    new = _pod('{"result": {"success": true, "message": "new"}}', created="2026-11-29T08:00:00Z")
    silent = _pod(None, created="2026-11-29T09:00:00Z")
    assert (
        termination_message([old, silent, new])
        == new["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
    )


def test_unfinished_job_is_refused() -> None:
    with pytest.raises(ValueError, match="not finished"):
        attempt_result(JobState("running"), [], dry_run=False)


def test_pods_of_job_by_label_and_controller() -> None:
    job = {"metadata": {"name": "ke-1", "uid": "job-uid"}}
    mine = _pod(None, name="mine")
    legacy = _pod(None, name="legacy", owner_uid=None)
    legacy["metadata"]["labels"] = {"job-name": "ke-1"}
    other_job = _pod(None, name="other", job="ke-2")
    impostor = _pod(None, name="impostor", owner_uid="another-uid")
    found = pods_of_job(job, [mine, legacy, other_job, impostor])
    assert [pod["metadata"]["name"] for pod in found] == ["mine", "legacy"]
