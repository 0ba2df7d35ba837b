"""RemediationRequest controller: decide over plain objects for every phase and failure path."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from api.constants import LABEL_ENVIRONMENT, LABEL_REMEDIATION
from api.timestamps import format_timestamp
from api.validation import validate_resource
from reconciler.cache import Cache
from reconciler.controller import ClusterView, Controller
from reconciler.controllers.remediationrequest import (
    FINALIZER,
    RemediationObservation,
    RemediationRequestController,
    RemediationSettings,
    parse_channels,
)
from reconciler.controllers.rr_children import (
    AI_ANALYSES,
    CHILD_RESOURCES,
    NOTIFICATION_REQUESTS,
    REMEDIATION_REQUESTS,
    SIGNAL_PROCESSINGS,
    WORKFLOW_EXECUTIONS,
    ChildRole,
    name_of,
)
from reconciler.effects import (
    AddFinalizer,
    AuditNote,
    CreateChild,
    DeleteObject,
    Effect,
    PatchMetadata,
    PatchStatus,
    RecordEvent,
    RemoveFinalizer,
    RequeueAfter,
)
from reconciler.kube import KubeClient, Resource

JSON = dict[str, Any]

NOW = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
CREATED = NOW - timedelta(minutes=1)
UID = "rr-uid"
NAME = "crash"
NS = "shop"
FINGERPRINT = "ab" * 32
WORKFLOW: JSON = {
    "name": "restart-web",
    "version": "1.0.0",
    "steps": [
        {
            "stepNumber": 1,
            "name": "restart",
            "action": "restartDeployment",
            "parameters": {"restartDeployment": {"namespace": NS, "deployment": "web"}},
        }
    ],
}
SP_DONE: JSON = {
    "targetFound": True,
    "namespaceLabels": {"team": "shop"},
    "environment": "production",
    "severity": "critical",
    "priority": "P0",
}
CONTROLLER = RemediationRequestController()


def ts(value: datetime) -> str:
    return format_timestamp(value)


def rr(
    phase: str | None = None,
    *,
    name: str = NAME,
    uid: str = UID,
    created: datetime = CREATED,
    since: datetime | None = None,
    annotations: Mapping[str, str] | None = None,
    status: Mapping[str, Any] | None = None,
    timeouts: Mapping[str, str] | None = None,
    finalizers: Sequence[str] = (FINALIZER,),
    target: str = "web",
) -> JSON:
    metadata: JSON = {
        "name": name,
        "namespace": NS,
        "uid": uid,
        "generation": 1,
        "creationTimestamp": ts(created),
        "finalizers": list(finalizers),
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    spec: JSON = {
        "signalFingerprint": FINGERPRINT,
        "signalName": "KubePodCrashLooping",
        "severity": "critical",
        "signalType": "prometheus",
        "signalSource": "alertmanager",
        "targetResource": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "namespace": NS,
            "name": target,
        },
    }
    if timeouts:
        spec["timeouts"] = dict(timeouts)
    obj: JSON = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationRequest",
        "metadata": metadata,
        "spec": spec,
    }
    if phase is not None:
        start = since or NOW - timedelta(seconds=10)
        obj["status"] = {
            "phase": phase,
            "phaseStartTime": ts(start),
            "startTime": ts(created),
            "occurrences": 1,
            "transitions": [{"phase": phase, "at": ts(start), "reason": "Test", "index": 3}],
            **(status or {}),
        }
    return obj


def child(
    role: ChildRole,
    phase: str | None,
    status: Mapping[str, Any] | None = None,
    *,
    owner_uid: str = UID,
    owner_name: str = NAME,
) -> JSON:
    resource = CHILD_RESOURCES[role]
    obj: JSON = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": resource.kind,
        "metadata": {
            "name": name_of(NAME, role),
            "namespace": NS,
            "uid": f"{role}-uid",
            "ownerReferences": [
                {
                    "apiVersion": "kubernaut.ai/v1alpha1",
                    "kind": "RemediationRequest",
                    "name": owner_name,
                    "uid": owner_uid,
                    "controller": True,
                }
            ],
        },
        "spec": {},
    }
    if phase is not None:
        obj["status"] = {"phase": phase, **(status or {})}
    return obj


def sp_done() -> JSON:
    return child("signal", "Completed", SP_DONE)


def aia_done(approval: bool = False, **status: Any) -> JSON:
    fields: JSON = {"selectedWorkflow": WORKFLOW, "confidence": 0.9, "approvalRequired": approval}
    return child("analysis", "Completed", {**fields, **status})


def seen(*children: JSON, peers: Sequence[JSON] = ()) -> RemediationObservation:
    """An observation holding ``children`` under their roles (the suffix of their names)."""
    found = {cast(ChildRole, item["metadata"]["name"].rsplit("-", 1)[1]): item for item in children}
    return RemediationObservation(children=found, peers=tuple(peers))


def decide(obj: JSON, observed: RemediationObservation | None = None, **kw: Any) -> list[Effect]:
    controller = RemediationRequestController(**kw) if kw else CONTROLLER
    return controller.decide(obj, observed or RemediationObservation(), NOW)


# ------------------------------------------------------------------- reading


def moves(effects: Sequence[Effect]) -> list[str]:
    return [
        e.phase_change.to_phase for e in effects if isinstance(e, PatchStatus) and e.phase_change
    ]


def last_move(effects: Sequence[Effect]) -> PatchStatus:
    found = [e for e in effects if isinstance(e, PatchStatus) and e.phase_change]
    assert found, f"no phase move in {effects}"
    return found[-1]


def reason(effects: Sequence[Effect]) -> str:
    change = last_move(effects).phase_change
    assert change is not None
    return change.reason


def status_after(obj: JSON, effects: Sequence[Effect]) -> JSON:
    status = copy.deepcopy(obj.get("status") or {})
    for effect in effects:
        if isinstance(effect, PatchStatus):
            status.update(copy.deepcopy(effect.changes))
    return status


def created(effects: Sequence[Effect]) -> dict[str, JSON]:
    return {e.body["metadata"]["name"]: e.body for e in effects if isinstance(e, CreateChild)}


def requeue(effects: Sequence[Effect]) -> float | None:
    delays = [e.seconds for e in effects if isinstance(e, RequeueAfter)]
    return min(delays) if delays else None


def assert_valid(body: JSON) -> None:
    outcome = validate_resource(body)
    assert outcome.valid, [str(error) for error in outcome.errors]


# -------------------------------------------------------------- the controller


def test_controller_shape() -> None:
    controller: Controller[RemediationObservation] = CONTROLLER
    assert controller.resource == REMEDIATION_REQUESTS
    assert controller.resource.plural == "remediationrequests"
    assert {r.plural for r in controller.owns} == {
        "signalprocessings",
        "aianalyses",
        "workflowexecutions",
        "notificationrequests",
    }
    assert controller.reads == ()


def test_new_request_gets_finalizer_then_pending_then_processing() -> None:
    obj = rr(finalizers=())
    effects = decide(obj)
    assert effects[0] == AddFinalizer(FINALIZER)
    assert moves(effects) == ["Pending", "Processing"]
    indexes = [
        e.phase_change.index for e in effects if isinstance(e, PatchStatus) and e.phase_change
    ]
    assert indexes == [0, 1]
    body = created(effects)[f"{NAME}-signal"]
    assert body["kind"] == "SignalProcessing"
    assert body["spec"]["remediationRequestRef"] == {"name": NAME, "namespace": NS, "uid": UID}
    assert body["spec"]["signal"]["fingerprint"] == FINGERPRINT
    assert body["spec"]["signal"]["targetResource"]["name"] == "web"
    assert body["metadata"]["labels"] == {LABEL_REMEDIATION: NAME}
    owner = body["metadata"]["ownerReferences"][0]
    assert owner == {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "RemediationRequest",
        "name": NAME,
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert_valid(body)
    status = status_after(obj, effects)
    assert status["startTime"] == ts(CREATED)
    assert status["occurrences"] == 1
    assert status["signalProcessingRef"]["name"] == f"{NAME}-signal"
    # The child is created before the status write that records it.
    kinds = [type(e).__name__ for e in effects]
    assert kinds.index("CreateChild") < len(kinds) - 1 - kinds[::-1].index("PatchStatus")
    # Waits for the Processing deadline (5m from now), the nearest one.
    assert requeue(effects) == 300.0


# ------------------------------------------------------------------ Processing

PROCESSING_CASES = [
    pytest.param(None, [], [f"{NAME}-signal"], None, id="child-missing-created-again"),
    pytest.param(child("signal", "Enriching"), [], [], None, id="still-enriching"),
    pytest.param(
        child("signal", "Failed", {"message": "target namespace not readable"}),
        ["Failed"],
        [f"{NAME}-escalation"],
        "SignalProcessingFailed",
        id="child-failed",
    ),
    pytest.param(sp_done(), ["Analyzing"], [f"{NAME}-analysis"], "SignalProcessed", id="completed"),
    pytest.param(
        child("signal", "Enriching", owner_uid="old-uid"), [], [], None, id="stale-incarnation"
    ),
    pytest.param(
        child("signal", "Enriching", owner_uid="x", owner_name="other"),
        ["Failed"],
        [f"{NAME}-escalation"],
        "ChildConflict",
        id="foreign-child",
    ),
]


@pytest.mark.parametrize(("found", "phases", "creates", "why"), PROCESSING_CASES)
def test_processing(
    found: JSON | None, phases: list[str], creates: list[str], why: str | None
) -> None:
    effects = decide(rr("Processing"), seen(*([found] if found else [])))
    assert moves(effects) == phases
    assert sorted(created(effects)) == creates
    if why:
        assert reason(effects) == why
    if not phases:
        assert requeue(effects) == pytest.approx(290.0)


def test_processing_completed_creates_analysis_with_enrichment_and_labels() -> None:
    obj = rr("Processing")
    effects = decide(obj, seen(sp_done()))
    body = created(effects)[f"{NAME}-analysis"]
    assert_valid(body)
    assert body["spec"]["enrichment"] == SP_DONE
    assert body["spec"]["signal"]["name"] == "KubePodCrashLooping"
    assert body["metadata"]["labels"] == {LABEL_REMEDIATION: NAME, LABEL_ENVIRONMENT: "production"}
    assert PatchMetadata(labels={LABEL_ENVIRONMENT: "production"}) in effects
    status = status_after(obj, effects)
    assert status["signalProcessingRef"]["uid"] == "signal-uid"
    assert status["aiAnalysisRef"]["name"] == f"{NAME}-analysis"
    assert "environment production" in status["message"]
    assert requeue(effects) == 600.0  # Analyzing: 10m


def test_environment_label_of_the_request_is_never_overridden() -> None:
    obj = rr("Processing")
    obj["metadata"]["labels"] = {LABEL_ENVIRONMENT: "staging"}
    effects = decide(obj, seen(sp_done()))
    assert not [e for e in effects if isinstance(e, PatchMetadata)]


def test_invalid_enrichment_fails_the_request() -> None:
    effects = decide(rr("Processing"), seen(child("signal", "Completed", {"priority": "urgent"})))
    assert moves(effects) == ["Failed"]
    assert reason(effects) == "SignalProcessingInvalid"
    assert "status.priority" in status_after(rr("Processing"), effects)["message"]


# ------------------------------------------------------------------- Analyzing

ANALYZING_CASES = [
    pytest.param([sp_done()], [], [f"{NAME}-analysis"], None, id="child-missing-created-again"),
    pytest.param([], ["Failed"], [f"{NAME}-escalation"], "ChildLost", id="child-and-source-lost"),
    pytest.param([sp_done(), child("analysis", "Investigating")], [], [], None, id="investigating"),
    pytest.param(
        [sp_done(), child("analysis", "Failed", {"message": "catalog has no match"})],
        ["Failed"],
        [f"{NAME}-escalation"],
        "AIAnalysisFailed",
        id="child-failed",
    ),
    pytest.param(
        [sp_done(), aia_done()], ["Executing"], [f"{NAME}-workflow"], "WorkflowSelected", id="go"
    ),
    pytest.param(
        [sp_done(), aia_done(approval=True)],
        ["AwaitingApproval"],
        [f"{NAME}-approval"],
        "ApprovalRequired",
        id="needs-approval",
    ),
    pytest.param(
        [sp_done(), aia_done(selectedWorkflow=None, message="nothing to do")],
        ["Failed"],
        [f"{NAME}-escalation"],
        "NoWorkflowSelected",
        id="no-workflow",
    ),
    pytest.param(
        [sp_done(), aia_done(selectedWorkflow={"name": "x", "version": "1", "steps": []})],
        ["Failed"],
        [f"{NAME}-escalation"],
        "InvalidWorkflow",
        id="invalid-workflow",
    ),
]


@pytest.mark.parametrize(("found", "phases", "creates", "why"), ANALYZING_CASES)
def test_analyzing(
    found: list[JSON], phases: list[str], creates: list[str], why: str | None
) -> None:
    effects = decide(rr("Analyzing"), seen(*found))
    assert moves(effects) == phases
    assert sorted(created(effects)) == creates
    if why:
        assert reason(effects) == why
    for body in created(effects).values():
        assert_valid(body)


def test_workflow_execution_carries_targeting_data_and_explicit_approval() -> None:
    obj = rr("Analyzing")
    effects = decide(obj, seen(sp_done(), aia_done()))
    body = created(effects)[f"{NAME}-workflow"]
    spec = body["spec"]
    assert spec["remediationRequestRef"] == {"name": NAME, "namespace": NS, "uid": UID}
    assert spec["targetResource"] == obj["spec"]["targetResource"]
    assert spec["workflowDefinition"] == WORKFLOW
    assert spec["executionStrategy"] == {"approvalRequired": False}
    assert body["metadata"]["labels"][LABEL_ENVIRONMENT] == "production"
    status = status_after(obj, effects)
    assert status["aiAnalysisRef"]["uid"] == "analysis-uid"
    assert status["workflowExecutionRef"]["name"] == f"{NAME}-workflow"
    assert requeue(effects) == 1800.0  # Executing: 30m


def test_approval_notification_tells_how_to_decide() -> None:
    obj = rr("Analyzing")
    effects = decide(
        obj, seen(sp_done(), aia_done(approval=True, approvalReason="confidence below 0.8"))
    )
    body = created(effects)[f"{NAME}-approval"]
    spec = body["spec"]
    assert spec["type"] == "Approval"
    assert spec["priority"] == "critical"  # P0
    assert "kubernaut.ai/approval=approved" in spec["body"]
    assert "confidence below 0.8" in spec["body"]
    assert "1. restart: restartDeployment" in spec["body"]
    status = status_after(obj, effects)
    assert [ref["name"] for ref in status["notificationRefs"]] == [f"{NAME}-approval"]
    assert (
        AuditNote(
            "notification",
            f"{NAME}-approval",
            "NotificationCreated",
            f"Approval notification {NAME}-approval created",
            {"notification": f"{NAME}-approval", "type": "Approval"},
        )
        in effects
    )
    assert requeue(effects) == 900.0  # AwaitingApproval: 15m


# ------------------------------------------------------------ AwaitingApproval

APPROVED = {
    "kubernaut.ai/approval": "approved",
    "kubernaut.ai/approved-by": "alice",
    "kubernaut.ai/approved-at": "2026-11-29T07:59:00Z",
}
REJECTED = {**APPROVED, "kubernaut.ai/approval": "rejected"}


def awaiting(annotations: Mapping[str, str] | None = None) -> JSON:
    refs = [
        {
            "apiVersion": "kubernaut.ai/v1alpha1",
            "kind": "NotificationRequest",
            "name": f"{NAME}-approval",
        }
    ]
    return rr("AwaitingApproval", annotations=annotations, status={"notificationRefs": refs})


def test_approved_request_runs_the_workflow_with_approval_required() -> None:
    effects = decide(awaiting(APPROVED), seen(sp_done(), aia_done(approval=True)))
    assert moves(effects) == ["Executing"]
    assert reason(effects) == "Approved"
    body = created(effects)[f"{NAME}-workflow"]
    assert body["spec"]["executionStrategy"] == {"approvalRequired": True}
    notes = [e for e in effects if isinstance(e, AuditNote)]
    assert notes == [
        AuditNote(
            "approval",
            "approved",
            "Approved",
            "approved by alice at 2026-11-29T07:59:00Z",
            {"decision": "approved", "approvedBy": "alice", "approvedAt": "2026-11-29T07:59:00Z"},
        )
    ]
    assert "alice" in status_after(awaiting(APPROVED), effects)["message"]


def test_rejected_request_fails_and_escalates() -> None:
    obj = awaiting(REJECTED)
    effects = decide(obj, seen(sp_done(), aia_done(approval=True)))
    assert moves(effects) == ["Failed"]
    assert reason(effects) == "ApprovalRejected"
    status = status_after(obj, effects)
    assert status["outcome"] == "Rejected"
    assert status["message"] == "rejected by alice at 2026-11-29T07:59:00Z"
    assert [ref["name"] for ref in status["notificationRefs"]] == [
        f"{NAME}-approval",
        f"{NAME}-escalation",
    ]
    assert f"{NAME}-workflow" not in created(effects)


def test_waiting_for_approval_recreates_a_missing_notification_only() -> None:
    effects = decide(awaiting(), seen(sp_done(), aia_done(approval=True)))
    assert moves(effects) == []
    assert list(created(effects)) == [f"{NAME}-approval"]
    assert requeue(effects) == pytest.approx(890.0)
    notice = child("approval", "Sent")
    effects = decide(awaiting(), seen(sp_done(), aia_done(approval=True), notice))
    assert [type(e) for e in effects] == [RequeueAfter]
    assert requeue(effects) == pytest.approx(890.0)


def test_approval_without_the_analysis_fails_as_lost() -> None:
    effects = decide(awaiting(APPROVED), seen(sp_done()))
    assert moves(effects) == ["Failed"]
    assert reason(effects) == "ChildLost"


# ------------------------------------------------------------------- Executing


def executing(**status: Any) -> JSON:
    return rr("Executing", status=status)


def wfe(phase: str, **status: Any) -> JSON:
    return child("workflow", phase, status)


EXECUTING_CASES = [
    pytest.param(
        wfe("Completed", workflowResult={"outcome": "Succeeded"}),
        "Completed",
        "WorkflowCompleted",
        "Succeeded",
        f"{NAME}-completion",
        "outcome Succeeded",
        id="completed",
    ),
    pytest.param(
        wfe("Failed", failureReason="step 1 (restart) failed: deployment not found"),
        "Failed",
        "WorkflowFailed",
        "Failed",
        f"{NAME}-escalation",
        "deployment not found",
        id="failed",
    ),
    pytest.param(
        wfe("RolledBack", rollbackReason="critical step 2 failed; undid step 1"),
        "Failed",
        "WorkflowRolledBack",
        "Failed",
        f"{NAME}-escalation",
        "undid step 1",
        id="rolled-back",
    ),
]


@pytest.mark.parametrize(
    ("execution", "phase", "why", "outcome", "notice", "text"), EXECUTING_CASES
)
def test_executing_maps_the_workflow_end(
    *, execution: JSON, phase: str, why: str, outcome: str, notice: str, text: str
) -> None:
    obj = executing()
    effects = decide(obj, seen(sp_done(), aia_done(), execution))
    assert moves(effects) == [phase]
    assert reason(effects) == why
    status = status_after(obj, effects)
    assert status["outcome"] == outcome
    assert status["completionTime"] == ts(NOW)
    assert text in status["message"]
    assert [ref["name"] for ref in status["notificationRefs"]] == [notice]
    body = created(effects)[notice]
    assert_valid(body)
    assert body["spec"]["remediationRequestRef"]["uid"] == UID
    assert requeue(effects) == 24 * 3600.0  # back for retention


def test_executing_aggregates_step_counts_once() -> None:
    running = wfe("Executing", totalSteps=3, stepsCompleted=1, stepsFailed=0)
    obj = executing(stepsTotal=3, stepsCompleted=0)
    effects = decide(obj, seen(sp_done(), aia_done(), running))
    patches = [e for e in effects if isinstance(e, PatchStatus)]
    assert patches == [PatchStatus({"stepsCompleted": 1, "stepsFailed": 0})]
    assert moves(effects) == []
    settled = executing(stepsTotal=3, stepsCompleted=1, stepsFailed=0)
    effects = decide(settled, seen(sp_done(), aia_done(), running))
    assert not [e for e in effects if isinstance(e, PatchStatus)]
    assert created(effects) == {}


def test_completed_request_reports_final_step_counts_in_its_notification() -> None:
    done = wfe("Completed", totalSteps=2, stepsCompleted=2, stepsFailed=0)
    effects = decide(executing(), seen(sp_done(), aia_done(), done))
    status = status_after(executing(), effects)
    assert (status["stepsTotal"], status["stepsCompleted"]) == (2, 2)
    body = created(effects)[f"{NAME}-completion"]
    assert "2 of 2 completed" in body["spec"]["body"]
    assert body["spec"]["priority"] == "low"
    assert body["spec"]["type"] == "Completion"


def test_executing_recreates_a_missing_workflow_with_the_analysis_approval() -> None:
    effects = decide(executing(), seen(sp_done(), aia_done(approval=True)))
    assert moves(effects) == []
    body = created(effects)[f"{NAME}-workflow"]
    assert body["spec"]["executionStrategy"] == {"approvalRequired": True}


# -------------------------------------------------------------------- timeouts

PHASE_LIMITS = [
    ("Processing", timedelta(minutes=5), [child("signal", "Enriching")]),
    ("Analyzing", timedelta(minutes=10), [sp_done(), child("analysis", "Investigating")]),
    (
        "AwaitingApproval",
        timedelta(minutes=15),
        [sp_done(), aia_done(True), child("approval", "Sent")],
    ),
    ("Executing", timedelta(minutes=30), [sp_done(), aia_done(), wfe("Executing")]),
]


@pytest.mark.parametrize(("phase", "limit", "found"), PHASE_LIMITS)
def test_phase_timeout(phase: str, limit: timedelta, found: list[JSON]) -> None:
    before = decide(rr(phase, since=NOW - limit + timedelta(seconds=1)), seen(*found))
    assert moves(before) == []
    assert requeue(before) == 1.0
    obj = rr(phase, since=NOW - limit)
    effects = decide(obj, seen(*found))
    assert moves(effects) == ["TimedOut"]
    assert reason(effects) == f"{phase}Timeout"
    status = status_after(obj, effects)
    assert status["outcome"] == "TimedOut"
    assert phase in status["message"]
    assert f"{NAME}-escalation" in created(effects)


@pytest.mark.parametrize(("phase", "limit", "found"), PHASE_LIMITS)
def test_global_timeout_in_every_phase(phase: str, limit: timedelta, found: list[JSON]) -> None:
    obj = rr(phase, created=NOW - timedelta(hours=1), since=NOW - timedelta(seconds=5))
    effects = decide(obj, seen(*found))
    assert moves(effects) == ["TimedOut"]
    assert reason(effects) == "GlobalTimeout"
    assert "the remediation exceeded its timeout of 1h" in status_after(obj, effects)["message"]


def test_global_deadline_is_the_nearest_one_when_it_comes_first() -> None:
    obj = rr("Executing", created=NOW - timedelta(minutes=50), since=NOW - timedelta(minutes=1))
    effects = decide(obj, seen(sp_done(), aia_done(), wfe("Executing")))
    assert requeue(effects) == 600.0


def test_timeouts_are_overridable_per_request() -> None:
    timeouts = {"processing": "1m", "global": "2h"}
    obj = rr("Processing", since=NOW - timedelta(seconds=61), timeouts=timeouts)
    effects = decide(obj, seen(child("signal", "Enriching")))
    assert reason(effects) == "ProcessingTimeout"
    assert "1m" in status_after(obj, effects)["message"]
    late = rr("Processing", created=NOW - timedelta(hours=1, minutes=30), timeouts=timeouts)
    assert moves(decide(late, seen(child("signal", "Enriching")))) == []


def test_pending_request_past_its_global_deadline_times_out() -> None:
    obj = rr("Pending", created=NOW - timedelta(hours=2))
    effects = decide(obj)
    assert moves(effects) == ["TimedOut"]
    assert reason(effects) == "GlobalTimeout"
    assert f"{NAME}-signal" not in created(effects)


def test_a_result_already_there_wins_over_a_passed_phase_deadline() -> None:
    late = rr("Processing", since=NOW - timedelta(minutes=6))
    assert moves(decide(late, seen(sp_done()))) == ["Analyzing"]
    done = rr("Executing", created=NOW - timedelta(hours=2), since=NOW - timedelta(hours=1))
    effects = decide(done, seen(sp_done(), aia_done(), wfe("Completed")))
    assert moves(effects) == ["Completed"]


def test_the_global_deadline_stops_progress() -> None:
    obj = rr("Processing", created=NOW - timedelta(hours=1))
    effects = decide(obj, seen(sp_done()))
    assert moves(effects) == ["TimedOut"]
    assert f"{NAME}-analysis" not in created(effects)


# ------------------------------------------------------------- notifications


def test_escalation_priority_channels_and_context() -> None:
    settings = RemediationSettings(
        channels=parse_channels(
            [{"type": "log"}, {"type": "slack", "secretRef": {"name": "hooks", "key": "ops"}}]
        )
    )
    obj = rr("Processing")
    failed = child("signal", "Failed", {"message": "boom", "priority": "P2"})
    effects = decide(obj, seen(failed), settings=settings)
    body = created(effects)[f"{NAME}-escalation"]
    assert_valid(body)
    spec = body["spec"]
    assert spec["type"] == "Escalation"
    assert spec["priority"] == "medium"  # P2 wins over the reported severity
    assert spec["channels"] == [
        {"type": "log"},
        {"type": "slack", "secretRef": {"name": "hooks", "key": "ops"}},
    ]
    assert spec["subject"] == ("Remediation Failed: KubePodCrashLooping on Deployment shop/web")
    assert "boom" in spec["body"]
    assert spec["metadata"]["reason"] == "SignalProcessingFailed"
    assert spec["metadata"]["remediation"] == NAME


def test_escalation_priority_without_classification_uses_the_reported_severity() -> None:
    obj = rr("Processing")
    obj["spec"]["severity"] = "warning"
    effects = decide(obj, seen(child("signal", "Failed")))
    assert created(effects)[f"{NAME}-escalation"]["spec"]["priority"] == "high"
    obj["spec"]["severity"] = "Low"
    effects = decide(obj, seen(child("signal", "Failed")))
    assert created(effects)[f"{NAME}-escalation"]["spec"]["priority"] == "low"


def test_skipped_requests_notify_nobody() -> None:
    original = rr(
        "Processing", name="first", uid="first-uid", created=CREATED - timedelta(minutes=5)
    )
    effects = decide(rr("Pending"), seen(peers=[original]))
    assert moves(effects) == ["Skipped"]
    assert created(effects) == {}


def test_invalid_spec_fails_from_any_start() -> None:
    obj = rr(finalizers=())
    del obj["spec"]["signalSource"]
    effects = decide(obj)
    assert moves(effects) == ["Pending", "Failed"]
    assert reason(effects) == "InvalidSpec"
    assert "spec.signalSource" in status_after(obj, effects)["message"]
    assert f"{NAME}-escalation" in created(effects)


# ------------------------------------------------------------------ retention


def finished(phase: str, ago: timedelta) -> JSON:
    return rr(phase, status={"completionTime": ts(NOW - ago), "outcome": "Succeeded"})


@pytest.mark.parametrize("phase", ["Completed", "Failed", "TimedOut", "Skipped"])
def test_terminal_requests_are_deleted_after_retention(phase: str) -> None:
    assert decide(finished(phase, timedelta(hours=23))) == [RequeueAfter(3600.0)]
    effects = decide(finished(phase, timedelta(hours=24)))
    assert DeleteObject(REMEDIATION_REQUESTS, NS, NAME, "Background") in effects
    assert [e.reason for e in effects if isinstance(e, RecordEvent)] == ["RetentionExpired"]


def test_retention_is_configurable_and_terminal_requests_are_otherwise_untouched() -> None:
    settings = RemediationSettings(retention=timedelta(hours=1))
    obj = finished("Failed", timedelta(minutes=30))
    everything = seen(wfe("Failed"), child("escalation", "Sent"))
    assert decide(obj, everything, settings=settings) == [RequeueAfter(1800.0)]


# ------------------------------------------------------------------ finalizer


def deleted(ago: timedelta, finalizers: Sequence[str] = (FINALIZER,)) -> JSON:
    obj = rr("Executing", finalizers=finalizers)
    obj["metadata"]["deletionTimestamp"] = ts(NOW - ago)
    return obj


def test_finalizer_is_removed_once_the_audit_trail_is_complete() -> None:
    effects = decide(deleted(timedelta(seconds=1)), RemediationObservation(audit_complete=True))
    assert effects[-1] == RemoveFinalizer(FINALIZER)
    assert [e.reason for e in effects if isinstance(e, RecordEvent)] == ["Finalized"]


def test_finalizer_waits_for_the_audit_trail_within_the_grace_period() -> None:
    incomplete = RemediationObservation(audit_complete=False)
    assert decide(deleted(timedelta(minutes=2)), incomplete) == [RequeueAfter(5.0)]
    assert decide(deleted(timedelta(seconds=598)), incomplete) == [RequeueAfter(2.0)]
    effects = decide(deleted(timedelta(minutes=10)), incomplete)
    assert effects[-1] == RemoveFinalizer(FINALIZER)
    assert [e.type for e in effects if isinstance(e, RecordEvent)] == ["Warning"]
    shorter = decide(
        deleted(timedelta(minutes=2)),
        incomplete,
        settings=RemediationSettings(audit_grace=timedelta(minutes=1)),
    )
    assert shorter[-1] == RemoveFinalizer(FINALIZER)


def test_deleted_request_without_the_finalizer_needs_nothing() -> None:
    assert decide(deleted(timedelta(minutes=1), finalizers=()), RemediationObservation()) == []


# -------------------------------------------------------------------- observe


class _Audit:
    def __init__(self, complete: bool) -> None:
        self.complete = complete
        self.asked: list[str] = []

    def is_complete(self, obj: JSON) -> bool:
        self.asked.append(obj["metadata"]["name"])
        return self.complete


def view_of(objects: Mapping[Resource, Sequence[JSON]]) -> ClusterView:
    caches: dict[Resource, list[Cache]] = {}
    for resource in {REMEDIATION_REQUESTS, *CHILD_RESOURCES.values()}:
        cache = Cache()
        for obj in objects.get(resource, ()):
            cache.upsert(obj)
        caches[resource] = [cache]
    return ClusterView(cast(KubeClient, None), caches)


def test_observe_reads_children_by_name_and_the_namespace_peers() -> None:
    obj = rr("Executing")
    other_ns = rr("Processing", name="elsewhere")
    other_ns["metadata"]["namespace"] = "other"
    view = view_of(
        {
            REMEDIATION_REQUESTS: [obj, other_ns],
            SIGNAL_PROCESSINGS: [sp_done()],
            AI_ANALYSES: [aia_done()],
            WORKFLOW_EXECUTIONS: [wfe("Executing")],
            NOTIFICATION_REQUESTS: [child("approval", "Sent")],
        }
    )
    observed = CONTROLLER.observe(obj, view)
    assert set(observed.children) == {"signal", "analysis", "workflow", "approval"}
    assert [p["metadata"]["name"] for p in observed.peers] == [NAME]


def test_observe_asks_the_audit_only_while_deleting_with_the_finalizer() -> None:
    audit = _Audit(False)
    controller = RemediationRequestController(audit=audit)
    view = view_of({})
    assert controller.observe(rr("Executing"), view).audit_complete is True
    assert controller.observe(deleted(timedelta(0)), view).audit_complete is False
    assert controller.observe(deleted(timedelta(0), finalizers=()), view).audit_complete is True
    assert audit.asked == [NAME]


def test_observe_reads_nothing_for_terminal_requests() -> None:
    view = view_of({SIGNAL_PROCESSINGS: [sp_done()]})
    assert CONTROLLER.observe(finished("Completed", timedelta(0)), view) == RemediationObservation()


# ------------------------------------------------------------------- settings


def test_settings_reject_bad_configuration() -> None:
    with pytest.raises(ValueError, match="retention must be positive"):
        RemediationSettings(retention=timedelta(0))
    with pytest.raises(ValueError, match="between 1 and 10 notification channels"):
        RemediationSettings(channels=())
    with pytest.raises(ValueError, match=r"channels\[1\]"):
        parse_channels([{"type": "log"}, {"type": "webhook"}])
    with pytest.raises(ValueError, match="at least one"):
        parse_channels([])


# ----------------------------------------------------------- restart safety


class _Cluster:
    """Applies effects to plain objects: enough to replay whole remediations."""

    def __init__(self, obj: JSON) -> None:
        self.rr = obj
        self.children: dict[str, JSON] = {}
        self.creates: list[str] = []

    def apply(self, effects: Sequence[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, PatchStatus):
                self.rr = {**self.rr, "status": {**(self.rr.get("status") or {}), **effect.changes}}
            elif isinstance(effect, AddFinalizer):
                self.rr["metadata"]["finalizers"] = [effect.name]
            elif isinstance(effect, CreateChild):
                name = effect.body["metadata"]["name"]
                self.creates.append(name)
                body = copy.deepcopy(effect.body)
                body["metadata"]["uid"] = f"{name}-uid"
                self.children.setdefault(name, body)

    def observed(self) -> RemediationObservation:
        return seen(*self.children.values())

    def step(self) -> list[Effect]:
        effects = CONTROLLER.decide(self.rr, self.observed(), NOW)
        self.apply(effects)
        return effects

    def set_child(self, role: ChildRole, phase: str, **status: Any) -> None:
        self.children[name_of(NAME, role)]["status"] = {"phase": phase, **status}


def test_a_whole_remediation_with_approval_and_restarts() -> None:
    cluster = _Cluster(rr(finalizers=()))
    cluster.step()
    assert cluster.rr["status"]["phase"] == "Processing"
    # A restarted reconciler deciding again on the same state creates nothing new.
    assert created(cluster.step()) == {}
    cluster.set_child("signal", "Completed", **SP_DONE)
    cluster.step()
    assert cluster.rr["status"]["phase"] == "Analyzing"
    assert created(cluster.step()) == {}
    cluster.set_child("analysis", "Completed", selectedWorkflow=WORKFLOW, approvalRequired=True)
    cluster.step()
    assert cluster.rr["status"]["phase"] == "AwaitingApproval"
    assert created(cluster.step()) == {}
    cluster.rr["metadata"]["annotations"] = APPROVED
    cluster.step()
    assert cluster.rr["status"]["phase"] == "Executing"
    assert created(cluster.step()) == {}
    cluster.set_child("workflow", "Completed", totalSteps=1, stepsCompleted=1, stepsFailed=0)
    cluster.step()
    status = cluster.rr["status"]
    assert status["phase"] == "Completed"
    assert [t["phase"] for t in status["transitions"]] == [
        "Pending",
        "Processing",
        "Analyzing",
        "AwaitingApproval",
        "Executing",
        "Completed",
    ]
    assert [t["index"] for t in status["transitions"]] == list(range(6))
    assert sorted(set(cluster.creates)) == sorted(
        f"{NAME}-{role}" for role in ("signal", "analysis", "approval", "workflow", "completion")
    )
    assert [ref["name"] for ref in status["notificationRefs"]] == [
        f"{NAME}-approval",
        f"{NAME}-completion",
    ]
    assert (status["stepsTotal"], status["stepsCompleted"]) == (1, 1)
    # Terminal: only waiting for retention from now on.
    assert cluster.step() == [RequeueAfter(24 * 3600.0)]


# --- children the API server refuses for good ------------------------------------


def test_a_refused_workflow_fails_the_request_with_the_servers_message_and_escalates() -> None:
    controller = RemediationRequestController()
    refused = {"kind": "WorkflowExecution", "metadata": {"name": f"{NAME}-workflow"}}
    effects = controller.child_rejected(
        rr("Executing"), refused, 'admission webhook "validate.kubernaut.ai" denied it', NOW
    )
    assert moves(effects) == ["Failed"]
    assert reason(effects) == "ChildRejected"
    assert "denied it" in status_after(rr("Executing"), effects)["message"]
    notifications = [body["spec"]["type"] for body in created(effects).values()]
    assert notifications == ["Escalation"]


def test_a_refused_escalation_fails_the_request_without_another_notification() -> None:
    controller = RemediationRequestController()
    refused = {"kind": "NotificationRequest", "metadata": {"name": f"{NAME}-escalation"}}
    effects = controller.child_rejected(rr("Analyzing"), refused, "forbidden", NOW)
    assert moves(effects) == ["Failed"]
    assert created(effects) == {}


def test_a_refusal_after_the_end_is_only_reported() -> None:
    controller = RemediationRequestController()
    refused = {"kind": "NotificationRequest", "metadata": {"name": f"{NAME}-completion"}}
    effects = controller.child_rejected(rr("Completed"), refused, "forbidden", NOW)
    assert effects == [
        RecordEvent(
            "Warning",
            "ChildRejected",
            f"NotificationRequest {NAME}-completion was refused by the API server: forbidden",
        )
    ]


def test_children_are_created_with_their_own_cleanup_finalizer() -> None:
    from reconciler.controllers.rr_children import child_metadata

    assert child_metadata(rr(), "signal")["finalizers"] == ["signalprocessing.kubernaut.ai/cleanup"]
    assert child_metadata(rr(), "workflow")["finalizers"] == [
        "workflowexecution.kubernaut.ai/cleanup"
    ]
    assert child_metadata(rr(), "escalation")["finalizers"] == [
        "notificationrequest.kubernaut.ai/cleanup"
    ]
