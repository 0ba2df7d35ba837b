"""WorkflowExecution decide: every phase and failure path, over plain objects and a fake clock.

The harness applies the effects the way the executor does (status merge
patches, finalizers, created children) so scenarios run phase after phase.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.controller import Controller
from reconciler.controllers.workflowexecution import (
    FINALIZER,
    WorkflowExecutionController,
    WorkflowExecutionSettings,
    WorkflowObserved,
)
from reconciler.effects import (
    AddFinalizer,
    AuditNote,
    CreateChild,
    Effect,
    PatchStatus,
    RecordEvent,
    RemoveFinalizer,
    RequeueAfter,
)

JSON = dict[str, Any]
NOW = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
WFE = "wfe-web"


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def restart(number: int, **extra: Any) -> JSON:
    return {
        "stepNumber": number,
        "name": f"restart-{number}",
        "action": "restartDeployment",
        "parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
        **extra,
    }


def scale(number: int, replicas: int, **extra: Any) -> JSON:
    return {
        "stepNumber": number,
        "name": f"scale-{number}",
        "action": "scaleDeployment",
        "parameters": {
            "scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": replicas}
        },
        **extra,
    }


def workflow(
    steps: Sequence[JSON],
    *,
    strategy: JSON | None = None,
    timeouts: JSON | None = None,
    status: JSON | None = None,
    annotations: JSON | None = None,
    finalizers: Sequence[str] = (FINALIZER,),
) -> JSON:
    spec: JSON = {
        "remediationRequestRef": {"name": "rr-web"},
        "targetResource": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
        },
        "workflowDefinition": {"name": "restart", "version": "1", "steps": list(steps)},
        "executionStrategy": strategy or {},
    }
    if timeouts is not None:
        spec["timeouts"] = timeouts
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {
            "name": WFE,
            "namespace": "shop",
            "uid": "wfe-uid",
            "generation": 1,
            "resourceVersion": "1",
            "labels": {"kubernaut.ai/remediation": "rr-web", "kubernaut.ai/environment": "prod"},
            "annotations": dict(annotations or {}),
            "finalizers": list(finalizers),
        },
        "spec": spec,
        "status": dict(status or {}),
    }


def in_phase(obj: JSON, phase: str, at: datetime = NOW, **status: Any) -> JSON:
    obj["status"] = {
        "phase": phase,
        "phaseStartTime": ts(at),
        "transitions": [{"phase": phase, "at": ts(at), "reason": "Test", "index": 0}],
        "planningStartTime": ts(at),
        "validationStartTime": ts(at),
        "executionStartTime": ts(at),
        **status,
    }
    return obj


def merge(target: JSON, patch: JSON) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def deployment(replicas: int = 3, available: int = 3, updated: int = 3, current: int = 3) -> JSON:
    return {
        "metadata": {"name": "web", "namespace": "shop", "generation": 2},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": 2,
            "replicas": current,
            "updatedReplicas": updated,
            "availableReplicas": available,
        },
    }


class Cluster:
    """Applies effects like the executor; children are stored as created (no status yet)."""

    def __init__(
        self,
        obj: JSON,
        settings: WorkflowExecutionSettings | None = None,
        *,
        now: datetime = NOW,
    ) -> None:
        self.obj = obj
        self.controller = WorkflowExecutionController(settings)
        self.children: dict[str, JSON] = {}
        self.deployments: dict[tuple[str, str], JSON | None] = {("shop", "web"): deployment()}
        self.audit_complete = True
        self.owner_annotations: dict[str, str] = {}
        self.now = now
        self.created: list[str] = []

    def observed(self) -> WorkflowObserved:
        return WorkflowObserved(
            dict(self.children),
            dict(self.deployments),
            self.audit_complete,
            dict(self.owner_annotations),
        )

    def decide(self) -> list[Effect]:
        return list(self.controller.decide(copy.deepcopy(self.obj), self.observed(), self.now))

    def run(self, *, after: timedelta = timedelta(0)) -> list[Effect]:
        self.now += after
        effects = self.decide()
        for effect in effects:
            match effect:
                case PatchStatus(changes=changes):
                    merge(self.obj.setdefault("status", {}), changes)
                case AddFinalizer(name=name):
                    self.obj["metadata"]["finalizers"].append(name)
                case RemoveFinalizer(name=name):
                    self.obj["metadata"]["finalizers"].remove(name)
                case CreateChild(body=body):
                    name = body["metadata"]["name"]
                    if name not in self.children:
                        child = copy.deepcopy(body)
                        child["metadata"]["uid"] = f"uid-{name}"
                        child["metadata"]["creationTimestamp"] = ts(self.now)
                        self.children[name] = child
                        self.created.append(name)
        return effects

    def finish_child(self, name: str, phase: str = "Completed", **status: Any) -> None:
        self.children[name]["status"] = {
            "phase": phase,
            "attempts": 1,
            "completionTime": ts(self.now),
            **status,
        }

    @property
    def phase(self) -> str:
        return str(self.obj["status"].get("phase"))

    @property
    def status(self) -> JSON:
        status: JSON = self.obj["status"]
        return status

    def step(self, number: int) -> JSON:
        entry: JSON = next(s for s in self.status["stepStatuses"] if s["stepNumber"] == number)
        return entry


def creates(effects: Sequence[Effect]) -> list[str]:
    return [e.body["metadata"]["name"] for e in effects if isinstance(e, CreateChild)]


def phases(effects: Sequence[Effect]) -> list[str]:
    return [
        e.phase_change.to_phase
        for e in effects
        if isinstance(e, PatchStatus) and e.phase_change is not None
    ]


def requeues(effects: Sequence[Effect]) -> list[float]:
    return [e.seconds for e in effects if isinstance(e, RequeueAfter)]


def run_to_executing(cluster: Cluster) -> None:
    for _ in range(6):
        if cluster.phase == "Executing":
            return
        cluster.run()
    raise AssertionError(f"stuck in {cluster.phase}")


def test_the_controller_fits_the_protocol() -> None:
    controller: Controller[WorkflowObserved] = WorkflowExecutionController()
    assert controller.resource.plural == "workflowexecutions"
    assert [r.plural for r in controller.owns] == ["kubernetesexecutions"]
    assert [(r.group, r.plural) for r in controller.reads] == [
        ("kubernaut.ai", "remediationrequests")
    ]


# --- start and planning ------------------------------------------------------------------


def test_new_object_gets_finalizer_and_pending() -> None:
    cluster = Cluster(workflow([restart(1)], finalizers=()))
    effects = cluster.run()
    assert effects[0] == AddFinalizer(FINALIZER)
    assert phases(effects) == ["Pending"]
    assert cluster.obj["metadata"]["finalizers"] == [FINALIZER]


def test_planning_records_levels_strategy_and_pending_steps() -> None:
    steps = [restart(1), scale(2, 4, dependsOn=[1]), scale(3, 5, dependsOn=[1])]
    cluster = Cluster(workflow(steps))
    assert phases(cluster.run()) == ["Pending"]
    assert phases(cluster.run()) == ["Planning"]
    assert cluster.status["planningStartTime"] == ts(NOW)
    assert phases(cluster.run()) == ["Validating"]
    assert cluster.status["executionPlan"] == {
        "levels": [[1], [2, 3]],
        "strategy": "sequential-with-parallel",
        "maxParallel": 3,
    }
    assert cluster.status["totalSteps"] == 3
    assert cluster.status["currentStep"] == 0
    assert [s["status"] for s in cluster.status["stepStatuses"]] == ["Pending"] * 3


def test_planning_timeout_fails_with_reason() -> None:
    cluster = Cluster(in_phase(workflow([restart(1)]), "Planning"))
    effects = cluster.run(after=timedelta(seconds=30))
    assert phases(effects) == ["Failed"]
    assert cluster.status["transitions"][-1]["reason"] == "TimeoutPlanning"
    assert cluster.status["failureReason"] == "planning did not finish within 30s"
    assert cluster.status["workflowResult"]["outcome"] == "Failed"
    assert cluster.status["executionMetrics"]["totalDuration"] == "30s"


def test_planning_timeout_comes_from_the_spec_when_set() -> None:
    obj = in_phase(workflow([restart(1)], timeouts={"planning": "1m"}), "Planning")
    cluster = Cluster(obj)
    assert phases(cluster.run(after=timedelta(seconds=45))) == ["Validating"]


def test_invalid_spec_fails_with_a_clear_message() -> None:
    obj = workflow([restart(1, dependsOn=[2]), restart(2, dependsOn=[1])])
    cluster = Cluster(in_phase(obj, "Pending"))
    assert phases(cluster.run()) == ["Failed"]
    assert cluster.status["transitions"][-1]["reason"] == "InvalidSpec"
    assert "dependency cycle" in cluster.status["failureReason"]


def test_terminal_workflow_is_left_alone() -> None:
    cluster = Cluster(in_phase(workflow([restart(1)]), "Completed"))
    assert cluster.run() == []


# --- validating: approval and dry run ----------------------------------------------------


def test_no_approval_no_dry_run_goes_straight_to_executing() -> None:
    cluster = Cluster(in_phase(workflow([restart(1)]), "Validating"))
    effects = cluster.run()
    assert phases(effects) == ["Executing"]
    assert cluster.status["validationResults"] == {"dryRunPerformed": False}
    assert cluster.status["executionStartTime"] == ts(NOW)


def test_approval_wait_then_approved_then_executing() -> None:
    obj = in_phase(workflow([restart(1)], strategy={"approvalRequired": True}), "Validating")
    cluster = Cluster(obj)
    effects = cluster.run()
    assert phases(effects) == ["AwaitingApproval"]
    assert requeues(effects) == [300.0]
    assert cluster.status["validationResults"]["approvalReceived"] is False

    effects = cluster.run(after=timedelta(minutes=1))
    assert effects == [RequeueAfter(240.0)]

    cluster.obj["metadata"]["annotations"].update(
        {
            "kubernaut.ai/approval": "approved",
            "kubernaut.ai/approved-by": "alice",
            "kubernaut.ai/approved-at": "2026-11-29T08:01:30Z",
        }
    )
    assert phases(cluster.run(after=timedelta(minutes=1))) == ["Executing"]
    assert cluster.status["validationResults"] == {
        "dryRunPerformed": False,
        "approvalReceived": True,
        "approvalTimestamp": "2026-11-29T08:01:30Z",
        "approvedBy": "alice",
    }


def test_approval_given_before_validation_skips_the_wait() -> None:
    obj = workflow(
        [restart(1)],
        strategy={"approvalRequired": True},
        annotations={"kubernaut.ai/approval": "approved", "kubernaut.ai/approved-by": "bob"},
    )
    cluster = Cluster(in_phase(obj, "Validating"))
    assert phases(cluster.run()) == ["Executing"]
    assert cluster.status["validationResults"]["approvalTimestamp"] == ts(NOW)
    assert cluster.status["validationResults"]["approvedBy"] == "bob"


@pytest.mark.parametrize("phase", ["Validating", "AwaitingApproval"])
def test_rejected_fails(phase: str) -> None:
    obj = workflow(
        [restart(1)],
        strategy={"approvalRequired": True},
        annotations={"kubernaut.ai/approval": "rejected", "kubernaut.ai/approved-by": "carol"},
    )
    cluster = Cluster(in_phase(obj, phase))
    assert phases(cluster.run()) == ["Failed"]
    assert cluster.status["transitions"][-1]["reason"] == "ApprovalRejected"
    assert cluster.status["failureReason"] == "rejected by carol"
    assert cluster.status["validationResults"]["approvalReceived"] is False


def test_an_approval_given_on_the_owning_remediation_request_covers_the_workflow() -> None:
    obj = in_phase(workflow([restart(1)], strategy={"approvalRequired": True}), "AwaitingApproval")
    cluster = Cluster(obj)
    assert cluster.run() == [RequeueAfter(300.0)]
    cluster.owner_annotations = {
        "kubernaut.ai/approval": "approved",
        "kubernaut.ai/approved-by": "dana",
        "kubernaut.ai/approved-at": "2026-11-29T08:00:10Z",
    }
    assert phases(cluster.run(after=timedelta(seconds=20))) == ["Executing"]
    assert cluster.status["validationResults"]["approvedBy"] == "dana"
    assert cluster.status["validationResults"]["approvalTimestamp"] == "2026-11-29T08:00:10Z"


def test_a_rejection_on_the_owning_remediation_request_fails_the_workflow() -> None:
    cluster = Cluster(
        in_phase(workflow([restart(1)], strategy={"approvalRequired": True}), "Validating")
    )
    cluster.owner_annotations = {
        "kubernaut.ai/approval": "rejected",
        "kubernaut.ai/approved-by": "erin",
    }
    assert phases(cluster.run()) == ["Failed"]
    assert cluster.status["failureReason"] == "rejected by erin"


def test_the_workflows_own_approval_wins_over_the_owners() -> None:
    obj = workflow(
        [restart(1)],
        strategy={"approvalRequired": True},
        annotations={"kubernaut.ai/approval": "rejected", "kubernaut.ai/approved-by": "carol"},
    )
    cluster = Cluster(in_phase(obj, "Validating"))
    cluster.owner_annotations = {"kubernaut.ai/approval": "approved"}
    assert phases(cluster.run()) == ["Failed"]


def test_approval_annotation_is_ignored_when_not_required() -> None:
    obj = workflow([restart(1)], annotations={"kubernaut.ai/approval": "rejected"})
    cluster = Cluster(in_phase(obj, "Validating"))
    assert phases(cluster.run()) == ["Executing"]


def test_approval_wait_times_out_within_the_validating_timeout() -> None:
    obj = workflow([restart(1)], strategy={"approvalRequired": True}, timeouts={"validating": "2m"})
    cluster = Cluster(in_phase(obj, "AwaitingApproval"))
    assert cluster.run(after=timedelta(seconds=119)) == [RequeueAfter(1.0)]
    assert phases(cluster.run(after=timedelta(seconds=1))) == ["Failed"]
    assert cluster.status["transitions"][-1]["reason"] == "TimeoutValidating"
    assert cluster.status["failureReason"].startswith("no approval within 2m")


def test_dry_run_first_creates_every_dry_run_and_waits_for_all() -> None:
    steps = [restart(1), scale(2, 4, dependsOn=[1])]
    obj = workflow(steps, strategy={"dryRunFirst": True, "approvalRequired": True})
    cluster = Cluster(in_phase(obj, "Validating"))
    effects = cluster.run()
    assert creates(effects) == ["wfe-web-dryrun-1", "wfe-web-dryrun-2"]
    assert phases(effects) == []
    assert requeues(effects) == [300.0]
    for name in creates(effects):
        assert cluster.children[name]["spec"]["dryRun"] is True
        assert cluster.children[name]["spec"]["maxRetries"] == 0
        assert "postConditions" not in cluster.children[name]["spec"]

    cluster.finish_child("wfe-web-dryrun-1")
    effects = cluster.run(after=timedelta(seconds=10))
    assert effects == [RequeueAfter(290.0)]  # dry run 2 still running: nothing new

    cluster.finish_child("wfe-web-dryrun-2")
    assert phases(cluster.run()) == ["AwaitingApproval"]
    results = cluster.status["validationResults"]
    assert results["dryRunPerformed"] is True
    assert results["dryRunResults"] == {
        "overallSuccess": True,
        "stepsSimulated": 2,
        "stepResults": [
            {"stepNumber": 1, "action": "restartDeployment", "wouldSucceed": True},
            {"stepNumber": 2, "action": "scaleDeployment", "wouldSucceed": True},
        ],
    }
    cluster.obj["metadata"]["annotations"]["kubernaut.ai/approval"] = "approved"
    assert phases(cluster.run()) == ["Executing"]
    assert cluster.status["validationResults"]["dryRunPerformed"] is True


def test_failed_dry_run_fails_the_workflow() -> None:
    obj = workflow([restart(1), restart(2)], strategy={"dryRunFirst": True})
    cluster = Cluster(in_phase(obj, "Validating"))
    cluster.run()
    cluster.finish_child("wfe-web-dryrun-1")
    cluster.finish_child("wfe-web-dryrun-2", "Failed", message="precondition failed: no replica")
    assert phases(cluster.run()) == ["Failed"]
    assert cluster.status["transitions"][-1]["reason"] == "DryRunFailed"
    reason = "dry run failed: step 2: precondition failed: no replica"
    assert cluster.status["failureReason"] == reason
    step_results = cluster.status["validationResults"]["dryRunResults"]["stepResults"]
    assert [r["wouldSucceed"] for r in step_results] == [True, False]
    assert not [name for name in cluster.created if "-step-" in name]


def test_dry_run_timeout_fails_validation() -> None:
    obj = workflow([restart(1)], strategy={"dryRunFirst": True})
    cluster = Cluster(in_phase(obj, "Validating"))
    cluster.run()
    assert phases(cluster.run(after=timedelta(minutes=5))) == ["Failed"]
    assert cluster.status["transitions"][-1]["reason"] == "TimeoutValidating"


# --- executing ---------------------------------------------------------------------------


PARAMS = {"restartDeployment": {"namespace": "shop", "deployment": "web"}}


def parallel_pair(max_parallel: int = 3, **strategy: Any) -> JSON:
    steps = [restart(1), scale(2, 4, dependsOn=[1]), scale(3, 5, dependsOn=[1])]
    obj = workflow(steps, strategy={"maxParallel": max_parallel, **strategy})
    return in_phase(obj, "Validating")


def test_three_steps_with_a_parallel_pair_run_level_by_level() -> None:
    cluster = Cluster(parallel_pair())
    run_to_executing(cluster)
    effects = cluster.run()
    assert creates(effects) == ["wfe-web-step-1"]
    assert requeues(effects) == [1200.0]  # 5m per attempt, 1 + 3 retries
    assert cluster.step(1)["status"] == "Executing"
    assert cluster.step(1)["executionRef"] == {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "KubernetesExecution",
        "name": "wfe-web-step-1",
        "namespace": "shop",
    }
    assert cluster.run() == [RequeueAfter(1200.0)]  # nothing changed: no write, no child

    cluster.now += timedelta(seconds=20)
    cluster.finish_child("wfe-web-step-1")
    effects = cluster.run()
    assert creates(effects) == ["wfe-web-step-2", "wfe-web-step-3"]
    assert cluster.step(1)["status"] == "Completed"
    assert cluster.step(1)["endTime"] == ts(cluster.now)
    assert cluster.step(1)["executionRef"]["uid"] == "uid-wfe-web-step-1"
    assert cluster.status["currentStep"] == 1
    assert cluster.status["stepsCompleted"] == 1

    cluster.finish_child("wfe-web-step-2")
    effects = cluster.run()
    assert creates(effects) == []
    assert phases(effects) == []
    cluster.finish_child("wfe-web-step-3")
    effects = cluster.run()
    assert phases(effects) == ["Monitoring"]
    assert cluster.status["monitoringStartTime"] == ts(cluster.now)
    assert cluster.status["stepsCompleted"] == 3
    assert cluster.status["currentStep"] == 3


def test_max_parallel_limits_steps_in_flight() -> None:
    cluster = Cluster(parallel_pair(max_parallel=1))
    run_to_executing(cluster)
    assert creates(cluster.run()) == ["wfe-web-step-1"]
    cluster.finish_child("wfe-web-step-1")
    assert creates(cluster.run()) == ["wfe-web-step-2"]
    assert cluster.step(3)["status"] == "Pending"
    cluster.finish_child("wfe-web-step-2")
    assert creates(cluster.run()) == ["wfe-web-step-3"]


def test_step_execution_spec_and_ownership() -> None:
    rollback_spec = {
        "action": "scaleDeployment",
        "parameters": {
            "scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": 3}
        },
    }
    steps = [restart(1, timeout="2m"), scale(2, 5, maxRetries=5, rollbackSpec=rollback_spec)]
    obj = workflow(steps, strategy={"maxRetries": 2}, timeouts={"step": "90s"})
    cluster = Cluster(in_phase(obj, "Executing"))
    cluster.run()
    first = cluster.children["wfe-web-step-1"]
    assert first["metadata"]["labels"] == {
        "kubernaut.ai/workflow": "wfe-web",
        "kubernaut.ai/remediation": "rr-web",
        "kubernaut.ai/environment": "prod",
    }
    assert first["metadata"]["finalizers"] == ["kubernetesexecution.kubernaut.ai/cleanup"]
    assert first["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "kubernaut.ai/v1alpha1",
            "kind": "WorkflowExecution",
            "name": "wfe-web",
            "uid": "wfe-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert first["spec"] == {
        "workflowExecutionRef": {"name": "wfe-web", "namespace": "shop", "uid": "wfe-uid"},
        "stepNumber": 1,
        "targetResource": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": "shop",
            "name": "web",
        },
        "action": "restartDeployment",
        "parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
        "timeout": "2m",
        "maxRetries": 2,
        "dryRun": False,
        "preConditions": [
            {
                "type": "deployment_has_ready_replica",
                "rego": "deployment_has_ready_replica",
                "required": True,
            }
        ],
        "postConditions": [
            {"type": "deployment_available", "rego": "deployment_available", "required": True}
        ],
    }
    second = cluster.children["wfe-web-step-2"]["spec"]
    assert second["timeout"] == "1m30s"
    assert second["maxRetries"] == 2  # the strategy caps the step's 5
    assert second["rollbackSpec"] == rollback_spec
    assert "preConditions" not in second
    assert second["postConditions"][0]["rego"] == "replicas_match"


def test_non_critical_failure_skips_dependents_and_goes_on() -> None:
    steps = [restart(1), scale(2, 4, dependsOn=[1]), scale(3, 5)]
    cluster = Cluster(in_phase(workflow(steps), "Executing"))
    assert creates(cluster.run()) == ["wfe-web-step-1", "wfe-web-step-3"]
    cluster.finish_child("wfe-web-step-1", "Failed", message="job failed: exit 1", attempts=4)
    effects = cluster.run()
    assert phases(effects) == []
    assert cluster.step(1)["status"] == "Failed"
    assert cluster.step(1)["errorMessage"] == "job failed: exit 1"
    assert cluster.step(1)["retriesAttempted"] == 3
    assert cluster.step(2)["status"] == "Skipped"
    assert cluster.step(2)["errorMessage"] == "not run: dependency step 1 (restart-1) failed"
    failed = RecordEvent("Warning", "StepFailed", "step 1 (restart-1) failed: job failed: exit 1")
    assert failed in effects
    assert any(isinstance(e, AuditNote) and e.note_type == "step-skipped" for e in effects)

    cluster.finish_child("wfe-web-step-3")
    assert phases(cluster.run()) == ["Monitoring"]
    assert cluster.status["stepsFailed"] == 1
    assert cluster.status["stepsSkipped"] == 1
    assert phases(cluster.run()) == ["Completed"]
    result = cluster.status["workflowResult"]
    assert result["outcome"] == "PartiallySucceeded"
    assert result["effectivenessScore"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["resourceHealth"] == "Healthy"
    assert len(result["recommendedActions"]) == 2


def test_no_completed_step_fails_the_workflow() -> None:
    cluster = Cluster(in_phase(workflow([restart(1)]), "Executing"))
    cluster.run()
    cluster.finish_child("wfe-web-step-1", "TimedOut")
    assert phases(cluster.run()) == ["Failed"]
    assert cluster.status["transitions"][-1]["reason"] == "NoStepSucceeded"
    assert cluster.status["stepStatuses"][0]["status"] == "Failed"


def test_step_timeout_fails_the_step_with_the_clock() -> None:
    obj = workflow([restart(1, timeout="1m", maxRetries=1, criticalStep=True)])
    cluster = Cluster(in_phase(obj, "Executing"))
    assert requeues(cluster.run()) == [120.0]
    assert cluster.run(after=timedelta(seconds=119)) == [RequeueAfter(1.0)]
    effects = cluster.run(after=timedelta(seconds=1))
    assert phases(effects) == ["Failed"]
    assert cluster.step(1)["status"] == "Failed"
    assert cluster.step(1)["errorMessage"] == "timed out after 2m (2 attempt(s) of 1m)"
    assert cluster.status["transitions"][-1]["reason"] == "CriticalStepFailed"
    assert cluster.status["failureReason"].endswith("nothing to roll back")


def test_critical_failure_with_manual_rollback_fails_without_undo() -> None:
    steps = [restart(1), restart(2, dependsOn=[1], criticalStep=True), restart(3, dependsOn=[2])]
    obj = workflow(steps, strategy={"rollbackStrategy": "manual"})
    cluster = Cluster(in_phase(obj, "Executing"))
    cluster.run()
    cluster.finish_child("wfe-web-step-1")
    cluster.run()
    cluster.finish_child("wfe-web-step-2", "Failed", message="boom")
    effects = cluster.run()
    assert phases(effects) == ["Failed"]
    assert cluster.status["failureReason"] == (
        "critical step 2 (restart-2) failed: boom; "
        "rollbackStrategy is manual: manual intervention required"
    )
    assert cluster.step(3)["status"] == "Skipped"
    assert not [name for name in cluster.created if "rollback" in name]
    assert cluster.status["executionMetrics"]["stepSuccessRate"] == pytest.approx(1 / 3, abs=1e-4)


def test_critical_failure_waits_for_steps_in_flight_before_rolling_back() -> None:
    steps = [
        restart(1, criticalStep=True),
        scale(2, 4, rollbackSpec={"action": "restartDeployment", "parameters": PARAMS}),
        restart(3, dependsOn=[1]),
    ]
    cluster = Cluster(in_phase(workflow(steps), "Executing"))
    assert creates(cluster.run()) == ["wfe-web-step-1", "wfe-web-step-2"]
    cluster.finish_child("wfe-web-step-1", "Failed", message="boom")
    effects = cluster.run()
    assert phases(effects) == []
    assert creates(effects) == []
    assert cluster.step(3)["status"] == "Skipped"
    cluster.finish_child("wfe-web-step-2")
    effects = cluster.run()
    assert phases(effects) == ["RollingBack"]
    assert cluster.status["rollbackReason"] == "critical step 1 (restart-1) failed: boom"


def test_critical_step_skipped_by_a_failed_dependency_stops_the_workflow() -> None:
    steps = [restart(1), restart(2), restart(3, dependsOn=[2], criticalStep=True)]
    cluster = Cluster(in_phase(workflow(steps, strategy={"rollbackStrategy": "none"}), "Executing"))
    cluster.run()
    cluster.finish_child("wfe-web-step-1")
    cluster.finish_child("wfe-web-step-2", "Failed", message="boom")
    assert phases(cluster.run()) == ["Failed"]
    assert cluster.status["failureReason"].startswith(
        "critical step 3 (restart-3) was skipped: not run: dependency step 2 (restart-2) failed"
    )


# --- rolling back --------------------------------------------------------------------------

UNDO_1 = {
    "action": "scaleDeployment",
    "parameters": {"scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": 3}},
    "timeout": "1m",
}
INFO_2 = {
    "available": True,
    "action": "rollbackDeployment",
    "parameters": {"rollbackDeployment": {"namespace": "shop", "deployment": "web"}},
}


def rollback_scenario(third: JSON | None = None) -> Cluster:
    """Steps 1 and 2 complete (1 first), critical step 3 fails."""
    steps = [
        scale(1, 5, rollbackSpec=UNDO_1),
        restart(2, dependsOn=[1]),
        third or restart(3, dependsOn=[2], criticalStep=True),
    ]
    cluster = Cluster(in_phase(workflow(steps), "Executing"))
    cluster.run()
    cluster.now += timedelta(seconds=5)
    cluster.finish_child("wfe-web-step-1")
    cluster.run()
    cluster.now += timedelta(seconds=5)
    cluster.finish_child("wfe-web-step-2", rollbackInfo=INFO_2)
    cluster.run()
    cluster.now += timedelta(seconds=5)
    cluster.finish_child("wfe-web-step-3", "Failed", message="postcondition failed")
    assert phases(cluster.run()) == ["RollingBack"]
    return cluster


def test_critical_failure_rolls_back_in_reverse_order_one_at_a_time() -> None:
    cluster = rollback_scenario()
    effects = cluster.run()
    assert creates(effects) == ["wfe-web-rollback-2"]  # step 2 completed last
    undo_2 = cluster.children["wfe-web-rollback-2"]["spec"]
    assert undo_2["action"] == "rollbackDeployment"
    assert undo_2["parameters"] == INFO_2["parameters"]
    assert undo_2["postConditions"][0]["rego"] == "deployment_available"
    assert "preConditions" not in undo_2
    assert cluster.run() == [RequeueAfter(1200.0)]  # rollback 2 running: rollback 1 waits

    cluster.finish_child("wfe-web-rollback-2")
    effects = cluster.run()
    assert creates(effects) == ["wfe-web-rollback-1"]
    assert cluster.step(2)["status"] == "RolledBack"
    undo_1 = cluster.children["wfe-web-rollback-1"]["spec"]
    assert (undo_1["action"], undo_1["timeout"]) == ("scaleDeployment", "1m")

    cluster.finish_child("wfe-web-rollback-1")
    effects = cluster.run()
    assert phases(effects) == ["RolledBack"]
    assert [s["status"] for s in cluster.status["stepStatuses"]] == [
        "RolledBack",
        "RolledBack",
        "Failed",
    ]
    assert cluster.status["executionMetrics"]["rollbacksPerformed"] == 2
    assert cluster.status["workflowResult"]["outcome"] == "Failed"
    assert cluster.created[-2:] == ["wfe-web-rollback-2", "wfe-web-rollback-1"]


def test_step_without_any_undo_is_recorded_as_not_reversible() -> None:
    cluster = rollback_scenario()
    del cluster.children["wfe-web-step-2"]["status"]["rollbackInfo"]
    effects = cluster.run()
    assert creates(effects) == ["wfe-web-rollback-1"]
    assert cluster.step(2)["errorMessage"].startswith("not reversible")
    assert any(isinstance(e, RecordEvent) and e.reason == "StepNotReversible" for e in effects)
    cluster.finish_child("wfe-web-rollback-1")
    assert phases(cluster.run()) == ["RolledBack"]
    assert cluster.step(2)["status"] == "Completed"
    assert cluster.status["workflowResult"]["recommendedActions"][0].startswith(
        "step 2 stays applied"
    )


def test_failing_rollback_fails_the_workflow() -> None:
    cluster = rollback_scenario()
    cluster.run()
    cluster.finish_child("wfe-web-rollback-2", "Failed", message="rollout undo refused")
    effects = cluster.run()
    assert phases(effects) == ["Failed"]
    assert cluster.status["transitions"][-1]["reason"] == "RollbackFailed"
    assert cluster.status["failureReason"] == (
        "rollback of step 2 (restart-2) failed: rollout undo refused"
    )
    assert cluster.status["rollbackReason"].startswith("critical step 3")
    assert "wfe-web-rollback-1" not in cluster.children


def test_rollback_that_never_finishes_times_out() -> None:
    cluster = rollback_scenario()
    cluster.run()
    # restart step: 5m per attempt, 1 + 3 retries
    assert cluster.run(after=timedelta(minutes=19)) == [RequeueAfter(60.0)]
    assert phases(cluster.run(after=timedelta(minutes=1))) == ["Failed"]
    assert "timed out" in cluster.status["failureReason"]


# --- monitoring ----------------------------------------------------------------------------


def monitoring(**strategy: Any) -> Cluster:
    obj = workflow([scale(1, 3)], strategy=strategy)
    done = {
        "stepNumber": 1,
        "action": "scaleDeployment",
        "status": "Completed",
        "startTime": ts(NOW - timedelta(minutes=1)),
        "endTime": ts(NOW),
        "result": {
            "success": True,
            "resourcesAffected": [
                {"kind": "Deployment", "name": "web", "namespace": "shop", "changeType": "scaled"}
            ],
        },
    }
    status: JSON = {
        "monitoringStartTime": ts(NOW),
        "planningStartTime": ts(NOW - timedelta(minutes=2)),
        "stepStatuses": [done],
    }
    return Cluster(in_phase(obj, "Monitoring", **status))


def test_monitoring_success_completes_with_result_and_metrics() -> None:
    cluster = monitoring()
    assert phases(cluster.run(after=timedelta(seconds=3))) == ["Completed"]
    assert cluster.status["workflowResult"] == {
        "outcome": "Succeeded",
        "effectivenessScore": 1.0,
        "resourceHealth": "Healthy",
    }
    assert cluster.status["executionMetrics"] == {
        "totalDuration": "2m3s",
        "stepSuccessRate": 1.0,
        "rollbacksPerformed": 0,
        "resourcesAffected": 1,
    }
    assert cluster.status["completionTime"] == ts(cluster.now)


def test_monitoring_waits_for_the_rollout_then_times_out_degraded() -> None:
    cluster = monitoring()
    cluster.deployments[("shop", "web")] = deployment(available=2, updated=3, current=4)
    assert cluster.run(after=timedelta(minutes=1)) == [RequeueAfter(5.0)]
    assert cluster.run(after=timedelta(seconds=538)) == [RequeueAfter(2.0)]
    effects = cluster.run(after=timedelta(seconds=2))
    assert phases(effects) == ["Failed"]
    assert cluster.status["transitions"][-1]["reason"] == "TimeoutMonitoring"
    result = cluster.status["workflowResult"]
    assert result["outcome"] == "Failed"
    assert result["resourceHealth"] == "Degraded"
    assert result["effectivenessScore"] == 0.0
    assert result["recommendedActions"] == [
        "deployment shop/web: 1 old replica(s) pending termination; 2 of 3 replicas available"
    ]


def test_monitoring_missing_target_is_unhealthy() -> None:
    cluster = monitoring()
    cluster.deployments.clear()
    cluster.run(after=timedelta(minutes=10))
    assert cluster.status["workflowResult"]["resourceHealth"] == "Unhealthy"
    assert "deployment shop/web not found" in cluster.status["failureReason"]


def test_monitoring_timeout_is_taken_from_the_spec() -> None:
    cluster = monitoring()
    cluster.obj["spec"]["timeouts"] = {"monitoring": "30s"}
    cluster.deployments[("shop", "web")] = deployment(available=0)
    assert phases(cluster.run(after=timedelta(seconds=30))) == ["Failed"]


# --- restart safety ----------------------------------------------------------------------


def test_existing_children_are_adopted_never_created_again() -> None:
    # The reconciler died after creating step 1's execution but before recording it.
    cluster = Cluster(parallel_pair())
    run_to_executing(cluster)
    cluster.children["wfe-web-step-1"] = {
        "metadata": {
            "name": "wfe-web-step-1",
            "uid": "ke-1",
            "creationTimestamp": ts(NOW - timedelta(seconds=30)),
        },
        "status": {"phase": "Executing", "attempts": 1},
    }
    effects = cluster.run()
    assert creates(effects) == []
    assert cluster.step(1)["status"] == "Executing"
    assert cluster.step(1)["startTime"] == ts(NOW - timedelta(seconds=30))
    assert cluster.step(1)["executionRef"]["uid"] == "ke-1"
    assert cluster.run() == [RequeueAfter(1170.0)]


def test_children_seen_through_a_fresh_reconciler_create_nothing() -> None:
    cluster = rollback_scenario()
    cluster.run()
    restarted = Cluster(copy.deepcopy(cluster.obj), now=cluster.now)
    restarted.children = copy.deepcopy(cluster.children)
    assert creates(restarted.run()) == []


def test_decide_is_idempotent_on_its_own_result() -> None:
    cluster = Cluster(parallel_pair())
    run_to_executing(cluster)
    cluster.run()
    cluster.finish_child("wfe-web-step-1")
    cluster.run()
    again = cluster.run()
    assert [e for e in again if not isinstance(e, RequeueAfter)] == []


# --- finalizer -----------------------------------------------------------------------------


def deleting(**status: Any) -> JSON:
    obj = in_phase(workflow([restart(1)]), "Executing", **status)
    obj["metadata"]["deletionTimestamp"] = ts(NOW)
    return obj


def test_deletion_with_complete_audit_removes_the_finalizer() -> None:
    cluster = Cluster(deleting())
    effects = cluster.run()
    assert effects == [
        RecordEvent("Normal", "Finalized", "audit trail complete; cleanup finished"),
        RemoveFinalizer(FINALIZER),
    ]


def test_deletion_waits_for_the_audit_trail_within_the_grace_period() -> None:
    cluster = Cluster(deleting())
    cluster.audit_complete = False
    assert cluster.run() == [RequeueAfter(5.0)]
    assert cluster.run(after=timedelta(minutes=9, seconds=58)) == [RequeueAfter(2.0)]
    effects = cluster.run(after=timedelta(seconds=2))
    assert isinstance(effects[0], RecordEvent)
    assert effects[0].reason == "AuditIncomplete"
    assert effects[1] == RemoveFinalizer(FINALIZER)


def test_deletion_without_our_finalizer_does_nothing() -> None:
    obj = deleting()
    obj["metadata"]["finalizers"] = []
    assert Cluster(obj).run() == []


def test_deleting_workflow_creates_no_children() -> None:
    cluster = Cluster(deleting())
    cluster.audit_complete = False
    assert creates(cluster.run()) == []


def test_grace_period_is_configurable() -> None:
    settings = WorkflowExecutionSettings(audit_grace=timedelta(seconds=30))
    cluster = Cluster(deleting(), settings)
    cluster.audit_complete = False
    assert RemoveFinalizer(FINALIZER) in cluster.run(after=timedelta(seconds=30))


def test_observe_reads_the_approval_of_the_owner_with_the_same_uid_only() -> None:
    from reconciler.cache import Cache
    from reconciler.controller import ClusterView
    from reconciler.controllers.workflowexecution import REMEDIATION_REQUESTS

    def remediation(uid: str) -> JSON:
        return {
            "metadata": {
                "name": "rr-web",
                "namespace": "shop",
                "uid": uid,
                "annotations": {"kubernaut.ai/approval": "approved", "other": "x"},
            }
        }

    obj = workflow([restart(1)])
    obj["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "kubernaut.ai/v1alpha1",
            "kind": "RemediationRequest",
            "name": "rr-web",
            "uid": "rr-uid",
            "controller": True,
        }
    ]
    cache = Cache()
    view = ClusterView(None, {REMEDIATION_REQUESTS: [cache]})  # type: ignore[arg-type]
    controller = WorkflowExecutionController()
    assert controller.observe(obj, view).owner_annotations == {}
    cache.upsert(remediation("another-uid"))
    assert controller.observe(obj, view).owner_annotations == {}
    cache.upsert(remediation("rr-uid"))
    assert controller.observe(obj, view).owner_annotations == {"kubernaut.ai/approval": "approved"}
