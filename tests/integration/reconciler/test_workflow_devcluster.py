"""WorkflowExecutions end to end on the local stack: real Jobs, real action runner, real webhook.

devcluster runs the simulated Deployment and Job controllers (each Job runs
``kubernaut action run`` as its ServiceAccount); the webhook and the
reconciler are separate ``kubernaut`` processes. Workflows are created and
approved with ``kubectl``; the state is read from devcluster's store, and an
in-process :class:`~devcluster.event_log.EventLog` gives the exact commit
order of KubernetesExecutions and Jobs. The API is then made hostile:
dropped watches with a history short enough to answer 410 Gone, another
writer forcing 409 on status writes, and a reconciler killed mid-workflow.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from devcluster.errors import ApiError
from devcluster.event_log import EventLog, LoggedEvent
from devcluster.resources import ResourceType
from devcluster.stack import LocalStack, StackOptions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JSON = dict[str, Any]
STAGING = "wf-staging"
PRODUCTION = "wf-production"
WATCH_HISTORY = 20
"""Short, so that a watch resumed after a burst of writes answers 410 Gone."""
TERMINAL = ("Completed", "Failed", "RolledBack")
APPROVERS = "kubernaut-approvers"


# ----------------------------------------------------------------- the stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = StackOptions(
        work_dir=tmp_path_factory.mktemp("workflow-stack"),
        namespaces=(STAGING, PRODUCTION),
        watch_history=WATCH_HISTORY,
    )
    with LocalStack.start(options) as running:
        running.kubectl("label", "namespace", STAGING, "kubernaut.ai/environment=staging")
        running.kubectl("label", "namespace", PRODUCTION, "kubernaut.ai/environment=production")
        yield running


@pytest.fixture(autouse=True)
def reconciler_running(stack: LocalStack) -> None:
    """A test that killed the reconciler may have failed before starting it again."""
    if "reconciler" not in stack.processes:
        stack.start_reconciler()


def _rtype(stack: LocalStack, group: str, version: str, plural: str) -> ResourceType:
    rtype = stack.cluster.store.registry.lookup(group, version, plural)
    assert rtype is not None, plural
    return rtype


def _workflows(stack: LocalStack) -> ResourceType:
    return _rtype(stack, "kubernaut.ai", "v1alpha1", "workflowexecutions")


def _executions(stack: LocalStack) -> ResourceType:
    return _rtype(stack, "kubernaut.ai", "v1alpha1", "kubernetesexecutions")


def _jobs(stack: LocalStack) -> ResourceType:
    return _rtype(stack, "batch", "v1", "jobs")


def _deployments(stack: LocalStack) -> ResourceType:
    return _rtype(stack, "apps", "v1", "deployments")


def _configmaps(stack: LocalStack) -> ResourceType:
    return _rtype(stack, "", "v1", "configmaps")


def _get(stack: LocalStack, rtype: ResourceType, namespace: str, name: str) -> JSON | None:
    try:
        return stack.cluster.store.get(rtype, namespace, name)
    except ApiError as err:
        if err.code == 404:
            return None
        raise


def _listed(stack: LocalStack, rtype: ResourceType, namespace: str, selector: str) -> list[JSON]:
    return stack.cluster.store.list_objects(rtype, namespace, label_selector=selector).items


def _eventually(check: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        time.sleep(0.1)


def _phase(obj: JSON | None) -> str | None:
    return ((obj or {}).get("status") or {}).get("phase")


def _wait_phase(
    stack: LocalStack, namespace: str, name: str, phases: Sequence[str], timeout: float = 90.0
) -> JSON:
    def reached() -> JSON | None:
        obj = _get(stack, _workflows(stack), namespace, name)
        return obj if _phase(obj) in phases else None

    try:
        result: JSON = _eventually(reached, f"{name} reaches {' or '.join(phases)}", timeout)
    except AssertionError:
        current = _get(stack, _workflows(stack), namespace, name)
        raise AssertionError(
            f"{name} did not reach {phases}: {json.dumps((current or {}).get('status'))[:3000]}"
        ) from None
    return result


# ------------------------------------------------------------------ builders


def _target(namespace: str, name: str, replicas: int) -> list[JSON]:
    """A Deployment and the ConfigMap it reads."""
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/pause:3.9"}]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-config", "namespace": namespace},
            "data": {"mode": "normal"},
        },
    ]


def _step(number: int, action: str, block: JSON, **extra: Any) -> JSON:
    return {
        "stepNumber": number,
        "name": f"step-{number}-{action}",
        "action": action,
        "parameters": {action: block},
        "maxRetries": 0,
        **extra,
    }


def _scale(number: int, namespace: str, deployment: str, replicas: int, **extra: Any) -> JSON:
    block = {"namespace": namespace, "deployment": deployment, "replicas": replicas}
    return _step(number, "scaleDeployment", block, **extra)


def _configure(number: int, namespace: str, name: str, **extra: Any) -> JSON:
    block = {"namespace": namespace, "name": name, "dataUpdates": {"mode": "safe"}}
    return _step(number, "updateConfigMap", block, **extra)


def _restart(number: int, namespace: str, deployment: str, **extra: Any) -> JSON:
    block = {"namespace": namespace, "deployment": deployment}
    return _step(number, "restartDeployment", block, **extra)


def _three_steps(deployment: str) -> list[JSON]:
    """Step 1, then steps 2 and 3 in parallel (in staging)."""
    return [
        _scale(1, STAGING, deployment, 3),
        _configure(2, STAGING, f"{deployment}-config", dependsOn=[1]),
        _restart(3, STAGING, deployment, dependsOn=[1]),
    ]


def _workflow(
    name: str,
    namespace: str,
    deployment: str,
    steps: list[JSON],
    *,
    environment: str,
    strategy: JSON | None = None,
) -> JSON:
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {
            "name": name,
            "namespace": namespace,
            # The RemediationRequest controller copies its environment label to its
            # children; the webhook's policies read the object's label.
            "labels": {"kubernaut.ai/environment": environment},
        },
        "spec": {
            "remediationRequestRef": {"name": f"{name}-rr"},
            "targetResource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": namespace,
                "name": deployment,
            },
            "workflowDefinition": {"name": "three-steps", "version": "1.0.0", "steps": steps},
            "executionStrategy": strategy
            or {"approvalRequired": False, "dryRunFirst": False, "rollbackStrategy": "automatic"},
        },
    }


def _start_workflow(stack: LocalStack, name: str, steps_of: Callable[[str], list[JSON]]) -> None:
    """A target ``<name>-web`` with 2 replicas and a workflow ``name`` on it, in staging."""
    deployment = f"{name}-web"
    stack.apply(_target(STAGING, deployment, 2))
    _eventually(
        lambda: (
            ((_get(stack, _deployments(stack), STAGING, deployment) or {}).get("status") or {}).get(
                "readyReplicas"
            )
            == 2
        ),
        f"{deployment} has 2 ready replicas",
    )
    stack.apply([_workflow(name, STAGING, deployment, steps_of(deployment), environment="staging")])


def _event_log(stack: LocalStack) -> EventLog:
    return EventLog(stack.cluster.store, [_executions(stack), _jobs(stack)])


def _first(events: list[LoggedEvent], predicate: Callable[[LoggedEvent], bool]) -> LoggedEvent:
    for event in events:
        if predicate(event):
            return event
    raise AssertionError("no such event recorded")


def _created(events: list[LoggedEvent], name: str) -> LoggedEvent:
    return _first(events, lambda e: e.type == "ADDED" and e.name == name)


def _entered(events: list[LoggedEvent], name: str, phase: str) -> LoggedEvent:
    return _first(events, lambda e: e.name == name and _phase(e.object) == phase)


def _one_job_per_attempt(stack: LocalStack, log: EventLog, namespace: str, workflow: str) -> None:
    """Every KubernetesExecution of the workflow made exactly one Job per recorded attempt."""
    executions = _listed(stack, _executions(stack), namespace, f"kubernaut.ai/workflow={workflow}")
    expected: list[str] = []
    for execution in executions:
        attempts = execution["status"]["attempts"]
        expected += [f"{execution['metadata']['name']}-{n}" for n in range(1, attempts + 1)]
    created = [e.name for e in log.events("jobs") if e.type == "ADDED"]
    assert sorted(created) == sorted(expected)
    stored = [
        job["metadata"]["name"]
        for job in _listed(stack, _jobs(stack), namespace, "")
        if job["metadata"]["name"].startswith(f"{workflow}-")
    ]
    assert sorted(stored) == sorted(expected)


def _transition_phases(obj: JSON) -> list[str]:
    transitions = obj["status"]["transitions"]
    assert [t["index"] for t in transitions] == list(range(len(transitions)))
    return [t["phase"] for t in transitions]


# --------------------------------------------------------------------- tests


def test_a_three_step_workflow_with_a_parallel_pair_completes(stack: LocalStack) -> None:
    with _event_log(stack) as log:
        _start_workflow(stack, "trio", _three_steps)
        done = _wait_phase(stack, STAGING, "trio", TERMINAL)
    assert _phase(done) == "Completed"
    uid = done["metadata"]["uid"]
    events = log.events()

    # One KubernetesExecution per step, controlled by the workflow.
    executions = {n: _get(stack, _executions(stack), STAGING, f"trio-step-{n}") for n in (1, 2, 3)}
    for number, execution in executions.items():
        assert execution is not None
        owner = execution["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "WorkflowExecution",
            "trio",
            uid,
            True,
        )
        assert execution["spec"]["stepNumber"] == number
        assert execution["status"]["phase"] == "Completed"
        assert execution["status"]["attempts"] == 1

    # Their Jobs: one each, under the action's ServiceAccount, restricted.
    accounts = {
        1: "kubernaut-action-scale-deployment",
        2: "kubernaut-action-update-config-map",
        3: "kubernaut-action-restart-deployment",
    }
    for number, account in accounts.items():
        job = _get(stack, _jobs(stack), STAGING, f"trio-step-{number}-1")
        assert job is not None
        execution = executions[number]
        assert execution is not None
        owner = job["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"]) == (
            "KubernetesExecution",
            execution["metadata"]["uid"],
        )
        pod = job["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == account
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        container = pod["containers"][0]
        assert container["command"] == ["kubernaut", "action", "run"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert job["spec"]["backoffLimit"] == 0
        assert [c["type"] for c in job["status"]["conditions"]][-1] == "Complete"
    _one_job_per_attempt(stack, log, STAGING, "trio")

    # Levels: steps 2 and 3 start only after step 1 completed, and run side by side.
    step_one_done = _entered(events, "trio-step-1", "Completed")
    second, third = _created(events, "trio-step-2"), _created(events, "trio-step-3")
    assert step_one_done.resource_version < second.resource_version
    assert step_one_done.resource_version < third.resource_version
    assert third.resource_version < _entered(events, "trio-step-2", "Completed").resource_version
    assert second.resource_version < _entered(events, "trio-step-3", "Completed").resource_version
    first = executions[1]
    assert first is not None
    for later in (executions[2], executions[3]):
        assert later is not None
        assert later["metadata"]["creationTimestamp"] >= first["status"]["completionTime"]

    # The target's real state.
    deployment = _get(stack, _deployments(stack), STAGING, "trio-web")
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 3
    template = deployment["spec"]["template"]["metadata"]
    assert "kubectl.kubernetes.io/restartedAt" in (template.get("annotations") or {})
    configmap = _get(stack, _configmaps(stack), STAGING, "trio-web-config")
    assert configmap is not None
    assert configmap["data"] == {"mode": "safe"}

    # The workflow's own account of it.
    status = done["status"]
    assert _transition_phases(done) == [
        "Pending",
        "Planning",
        "Validating",
        "Executing",
        "Monitoring",
        "Completed",
    ]
    assert status["executionPlan"]["levels"] == [[1], [2, 3]]
    assert [(s["stepNumber"], s["status"]) for s in status["stepStatuses"]] == [
        (1, "Completed"),
        (2, "Completed"),
        (3, "Completed"),
    ]
    assert [s["executionRef"]["name"] for s in status["stepStatuses"]] == [
        "trio-step-1",
        "trio-step-2",
        "trio-step-3",
    ]
    assert all(s["result"]["success"] for s in status["stepStatuses"])
    assert (status["stepsCompleted"], status["stepsFailed"], status["totalSteps"]) == (3, 0, 3)
    assert status["executionMetrics"]["stepSuccessRate"] == 1
    assert status["executionMetrics"]["rollbacksPerformed"] == 0
    assert status["workflowResult"]["outcome"] == "Succeeded"
    assert status["workflowResult"]["resourceHealth"] == "Healthy"


def test_a_failing_critical_step_rolls_back_what_completed(stack: LocalStack) -> None:
    def steps(deployment: str) -> list[JSON]:
        broken = {
            "namespace": STAGING,
            "deployment": deployment,
            "container": "no-such-container",
            "newImage": "registry.k8s.io/pause:3.10",
        }
        return [
            _scale(1, STAGING, deployment, 4),
            _step(2, "updateImage", broken, criticalStep=True, dependsOn=[1]),
        ]

    with _event_log(stack) as log:
        _start_workflow(stack, "undo", steps)
        done = _wait_phase(stack, STAGING, "undo", TERMINAL)
    assert _phase(done) == "RolledBack", done["status"].get("failureReason")
    events = log.events()

    # Step 1 really scaled 2 -> 4 and recorded how to undo it.
    scaled = _entered(events, "undo-step-1", "Completed").object["status"]
    assert scaled["rollbackInfo"]["available"] is True
    assert scaled["rollbackInfo"]["action"] == "scaleDeployment"
    assert scaled["rollbackInfo"]["parameters"]["scaleDeployment"]["replicas"] == 2
    failed = _get(stack, _executions(stack), STAGING, "undo-step-2")
    assert failed is not None
    assert failed["status"]["phase"] == "Failed"
    assert "no-such-container" in failed["status"]["message"]

    # The undo ran as its own execution and Job, after the failure.
    undo = _get(stack, _executions(stack), STAGING, "undo-rollback-1")
    assert undo is not None
    assert undo["spec"]["action"] == "scaleDeployment"
    assert undo["spec"]["parameters"]["scaleDeployment"]["replicas"] == 2
    assert undo["status"]["phase"] == "Completed"
    assert (
        _entered(events, "undo-step-2", "Failed").resource_version
        < _created(events, "undo-rollback-1").resource_version
    )
    _one_job_per_attempt(stack, log, STAGING, "undo")

    deployment = _get(stack, _deployments(stack), STAGING, "undo-web")
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 2
    status = done["status"]
    assert _transition_phases(done)[-3:] == ["Executing", "RollingBack", "RolledBack"]
    assert "critical step 2" in status["rollbackReason"]
    assert [(s["stepNumber"], s["status"]) for s in status["stepStatuses"]] == [
        (1, "RolledBack"),
        (2, "Failed"),
    ]
    assert status["executionMetrics"]["rollbacksPerformed"] == 1
    assert status["workflowResult"]["outcome"] == "Failed"


def test_only_an_approver_moves_a_production_workflow_on(stack: LocalStack) -> None:
    deployment = "gated-web"
    stack.apply(_target(PRODUCTION, deployment, 2))
    steps = [_scale(1, PRODUCTION, deployment, 3)]
    # No executionStrategy: production's defaults (approval, dry run first) are filled in.
    workflow = _workflow("gated", PRODUCTION, deployment, steps, environment="production")
    del workflow["spec"]["executionStrategy"]
    stack.apply([workflow])
    waiting = _wait_phase(stack, PRODUCTION, "gated", ("AwaitingApproval", *TERMINAL))
    assert _phase(waiting) == "AwaitingApproval"
    assert waiting["spec"]["executionStrategy"]["approvalRequired"] is True
    assert waiting["status"]["validationResults"]["dryRunPerformed"] is True
    assert waiting["metadata"]["annotations"]["kubernaut.ai/created-by"] == "dev-admin"

    refused = stack.kubectl(
        "annotate",
        "wfe",
        "gated",
        "-n",
        PRODUCTION,
        "kubernaut.ai/approval=approved",
        "--as=mallory",
        check=False,
    )
    assert (
        "mallory may not decide on WorkflowExecution gated in production: "
        f"membership of one of [{APPROVERS}] is required"
    ) in refused
    unchanged = _get(stack, _workflows(stack), PRODUCTION, "gated")
    assert unchanged is not None
    assert "kubernaut.ai/approval" not in unchanged["metadata"]["annotations"]
    assert _phase(unchanged) == "AwaitingApproval"

    stack.kubectl(
        "annotate",
        "wfe",
        "gated",
        "-n",
        PRODUCTION,
        "kubernaut.ai/approval=approved",
        "--as=alice",
        f"--as-group={APPROVERS}",
    )
    done = _wait_phase(stack, PRODUCTION, "gated", TERMINAL)
    assert _phase(done) == "Completed"
    annotations = done["metadata"]["annotations"]
    assert annotations["kubernaut.ai/approved-by"] == "alice"
    validation = done["status"]["validationResults"]
    assert (validation["approvalReceived"], validation["approvedBy"]) == (True, "alice")
    assert _transition_phases(done)[2:5] == ["Validating", "AwaitingApproval", "Executing"]
    target = _get(stack, _deployments(stack), PRODUCTION, deployment)
    assert target is not None
    assert target["spec"]["replicas"] == 3


def test_dropped_watches_and_expired_history_lose_no_progress(stack: LocalStack) -> None:
    stack.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "churn", "namespace": STAGING},
            }
        ]
    )
    store = stack.cluster.store
    configmaps = _configmaps(stack)
    expired_before = stack.logs("reconciler").count("watch history expired")
    stop = threading.Event()
    drops = 0

    def hostile() -> None:
        nonlocal drops
        while not stop.wait(0.3):
            store.drop_watches()
            drops += 1
            # More writes than the history keeps, before the reconciler can watch
            # again: resuming from its last resourceVersion answers 410 Gone.
            for n in range(WATCH_HISTORY + 5):
                store.modify(configmaps, STAGING, "churn", functools.partial(_with_data, n=n))

    thread = threading.Thread(target=hostile, name="watch-dropper", daemon=True)
    thread.start()
    try:
        _start_workflow(stack, "dropped", _three_steps)
        done = _wait_phase(stack, STAGING, "dropped", TERMINAL, timeout=180)
    finally:
        stop.set()
        thread.join()
    assert drops >= 3
    assert stack.logs("reconciler").count("watch history expired") > expired_before
    assert _phase(done) == "Completed"
    assert _transition_phases(done) == [
        "Pending",
        "Planning",
        "Validating",
        "Executing",
        "Monitoring",
        "Completed",
    ]
    jobs = sorted(
        job["metadata"]["name"]
        for job in _listed(stack, _jobs(stack), STAGING, "")
        if job["metadata"]["name"].startswith("dropped-")
    )
    assert jobs == ["dropped-step-1-1", "dropped-step-2-1", "dropped-step-3-1"]
    for number in (1, 2, 3):
        execution = _get(stack, _executions(stack), STAGING, f"dropped-step-{number}")
        assert execution is not None
        assert (execution["status"]["phase"], execution["status"]["attempts"]) == ("Completed", 1)


def _with_data(current: JSON, *, n: int) -> JSON:
    return {**current, "data": {"n": str(n)}}


def test_a_conflict_storm_on_status_writes_converges(stack: LocalStack) -> None:
    store = stack.cluster.store
    requests = stack.cluster.app.requests
    conflicts_before = _reconciler_conflicts(requests.snapshot())
    stop = threading.Event()
    bumps = 0

    def bump_everything() -> None:
        # Another writer touching metadata of the workflow and its executions all
        # the time: every status write the reconciler guards with an older
        # resourceVersion answers 409.
        nonlocal bumps
        while not stop.is_set():
            for rtype in (_workflows(stack), _executions(stack)):
                for obj in _listed(stack, rtype, STAGING, ""):
                    name = obj["metadata"]["name"]
                    if not name.startswith("storm"):
                        continue
                    with contextlib.suppress(ApiError):
                        store.patch(
                            rtype,
                            STAGING,
                            name,
                            "application/merge-patch+json",
                            {"metadata": {"annotations": {"example.com/bump": str(bumps)}}},
                        )
                        bumps += 1
            time.sleep(0.01)

    thread = threading.Thread(target=bump_everything, name="bumper", daemon=True)
    thread.start()
    try:
        with _event_log(stack) as log:
            _start_workflow(stack, "storm", _three_steps)
            done = _wait_phase(stack, STAGING, "storm", TERMINAL, timeout=180)
    finally:
        stop.set()
        thread.join()
    # The storm is real when the reconciler's guarded writes met 409s (how many
    # bumps that takes depends on the machine's speed).
    assert bumps > 0
    assert _reconciler_conflicts(requests.snapshot()) > conflicts_before
    assert _phase(done) == "Completed"
    assert _transition_phases(done) == [
        "Pending",
        "Planning",
        "Validating",
        "Executing",
        "Monitoring",
        "Completed",
    ]
    assert [s["status"] for s in done["status"]["stepStatuses"]] == ["Completed"] * 3
    _one_job_per_attempt(stack, log, STAGING, "storm")
    for number in (1, 2, 3):
        execution = _get(stack, _executions(stack), STAGING, f"storm-step-{number}")
        assert execution is not None
        assert _transition_phases(execution) == [
            "Pending",
            "Validating",
            "Executing",
            "Verifying",
            "Completed",
        ]


def _reconciler_conflicts(counts: dict[Any, int]) -> int:
    return sum(
        count
        for key, count in counts.items()
        if key.agent == "kubernaut-reconciler" and key.write and key.code == 409
    )


def test_a_reconciler_killed_mid_workflow_finishes_it_without_duplicate_jobs(
    stack: LocalStack,
) -> None:
    def created(log: EventLog, plural: str, name: str) -> bool:
        return any(e.type == "ADDED" and e.name == name for e in log.events(plural))

    with _event_log(stack) as log:
        _start_workflow(stack, "crash", _three_steps)
        # Right after the first execution is created (before its Job may exist) ...
        _eventually(
            lambda: created(log, "kubernetesexecutions", "crash-step-1"), "step 1 is created", 60
        )
        stack.stop_reconciler(kill=True)
        stack.start_reconciler()
        # ... and while a Job of the second level runs.
        _eventually(lambda: created(log, "jobs", "crash-step-2-1"), "step 2's Job is created", 60)
        stack.stop_reconciler(kill=True)
        stack.start_reconciler()
        done = _wait_phase(stack, STAGING, "crash", TERMINAL)
    assert _phase(done) == "Completed"
    assert [s["status"] for s in done["status"]["stepStatuses"]] == ["Completed"] * 3
    _one_job_per_attempt(stack, log, STAGING, "crash")
    for number in (1, 2, 3):
        execution = _get(stack, _executions(stack), STAGING, f"crash-step-{number}")
        assert execution is not None
        assert execution["status"]["attempts"] == 1
    created_executions = [e.name for e in log.events("kubernetesexecutions") if e.type == "ADDED"]
    assert sorted(created_executions) == ["crash-step-1", "crash-step-2", "crash-step-3"]


def test_the_stack_leaves_no_database_server_behind(tmp_path: Path) -> None:
    # A killed reconciler never releases the embedded PostgreSQL; stopping the
    # stack must stop it anyway.
    options = StackOptions(work_dir=tmp_path, webhook=False)
    with LocalStack.start(options) as running:
        running.stop_reconciler(kill=True)
        running.start_reconciler()
        running.stop_reconciler(kill=True)
        pid_file = tmp_path / "audit" / "postmaster.pid"
        assert pid_file.exists()
    assert not pid_file.exists()
