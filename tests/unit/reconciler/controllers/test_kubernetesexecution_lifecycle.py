"""KubernetesExecution: observe (through a ClusterView over real caches) and deletion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from reconciler.cache import Cache
from reconciler.controller import ClusterView, Controller
from reconciler.controllers.ke_finalize import FINALIZER, Finalization, finalize
from reconciler.controllers.ke_resources import JOBS, PODS
from reconciler.controllers.kubernetesexecution import (
    ExecutionObservation,
    KubernetesExecutionController,
)
from reconciler.effects import (
    AuditNote,
    DeleteObject,
    RecordEvent,
    RemoveFinalizer,
    RequeueAfter,
)
from reconciler.kube import ApiError, KubeClient, Resource
from webhook.policy import ConditionResult

JSON = dict[str, Any]
DELETED = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)


def _ke(phase: str | None = "Executing", *, deleting: bool = False, **spec: Any) -> JSON:
    metadata: JSON = {
        "name": "ke",
        "namespace": "shop",
        "uid": "ke-uid",
        "finalizers": [FINALIZER],
    }
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-29T08:00:00Z"
    obj: JSON = {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "KubernetesExecution",
        "metadata": metadata,
        "spec": {
            "workflowExecutionRef": {"name": "wfe"},
            "stepNumber": 1,
            "action": "restartDeployment",
            "parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
            "targetResource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": "shop",
                "name": "web",
            },
            "preConditions": [{"type": "ready", "rego": "deployment_has_ready_replica"}],
            "postConditions": [{"type": "available", "rego": "deployment_available"}],
            **spec,
        },
    }
    if phase:
        obj["status"] = {"phase": phase, "phaseStartTime": "2026-11-29T08:00:00Z"}
        if phase == "Executing":
            obj["status"].update(attempts=1, jobName="ke-1")
    return obj


def _job(owner_uid: str = "ke-uid", conditions: list[JSON] | None = None) -> JSON:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "ke-1",
            "namespace": "shop",
            "uid": "job-uid",
            "ownerReferences": [
                {"kind": "KubernetesExecution", "name": "ke", "uid": owner_uid, "controller": True}
            ],
        },
        "status": {"conditions": conditions or []},
    }


def _pod(message: str | None) -> JSON:
    terminated: JSON = {"exitCode": 0, "reason": "Completed"}
    if message:
        terminated["message"] = message
    return {
        "metadata": {
            "name": "ke-1-abcde",
            "namespace": "shop",
            "labels": {"job-name": "ke-1"},
            "ownerReferences": [{"kind": "Job", "uid": "job-uid", "controller": True}],
        },
        "status": {"containerStatuses": [{"name": "action", "state": {"terminated": terminated}}]},
    }


class _Client:
    """The few live reads observe makes: targets (unwatched kinds) and a pod list."""

    def __init__(self, objects: Mapping[tuple[str, str], JSON | ApiError] | None = None) -> None:
        self.objects = dict(objects or {})
        self.gets: list[tuple[str, str | None, str]] = []
        self.pods: list[JSON] = []
        self.selectors: list[str | None] = []

    def get(self, resource: Resource, namespace: str | None, name: str) -> JSON:
        self.gets.append((resource.plural, namespace, name))
        found = self.objects.get((resource.plural, name))
        if found is None:
            raise ApiError(404, "NotFound", f"{resource.plural} {name} not found")
        if isinstance(found, ApiError):
            raise found
        return found

    def list(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> JSON:
        self.selectors.append(label_selector)
        return {"items": self.pods}


def _view(client: _Client, jobs: Sequence[JSON] = (), pods: Sequence[JSON] = ()) -> ClusterView:
    caches = {JOBS: [Cache()], PODS: [Cache()]}
    for job in jobs:
        caches[JOBS][0].upsert(job)
    for pod in pods:
        caches[PODS][0].upsert(pod)
    return ClusterView(cast(KubeClient, client), caches)


class _Policy:
    def __init__(self, allowed: bool = True) -> None:
        self.allowed = allowed
        self.calls: list[tuple[str, Mapping[str, Any]]] = []

    def precondition(self, rule_name: str, execution_input: Mapping[str, Any]) -> ConditionResult:
        self.calls.append((rule_name, execution_input))
        return ConditionResult(self.allowed, () if self.allowed else ("nope",))


class _Audit:
    def __init__(self, complete: bool) -> None:
        self.complete = complete
        self.asked: list[JSON] = []

    def is_complete(self, obj: JSON) -> bool:
        self.asked.append(obj)
        return self.complete


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}


# ------------------------------------------------------------------------- observe


def test_validating_reads_the_live_target_and_evaluates_the_preconditions() -> None:
    policy = _Policy()
    client = _Client({("deployments", "web"): DEPLOYMENT})
    observed = KubernetesExecutionController(policy).observe(_ke("Validating"), _view(client))
    assert client.gets == [("deployments", "shop", "web")]
    ((rule, document),) = policy.calls
    assert rule == "deployment_has_ready_replica"
    assert document == {
        "action": "restartDeployment",
        "parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
        "targetKind": "Deployment",
        "target": DEPLOYMENT,
    }
    assert [(check.condition.type, check.passed) for check in observed.checks] == [("ready", True)]


def test_verifying_evaluates_the_postconditions_and_a_missing_target_is_null() -> None:
    policy = _Policy(allowed=False)
    observed = KubernetesExecutionController(policy).observe(_ke("Verifying"), _view(_Client()))
    assert policy.calls[0][0] == "deployment_available"
    assert policy.calls[0][1]["target"] is None
    assert observed.checks[0].messages == ("nope",)


def test_dry_runs_skip_the_postconditions() -> None:
    policy = _Policy()
    observed = KubernetesExecutionController(policy).observe(
        _ke("Verifying", dryRun=True), _view(_Client())
    )
    assert observed == ExecutionObservation()
    assert policy.calls == []


def test_a_forbidden_target_read_fails_the_conditions_with_the_reason() -> None:
    client = _Client({("deployments", "web"): ApiError(403, "Forbidden", "no get on deployments")})
    observed = KubernetesExecutionController(_Policy()).observe(_ke("Validating"), _view(client))
    (check,) = observed.checks
    assert not check.passed
    assert "cannot read the target Deployment shop/web: 403 Forbidden" in check.messages[0]


def test_a_transient_target_read_error_is_raised_for_backoff() -> None:
    client = _Client({("deployments", "web"): ApiError(503, "ServiceUnavailable", "etcd")})
    with pytest.raises(ApiError):
        KubernetesExecutionController(_Policy()).observe(_ke("Validating"), _view(client))


def test_an_unknown_target_kind_fails_the_conditions() -> None:
    obj = _ke("Validating")
    obj["spec"]["targetResource"] = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w"}
    policy = _Policy()
    observed = KubernetesExecutionController(policy).observe(obj, _view(_Client()))
    assert policy.calls == []
    assert "does not read Widget (example.com/v1)" in observed.checks[0].messages[0]


def test_a_cluster_scoped_target_is_read_without_namespace() -> None:
    obj = _ke("Validating")
    obj["spec"]["targetResource"] = {"apiVersion": "v1", "kind": "Node", "name": "node-1"}
    client = _Client({("nodes", "node-1"): {"kind": "Node", "metadata": {"name": "node-1"}}})
    KubernetesExecutionController(_Policy()).observe(obj, _view(client))
    assert client.gets == [("nodes", None, "node-1")]


def test_executing_finds_its_job_and_the_pods_of_a_finished_one() -> None:
    job = _job(conditions=[{"type": "Complete", "status": "True"}])
    pod = _pod('{"result": {"success": true}}')
    view = _view(_Client(), jobs=[job], pods=[pod])
    observed = KubernetesExecutionController(_Policy()).observe(_ke(), view)
    assert observed.job == job
    assert observed.pods == (pod,)


def test_a_running_job_needs_no_pods() -> None:
    view = _view(_Client(), jobs=[_job()], pods=[_pod(None)])
    observed = KubernetesExecutionController(_Policy()).observe(_ke(), view)
    assert observed.job is not None
    assert observed.pods == ()


def test_when_the_pod_cache_lags_the_pods_are_listed_live() -> None:
    client = _Client()
    client.pods = [_pod('{"result": {"success": true}}')]
    job = _job(conditions=[{"type": "Complete", "status": "True"}])
    observed = KubernetesExecutionController(_Policy()).observe(
        _ke(), _view(client, jobs=[job], pods=[_pod(None)])
    )
    assert client.selectors == ["job-name=ke-1"]
    assert observed.pods == tuple(client.pods)


def test_a_job_controlled_by_another_object_is_foreign() -> None:
    view = _view(_Client(), jobs=[_job(owner_uid="someone-else")])
    observed = KubernetesExecutionController(_Policy()).observe(_ke(), view)
    assert observed == ExecutionObservation(foreign_job=True)


def test_a_missing_job_is_observed_as_none() -> None:
    observed = KubernetesExecutionController(_Policy()).observe(_ke(), _view(_Client()))
    assert observed == ExecutionObservation()


@pytest.mark.parametrize("complete", [True, False])
def test_deletion_asks_the_audit_trail(complete: bool) -> None:
    audit = _Audit(complete)
    controller = KubernetesExecutionController(_Policy(), audit=audit)
    observed = controller.observe(_ke(deleting=True), _view(_Client(), jobs=[_job()]))
    assert observed.audit_complete is complete
    assert observed.job is not None
    assert len(audit.asked) == 1


def test_without_audit_the_trail_counts_as_complete() -> None:
    observed = KubernetesExecutionController(_Policy()).observe(
        _ke(deleting=True), _view(_Client())
    )
    assert observed.audit_complete is True


# ------------------------------------------------------------------------ finalize

GRACE = Finalization(grace=timedelta(minutes=10), poll_interval=timedelta(seconds=5))


def _finalize(
    obj: JSON, *, job: JSON | None = None, complete: bool = True, after: float = 1
) -> list[Any]:
    return finalize(
        obj,
        job=job,
        audit_complete=complete,
        settings=GRACE,
        now=DELETED + timedelta(seconds=after),
    )


def test_deletion_without_our_finalizer_does_nothing() -> None:
    obj = _ke(deleting=True)
    obj["metadata"]["finalizers"] = ["someone.else/cleanup"]
    assert _finalize(obj) == []


def test_deletion_deletes_a_running_job_then_removes_the_finalizer() -> None:
    effects = _finalize(_ke(deleting=True), job=_job())
    assert effects[0] == DeleteObject(JOBS, "shop", "ke-1", "Background")
    assert isinstance(effects[1], AuditNote)
    assert (effects[1].note_type, effects[1].discriminator) == ("job-deleted", "ke-1")
    assert [e.reason for e in effects if isinstance(e, RecordEvent)] == ["JobDeleted", "Finalized"]
    assert effects[-1] == RemoveFinalizer(FINALIZER)


@pytest.mark.parametrize(
    "job",
    [
        _job(conditions=[{"type": "Complete", "status": "True"}]),
        {**_job(), "metadata": {**_job()["metadata"], "deletionTimestamp": "2026-11-29T08:00:00Z"}},
    ],
    ids=["finished", "already-deleting"],
)
def test_a_finished_or_deleting_job_is_not_deleted_again(job: JSON) -> None:
    effects = _finalize(_ke(deleting=True), job=job)
    assert not [e for e in effects if isinstance(e, DeleteObject)]
    assert effects[-1] == RemoveFinalizer(FINALIZER)


def test_an_incomplete_audit_trail_holds_the_finalizer_within_the_grace_period() -> None:
    assert _finalize(_ke(deleting=True), complete=False, after=30) == [RequeueAfter(5.0)]
    assert _finalize(_ke(deleting=True), complete=False, after=598) == [RequeueAfter(2.0)]


def test_the_running_job_goes_even_while_the_audit_trail_is_awaited() -> None:
    effects = _finalize(_ke(deleting=True), job=_job(), complete=False, after=30)
    assert effects[0] == DeleteObject(JOBS, "shop", "ke-1", "Background")
    assert effects[-1] == RequeueAfter(5.0)


def test_after_the_grace_period_the_finalizer_goes_with_a_warning() -> None:
    effects = _finalize(_ke(deleting=True), complete=False, after=600)
    (event,) = [e for e in effects if isinstance(e, RecordEvent)]
    assert (event.type, event.reason) == ("Warning", "AuditIncomplete")
    assert "10m after deletion" in event.message
    assert effects[-1] == RemoveFinalizer(FINALIZER)


def test_an_unreadable_deletion_time_never_holds_the_object() -> None:
    obj = _ke(deleting=True)
    obj["metadata"]["deletionTimestamp"] = "yesterday"
    assert _finalize(obj, complete=False)[-1] == RemoveFinalizer(FINALIZER)


def test_a_fractional_deletion_time_is_understood() -> None:
    obj = _ke(deleting=True)
    obj["metadata"]["deletionTimestamp"] = "2026-11-29T08:00:00.500000+00:00"
    assert _finalize(obj, complete=False, after=30) == [RequeueAfter(5.0)]


def test_decide_routes_deleting_objects_to_finalize() -> None:
    controller = KubernetesExecutionController(_Policy())
    observed = ExecutionObservation(job=_job(), audit_complete=True)
    effects = controller.decide(_ke(deleting=True), observed, DELETED)
    assert effects == _finalize(_ke(deleting=True), job=_job(), after=0)


def test_the_controller_fits_the_manager() -> None:
    controller: Controller[ExecutionObservation] = KubernetesExecutionController(_Policy())
    assert controller.resource.plural == "kubernetesexecutions"
    assert controller.resource.api_version == "kubernaut.ai/v1alpha1"
    assert [(r.api_version, r.plural) for r in controller.owns] == [("batch/v1", "jobs")]
    assert [(r.api_version, r.plural) for r in controller.reads] == [("v1", "pods")]
