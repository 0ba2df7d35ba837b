"""KubernetesExecution decide: every phase and failure path over plain objects, clock injected."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.kubernetesexecution import ActionCondition
from api.validation import validate_resource
from reconciler.controllers.ke_conditions import ConditionCheck
from reconciler.controllers.ke_resources import JOBS
from reconciler.controllers.kubernetesexecution import (
    FINALIZER,
    ExecutionObservation,
    KubernetesExecutionController,
    KubernetesExecutionSettings,
)
from reconciler.effects import (
    AddFinalizer,
    AuditNote,
    CreateChild,
    DeleteObject,
    Effect,
    PatchStatus,
    RecordEvent,
    RequeueAfter,
)
from webhook.policy import ConditionResult

JSON = dict[str, Any]
T0 = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
STAMP = "2026-11-29T08:00:00Z"


class _NoPolicy:
    def precondition(self, rule_name: str, execution_input: Mapping[str, Any]) -> ConditionResult:
        raise AssertionError("decide never evaluates policies")


CONTROLLER = KubernetesExecutionController(_NoPolicy())


def _ke(
    phase: str | None = None,
    *,
    spec: JSON | None = None,
    finalizers: Sequence[str] = (FINALIZER,),
    **status: Any,
) -> JSON:
    obj: JSON = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "KubernetesExecution",
        "metadata": {
            "name": "ke",
            "namespace": "shop",
            "uid": "ke-uid",
            "generation": 1,
            "resourceVersion": "7",
            "labels": {"kubernaut.ai/remediation": "rr-web"},
            "finalizers": list(finalizers),
        },
        "spec": {
            "workflowExecutionRef": {"name": "wfe"},
            "stepNumber": 1,
            "action": "scaleDeployment",
            "parameters": {
                "scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": 5}
            },
            "targetResource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
            },
            "timeout": "5m",
            "maxRetries": 2,
            **(spec or {}),
        },
    }
    if phase is not None:
        obj["status"] = {
            "phase": phase,
            "phaseStartTime": STAMP,
            "transitions": [{"phase": phase, "at": STAMP, "reason": "x", "index": 3}],
            **status,
        }
    return obj


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _job(name: str = "ke-1", conditions: Sequence[JSON] = (), **status: Any) -> JSON:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": f"{name}-uid",
            "ownerReferences": [
                {"kind": "KubernetesExecution", "uid": "ke-uid", "controller": True}
            ],
        },
        "status": {"conditions": list(conditions), **status},
    }


COMPLETE = [{"type": "Complete", "status": "True"}]
FAILED = [
    {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
    }
]
DEADLINE = [
    {
        "type": "Failed",
        "status": "True",
        "reason": "DeadlineExceeded",
        "message": "Job was active longer than specified deadline",
    }
]


def _pod(message: str | None, job: str = "ke-1") -> JSON:
    terminated: JSON = {
        "reason": "Completed" if message else "Error",
        "exitCode": 0 if message else 1,
    }
    if message is not None:
        terminated["message"] = message
    return {
        "metadata": {"name": f"{job}-x", "labels": {"job-name": job}, "creationTimestamp": STAMP},
        "status": {"containerStatuses": [{"name": "action", "state": {"terminated": terminated}}]},
    }


SCALED = json.dumps(
    {
        "outcome": "succeeded",
        "action": "scaleDeployment",
        "dryRun": False,
        "result": {
            "success": True,
            "executionTime": "1s",
            "message": "scaled deployment shop/web from 2 to 5 replicas",
            "scaleResult": {
                "previousReplicas": 2,
                "newReplicas": 5,
                "namespace": "shop",
                "deployment": "web",
            },
        },
        "changes": [],
        "rollback": {
            "action": "scaleDeployment",
            "parameters": {"namespace": "shop", "deployment": "web", "replicas": 2},
        },
    }
)


def _of(effects: Sequence[Effect], kind: type[Any]) -> list[Any]:
    return [effect for effect in effects if isinstance(effect, kind)]


def _status_patch(effects: Sequence[Effect]) -> PatchStatus:
    (patch,) = [effect for effect in effects if isinstance(effect, PatchStatus)]
    return patch


def _phase(effects: Sequence[Effect]) -> str | None:
    patches = [p for p in _of(effects, PatchStatus) if p.phase_change is not None]
    return patches[0].phase_change.to_phase if patches else None


def _created_jobs(effects: Sequence[Effect]) -> list[JSON]:
    return [effect.body for effect in _of(effects, CreateChild) if effect.resource == JOBS]


def _requeue(effects: Sequence[Effect]) -> float:
    return min(effect.seconds for effect in effects if isinstance(effect, RequeueAfter))


def _condition(name: str, *, required: bool = True, timeout: str | None = None) -> JSON:
    condition: JSON = {"type": name, "rego": name, "required": required}
    if timeout:
        condition["timeout"] = timeout
    return condition


def _check(
    name: str, passed: bool, *, required: bool = True, timeout: str | None = None
) -> ConditionCheck:
    condition = ActionCondition(type=name, rego=name, required=required, timeout=timeout)
    return ConditionCheck(condition, passed, () if passed else (f"{name} does not hold",))


# ------------------------------------------------------------------ fixtures are valid


def test_the_test_object_is_a_valid_kubernetes_execution() -> None:
    outcome = validate_resource(_ke("Executing", attempts=1, jobName="ke-1"))
    assert outcome.valid, outcome.errors


# --------------------------------------------------------------- start, finalizer


def test_a_new_execution_gets_its_finalizer_and_goes_pending() -> None:
    effects = CONTROLLER.decide(_ke(finalizers=()), ExecutionObservation(), T0)
    assert effects[0] == AddFinalizer(FINALIZER)
    assert _phase(effects) == "Pending"


def test_no_second_finalizer() -> None:
    effects = CONTROLLER.decide(_ke(), ExecutionObservation(), T0)
    assert not _of(effects, AddFinalizer)
    assert _phase(effects) == "Pending"


def test_pending_moves_to_validating() -> None:
    assert _phase(CONTROLLER.decide(_ke("Pending"), ExecutionObservation(), T0)) == "Validating"


@pytest.mark.parametrize("phase", ["Completed", "Failed", "TimedOut"])
def test_terminal_executions_are_left_alone(phase: str) -> None:
    assert CONTROLLER.decide(_ke(phase), ExecutionObservation(), T0) == []
    assert CONTROLLER.decide(_ke(phase, finalizers=()), ExecutionObservation(), T0) == [
        AddFinalizer(FINALIZER)
    ]


def test_an_unreadable_spec_fails_with_the_field_errors() -> None:
    obj = _ke(
        "Validating",
        spec={
            "action": "scaleDeployment",
            "parameters": {"restartPod": {"namespace": "shop", "podName": "p"}},
        },
    )
    effects = CONTROLLER.decide(obj, ExecutionObservation(), T0)
    assert _phase(effects) == "Failed"
    patch = _status_patch(effects)
    assert patch.phase_change is not None
    assert patch.phase_change.reason == "InvalidSpec"
    assert "does not match action" in patch.changes["message"]


# -------------------------------------------------------------------- Validating


def test_validating_without_preconditions_creates_the_first_job() -> None:
    effects = CONTROLLER.decide(_ke("Validating"), ExecutionObservation(), _at(1))
    patch = _status_patch(effects)
    assert _phase(effects) == "Executing"
    assert patch.changes["attempts"] == 1
    assert patch.changes["jobName"] == "ke-1"
    assert patch.changes["startTime"] == "2026-11-29T08:00:01Z"
    assert "validationResults" not in patch.changes
    (job,) = _created_jobs(effects)
    assert job["metadata"]["name"] == "ke-1"
    assert job["spec"]["activeDeadlineSeconds"] == 300
    assert job["metadata"]["labels"]["kubernaut.ai/remediation"] == "rr-web"
    assert (
        AuditNote(
            "job-created",
            "ke-1",
            "JobCreated",
            "created Job ke-1 (attempt 1)",
            {"job": "ke-1", "attempt": 1, "dryRun": False},
        )
        in effects
    )
    assert _requeue(effects) == 300
    # The status names the attempt before the Job exists.
    assert effects.index(patch) < effects.index(_of(effects, CreateChild)[0])


def test_a_failed_required_precondition_fails_the_execution() -> None:
    obj = _ke("Validating", spec={"preConditions": [_condition("deployment_has_ready_replica")]})
    observed = ExecutionObservation(checks=(_check("deployment_has_ready_replica", False),))
    effects = CONTROLLER.decide(obj, observed, _at(1))
    assert _phase(effects) == "Failed"
    changes = _status_patch(effects).changes
    assert changes["message"] == (
        "precondition failed: deployment_has_ready_replica (deployment_has_ready_replica): "
        "deployment_has_ready_replica does not hold"
    )
    assert changes["validationResults"]["preConditionResults"] == [
        {
            "conditionType": "deployment_has_ready_replica",
            "passed": False,
            "evaluationTime": "2026-11-29T08:00:01Z",
            "errorMessage": "deployment_has_ready_replica does not hold",
        }
    ]
    assert changes["completionTime"] == "2026-11-29T08:00:01Z"
    assert not _created_jobs(effects)


def test_a_failed_optional_precondition_is_a_warning() -> None:
    obj = _ke(
        "Validating", spec={"preConditions": [_condition("a"), _condition("b", required=False)]}
    )
    observed = ExecutionObservation(checks=(_check("a", True), _check("b", False, required=False)))
    effects = CONTROLLER.decide(obj, observed, _at(1))
    assert _phase(effects) == "Executing"
    results = _status_patch(effects).changes["validationResults"]["preConditionResults"]
    assert [result["passed"] for result in results] == [True, False]
    (warning,) = [e for e in _of(effects, RecordEvent) if e.reason == "ConditionWarning"]
    assert warning.type == "Warning"
    assert "b (b): b does not hold" in warning.message
    assert len(_created_jobs(effects)) == 1


def test_a_precondition_with_a_timeout_is_polled() -> None:
    obj = _ke("Validating", spec={"preConditions": [_condition("a", timeout="1m")]})
    observed = ExecutionObservation(checks=(_check("a", False, timeout="1m"),))
    effects = CONTROLLER.decide(obj, observed, _at(10))
    assert effects == [
        PatchStatus({"message": "waiting for preconditions: a: a does not hold"}),
        RequeueAfter(5.0),
    ]
    # The same message is not written again (a write would wake the next reconcile at once).
    waiting = _ke(
        "Validating", spec=obj["spec"], message="waiting for preconditions: a: a does not hold"
    )
    assert CONTROLLER.decide(waiting, observed, _at(15)) == [RequeueAfter(5.0)]
    assert _phase(CONTROLLER.decide(obj, observed, _at(60))) == "Failed"


def test_preconditions_not_evaluated_yet_are_waited_for() -> None:
    obj = _ke("Validating", spec={"preConditions": [_condition("a")]})
    assert CONTROLLER.decide(obj, ExecutionObservation(), _at(1)) == [RequeueAfter(5.0)]


# --------------------------------------------------------------------- Executing


def _executing(**status: Any) -> JSON:
    return _ke("Executing", **{"attempts": 1, "jobName": "ke-1", "startTime": STAMP, **status})


def test_a_running_job_is_waited_for_until_the_deadline() -> None:
    effects = CONTROLLER.decide(
        _executing(), ExecutionObservation(job=_job(status={"active": 1})), _at(100)
    )
    assert effects == [RequeueAfter(200.0)]


def test_a_missing_job_is_recreated_under_the_same_name_not_as_a_new_attempt() -> None:
    effects = CONTROLLER.decide(_executing(), ExecutionObservation(), _at(100))
    assert not _of(effects, PatchStatus)
    (job,) = _created_jobs(effects)
    assert job["metadata"]["name"] == "ke-1"
    assert job["metadata"]["labels"]["kubernaut.ai/attempt"] == "1"
    assert job["spec"]["activeDeadlineSeconds"] == 200
    assert _requeue(effects) == 200


def test_executing_without_a_recorded_attempt_starts_the_first() -> None:
    effects = CONTROLLER.decide(_ke("Executing"), ExecutionObservation(), _at(1))
    assert _status_patch(effects).changes["attempts"] == 1
    assert _status_patch(effects).phase_change is None
    assert [job["metadata"]["name"] for job in _created_jobs(effects)] == ["ke-1"]


def test_a_running_job_past_the_step_timeout_is_deleted_and_the_execution_times_out() -> None:
    effects = CONTROLLER.decide(
        _executing(), ExecutionObservation(job=_job(status={"active": 1})), _at(300)
    )
    assert _phase(effects) == "TimedOut"
    changes = _status_patch(effects).changes
    assert changes["message"] == "step timeout 5m exceeded during attempt 1 (Job ke-1)"
    assert changes["executionResult"] == {"success": False, "message": changes["message"]}
    assert DeleteObject(JOBS, "shop", "ke-1", "Background") in effects
    assert [note.note_type for note in _of(effects, AuditNote)] == ["job-deleted"]
    assert effects.index(_status_patch(effects)) < effects.index(
        DeleteObject(JOBS, "shop", "ke-1", "Background")
    )


def test_a_missing_job_past_the_timeout_times_out_without_deleting() -> None:
    effects = CONTROLLER.decide(_executing(), ExecutionObservation(), _at(301))
    assert _phase(effects) == "TimedOut"
    assert not _of(effects, DeleteObject)
    assert not _created_jobs(effects)


def test_a_succeeded_job_records_the_result_and_moves_to_verifying() -> None:
    observed = ExecutionObservation(job=_job(conditions=COMPLETE), pods=(_pod(SCALED),))
    effects = CONTROLLER.decide(_executing(), observed, _at(20))
    assert _phase(effects) == "Verifying"
    changes = _status_patch(effects).changes
    assert changes["executionResult"]["scaleResult"]["newReplicas"] == 5
    assert changes["rollbackInfo"] == {
        "available": True,
        "action": "scaleDeployment",
        "parameters": {
            "scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": 2}
        },
    }
    assert changes["message"] == "scaled deployment shop/web from 2 to 5 replicas"
    (note,) = _of(effects, AuditNote)
    assert (note.note_type, note.discriminator, note.reason) == (
        "job-finished",
        "ke-1",
        "JobSucceeded",
    )
    assert note.payload["attempt"] == 1


def test_a_garbled_termination_message_still_succeeds_on_the_jobs_word() -> None:
    observed = ExecutionObservation(job=_job(conditions=COMPLETE), pods=(_pod("{oops"),))
    effects = CONTROLLER.decide(_executing(), observed, _at(20))
    assert _phase(effects) == "Verifying"
    result = _status_patch(effects).changes["executionResult"]
    assert result["success"] is True
    assert "not valid JSON" in result["warnings"][0]
    assert _status_patch(effects).changes["rollbackInfo"]["available"] is False


def test_a_new_result_replaces_the_previous_one_field_by_field() -> None:
    previous = {
        "success": False,
        "message": "old",
        "warnings": ["w"],
        "customResult": {"actionType": "x"},
    }
    observed = ExecutionObservation(job=_job(conditions=COMPLETE), pods=(_pod(SCALED),))
    effects = CONTROLLER.decide(_executing(executionResult=previous), observed, _at(20))
    result = _status_patch(effects).changes["executionResult"]
    assert result["customResult"] is None  # removed by the merge patch
    assert result["warnings"] is None
    assert result["scaleResult"]["previousReplicas"] == 2


def test_a_failed_job_is_retried_with_a_new_job_in_the_same_phase() -> None:
    observed = ExecutionObservation(job=_job(conditions=FAILED), pods=(_pod(None),))
    effects = CONTROLLER.decide(_executing(), observed, _at(60))
    patch = _status_patch(effects)
    assert patch.phase_change is None  # still Executing, same deadline
    assert patch.changes["attempts"] == 2
    assert patch.changes["jobName"] == "ke-2"
    assert patch.changes["executionResult"]["success"] is False
    (job,) = _created_jobs(effects)
    assert job["metadata"]["name"] == "ke-2"
    assert job["spec"]["activeDeadlineSeconds"] == 240
    notes = {(note.note_type, note.discriminator) for note in _of(effects, AuditNote)}
    assert notes == {("job-finished", "ke-1"), ("job-created", "ke-2")}
    (retry,) = [e for e in _of(effects, RecordEvent) if e.reason == "Retrying"]
    assert retry.message.startswith(
        "attempt 1 of 3 failed, retrying: the action failed: container Error"
    )


def test_retries_exhausted_fail_the_execution() -> None:
    observed = ExecutionObservation(job=_job("ke-3", conditions=FAILED), pods=(_pod(None, "ke-3"),))
    effects = CONTROLLER.decide(_executing(attempts=3, jobName="ke-3"), observed, _at(60))
    assert _phase(effects) == "Failed"
    assert _status_patch(effects).changes["message"].startswith("attempt 3 of 3 failed: ")
    assert not _created_jobs(effects)


def test_max_retries_zero_means_one_attempt() -> None:
    obj = _ke("Executing", spec={"maxRetries": 0}, attempts=1, jobName="ke-1")
    observed = ExecutionObservation(job=_job(conditions=FAILED))
    assert _phase(CONTROLLER.decide(obj, observed, _at(10))) == "Failed"


def test_default_max_retries_applies_when_the_spec_has_none() -> None:
    spec = _ke()["spec"]
    del spec["maxRetries"]
    obj = _ke("Executing", spec=spec, attempts=1, jobName="ke-1")
    del obj["spec"]["maxRetries"]
    observed = ExecutionObservation(job=_job(conditions=FAILED))
    assert _phase(CONTROLLER.decide(obj, observed, _at(10))) == "Failed"
    retrying = KubernetesExecutionController(
        _NoPolicy(), settings=KubernetesExecutionSettings(default_max_retries=1)
    )
    assert _created_jobs(retrying.decide(obj, observed, _at(10)))


def test_a_job_killed_by_its_deadline_times_out() -> None:
    observed = ExecutionObservation(job=_job(conditions=DEADLINE))
    effects = CONTROLLER.decide(_executing(), observed, _at(120))
    assert _phase(effects) == "TimedOut"
    assert not _created_jobs(effects)
    assert not _of(effects, DeleteObject)


def test_a_failed_job_with_no_time_left_is_not_retried() -> None:
    observed = ExecutionObservation(job=_job(conditions=FAILED))
    effects = CONTROLLER.decide(_executing(), observed, _at(300))
    assert _phase(effects) == "TimedOut"
    assert not _created_jobs(effects)


def test_a_job_of_the_same_name_owned_by_someone_else_is_not_used() -> None:
    effects = CONTROLLER.decide(_executing(), ExecutionObservation(foreign_job=True), _at(10))
    assert effects == [
        PatchStatus({"message": "Job ke-1 exists but is not controlled by this execution"}),
        RequeueAfter(5.0),
    ]
    assert (
        _phase(CONTROLLER.decide(_executing(), ExecutionObservation(foreign_job=True), _at(300)))
        == "TimedOut"
    )


def test_dry_run_jobs_carry_the_flag() -> None:
    obj = _ke("Validating", spec={"dryRun": True})
    (job,) = _created_jobs(CONTROLLER.decide(obj, ExecutionObservation(), _at(0)))
    env = {
        item["name"]: item["value"]
        for item in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["KUBERNAUT_DRY_RUN"] == "true"


# --------------------------------------------------------------------- Verifying


def _verifying(spec: JSON | None = None, **status: Any) -> JSON:
    return _ke(
        "Verifying",
        spec=spec,
        **{
            "attempts": 1,
            "jobName": "ke-1",
            "executionResult": {"success": True, "message": "scaled"},
            **status,
        },
    )


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"dryRun": True, "postConditions": [_condition("replicas_match")]}, "DryRunCompleted"),
        ({}, "Succeeded"),
    ],
)
def test_verifying_completes_at_once_for_dry_runs_and_without_postconditions(
    spec: JSON, reason: str
) -> None:
    effects = CONTROLLER.decide(_verifying(spec), ExecutionObservation(), _at(1))
    patch = _status_patch(effects)
    assert patch.phase_change is not None
    assert (patch.phase_change.to_phase, patch.phase_change.reason) == ("Completed", reason)
    assert patch.changes["message"] == "scaled"
    assert patch.changes["completionTime"] == "2026-11-29T08:00:01Z"


def test_postconditions_passed_complete_the_execution() -> None:
    obj = _verifying({"postConditions": [_condition("replicas_match")]})
    effects = CONTROLLER.decide(
        obj, ExecutionObservation(checks=(_check("replicas_match", True),)), _at(3)
    )
    assert _phase(effects) == "Completed"
    results = _status_patch(effects).changes["validationResults"]["postConditionResults"]
    assert results == [
        {
            "conditionType": "replicas_match",
            "passed": True,
            "evaluationTime": "2026-11-29T08:00:03Z",
        }
    ]


def test_postconditions_are_polled_until_the_default_timeout() -> None:
    obj = _verifying({"postConditions": [_condition("replicas_match")]})
    observed = ExecutionObservation(checks=(_check("replicas_match", False),))
    waiting = CONTROLLER.decide(obj, observed, _at(30))
    assert waiting[-1] == RequeueAfter(5.0)
    assert _phase(waiting) is None
    assert _phase(CONTROLLER.decide(obj, observed, _at(120))) == "Executing"  # retry


def test_a_failed_postcondition_retries_with_a_new_job_and_a_fresh_deadline() -> None:
    obj = _verifying({"postConditions": [_condition("replicas_match", timeout="30s")]})
    observed = ExecutionObservation(checks=(_check("replicas_match", False, timeout="30s"),))
    effects = CONTROLLER.decide(obj, observed, _at(30))
    patch = _status_patch(effects)
    assert patch.phase_change is not None
    assert patch.phase_change.reason == "PostconditionFailed"
    assert (patch.changes["attempts"], patch.changes["jobName"]) == (2, "ke-2")
    assert patch.changes["validationResults"]["postConditionResults"][0]["passed"] is False
    (job,) = _created_jobs(effects)
    assert job["spec"]["activeDeadlineSeconds"] == 300
    assert any(event.reason == "Retrying" for event in _of(effects, RecordEvent))


def test_a_failed_postcondition_without_attempts_left_fails() -> None:
    obj = _verifying({"postConditions": [_condition("replicas_match")]}, attempts=3, jobName="ke-3")
    observed = ExecutionObservation(checks=(_check("replicas_match", False),))
    effects = CONTROLLER.decide(obj, observed, _at(120))
    assert _phase(effects) == "Failed"
    assert _status_patch(effects).changes["message"] == (
        "attempt 3 of 3: postcondition failed: "
        "replicas_match (replicas_match): replicas_match does not hold"
    )


def test_an_optional_postcondition_failing_completes_with_a_warning() -> None:
    obj = _verifying({"postConditions": [_condition("deployment_available", required=False)]})
    observed = ExecutionObservation(checks=(_check("deployment_available", False, required=False),))
    effects = CONTROLLER.decide(obj, observed, _at(120))
    assert _phase(effects) == "Completed"
    assert any(event.reason == "ConditionWarning" for event in _of(effects, RecordEvent))


# ------------------------------------------------------------ the whole path, applied


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _apply(obj: JSON, effects: Sequence[Effect]) -> JSON:
    for effect in effects:
        if isinstance(effect, PatchStatus):
            obj = {**obj, "status": _merge(obj.get("status") or {}, effect.changes)}
        elif isinstance(effect, AddFinalizer):
            obj = copy.deepcopy(obj)
            obj["metadata"]["finalizers"] = [*obj["metadata"].get("finalizers", []), effect.name]
    return obj


def test_the_whole_path_of_a_dry_run_and_every_status_stays_valid() -> None:
    obj = _ke(finalizers=(), spec={"dryRun": True})
    jobs: dict[str, JSON] = {}
    phases = []
    for second in range(8):
        job = jobs.get(str((obj.get("status") or {}).get("jobName")))
        observed = ExecutionObservation(job=job, pods=(_pod(SCALED),) if job else ())
        effects = CONTROLLER.decide(obj, observed, _at(second))
        for body in _created_jobs(effects):
            jobs[body["metadata"]["name"]] = {
                **body,
                "metadata": {**body["metadata"], "uid": "j"},
                "status": {"conditions": COMPLETE},
            }
        obj = _apply(obj, effects)
        assert validate_resource(obj).valid, validate_resource(obj).errors
        phases.append(obj["status"]["phase"])
        if obj["status"]["phase"] == "Completed":
            break
    assert phases == ["Pending", "Validating", "Executing", "Verifying", "Completed"]
    assert obj["metadata"]["finalizers"] == [FINALIZER]
    # A dry run changed nothing, so there is nothing to undo whatever the document says.
    assert obj["status"]["rollbackInfo"] == {
        "available": False,
        "failureReason": "dry run: nothing was changed",
    }
    assert obj["status"]["completionTime"] == "2026-11-29T08:00:04Z"
    assert [t["index"] for t in obj["status"]["transitions"]] == [0, 1, 2, 3, 4]


def test_the_whole_path_of_a_retried_execution_with_postconditions() -> None:
    obj = _ke(spec={"maxRetries": 1, "postConditions": [_condition("replicas_match")]})
    outcomes = {"ke-1": FAILED, "ke-2": COMPLETE}
    jobs: dict[str, JSON] = {}
    phases = []
    for second in range(10):
        status = obj.get("status") or {}
        job = jobs.get(str(status.get("jobName")))
        pods = (_pod(SCALED if job["status"]["conditions"] == COMPLETE else None),) if job else ()
        checks = (_check("replicas_match", True),) if status.get("phase") == "Verifying" else ()
        effects = CONTROLLER.decide(
            obj, ExecutionObservation(job=job, pods=pods, checks=checks), _at(second)
        )
        for body in _created_jobs(effects):
            name = body["metadata"]["name"]
            jobs[name] = {**body, "status": {"conditions": outcomes[name]}}
        obj = _apply(obj, effects)
        assert validate_resource(obj).valid, validate_resource(obj).errors
        phases.append(obj["status"]["phase"])
        if obj["status"]["phase"] == "Completed":
            break
    assert phases == ["Pending", "Validating", "Executing", "Executing", "Verifying", "Completed"]
    status = obj["status"]
    assert (status["attempts"], status["jobName"]) == (2, "ke-2")
    assert status["executionResult"]["success"] is True
    assert "warnings" not in status["executionResult"]  # the failed attempt's are gone
    assert status["rollbackInfo"]["available"] is True
    assert status["validationResults"]["postConditionResults"][0]["passed"] is True
    assert status["startTime"] == "2026-11-29T08:00:02Z"
