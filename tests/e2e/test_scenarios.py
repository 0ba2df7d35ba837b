"""The demo's four scenarios with assertions on every object they touch.

An invalid request refused at admission; a crash loop in staging fixed by a
restart; a production remediation that waits for an approver; a failed
critical step rolled back. Checked: phases and transitions, children and
their owner references, Jobs, the target's real state, notifications and
the audit trail in PostgreSQL (last in each test: it is skipped on a real
cluster without a DSN).
"""

from __future__ import annotations

from typing import Any

import pytest

from devcluster import demo_manifests as m

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
NOTIFICATION_DONE = {"Sent", "PartiallySent", "Failed"}


def _uid(obj: JSON) -> str:
    return str(obj["metadata"]["uid"])


def _children(cluster: Any, namespace: str, rr: JSON) -> dict[str, JSON]:
    """SignalProcessing, AIAnalysis and WorkflowExecution, each checked to be ``rr``'s."""
    name = rr["metadata"]["name"]
    found = {}
    for plural, role, kind in (
        ("signalprocessings", "signal", "SignalProcessing"),
        ("aianalyses", "analysis", "AIAnalysis"),
        ("workflowexecutions", "workflow", "WorkflowExecution"),
    ):
        child = cluster.get(plural, namespace, f"{name}-{role}")
        assert child is not None, f"{kind} {name}-{role} missing"
        assert cluster.controller_of(child) == ("RemediationRequest", name, _uid(rr))
        assert child["metadata"]["labels"]["kubernaut.ai/remediation"] == name
        found[role] = child
    return found


def _step(cluster: Any, namespace: str, workflow: JSON, purpose: str, number: int) -> JSON:
    """The workflow's KubernetesExecution ``<wfe>-<purpose>-<n>`` and its one Job."""
    wfe = workflow["metadata"]["name"]
    execution = cluster.get("kubernetesexecutions", namespace, f"{wfe}-{purpose}-{number}")
    assert execution is not None, f"{wfe}-{purpose}-{number} missing"
    assert cluster.controller_of(execution) == ("WorkflowExecution", wfe, _uid(workflow))
    jobs = cluster.items(
        "jobs", namespace, f"kubernaut.ai/execution={execution['metadata']['name']}"
    )
    assert [job["metadata"]["name"] for job in jobs] == [f"{wfe}-{purpose}-{number}-1"]
    assert cluster.controller_of(jobs[0]) == (
        "KubernetesExecution",
        execution["metadata"]["name"],
        _uid(execution),
    )
    execution_json: JSON = execution
    return execution_json


def _notification(cluster: Any, namespace: str, rr: JSON, role: str, kind: str) -> JSON:
    name = f"{rr['metadata']['name']}-{role}"
    notification = cluster.get("notificationrequests", namespace, name)
    assert notification is not None, f"notification {name} missing"
    assert notification["spec"]["type"] == kind
    assert notification["status"]["phase"] == "Sent"
    assert cluster.controller_of(notification) == (
        "RemediationRequest",
        rr["metadata"]["name"],
        _uid(rr),
    )
    notification_json: JSON = notification
    return notification_json


def _audit_matches_status(cluster: Any, namespace: str, objects: list[JSON]) -> None:
    """Every transition of every object is one audit row with the same phase, in order."""
    remediation = objects[0]["metadata"]["name"]
    expected = {_uid(obj): cluster.transitions(obj) for obj in objects}

    def complete(rows: list[JSON]) -> bool:
        recorded = {
            uid: [
                r["phase_to"]
                for r in rows
                if r["object_uid"] == uid and r["transition_index"] is not None
            ]
            for uid in expected
        }
        return recorded == expected

    cluster.audit_rows(namespace, remediation, complete)


def test_invalid_requests_are_refused_and_never_stored(cluster: Any) -> None:
    ns = cluster.staging
    protected = m.remediation_request(
        "dns-crashloop",
        ns,
        signal="KubePodCrashLooping",
        target="coredns",
        target_namespace="kube-system",
    )
    denied = cluster.apply([protected])
    assert denied.returncode != 0
    assert 'admission webhook "validate.kubernaut.ai" denied the request' in denied.stderr
    assert "targetResource Deployment/coredns is in the protected namespace kube-system" in (
        denied.stderr
    )
    not_utc = m.remediation_request(
        "checkout-local-time",
        ns,
        signal="KubePodCrashLooping",
        target="checkout",
        now="2026-11-29T08:18:41+01:00",
    )
    refused = cluster.apply([not_utc])
    assert refused.returncode != 0
    assert "denied the request" in refused.stderr
    assert "spec.firingTime" in refused.stderr
    assert cluster.get("remediationrequests", ns, "dns-crashloop") is None
    assert cluster.get("remediationrequests", ns, "checkout-local-time") is None


def test_a_crash_loop_in_staging_is_fixed_by_a_restart(cluster: Any) -> None:
    ns, name = cluster.staging, "checkout"
    assert cluster.apply([m.deployment(name, ns, replicas=3, crashing_pods=1)]).returncode == 0
    if cluster.local:  # the crash loop is devcluster's simulation
        cluster.wait(lambda: cluster.ready_replicas(ns, name) == 2, "2 of 3 pods ready")
    applied = cluster.apply(
        [m.remediation_request("checkout-crashloop", ns, signal="KubePodCrashLooping", target=name)]
    )
    assert applied.returncode == 0, applied.stderr
    rr = cluster.wait_terminal(ns, "checkout-crashloop")
    assert cluster.transitions(rr) == [
        "Pending",
        "Processing",
        "Analyzing",
        "Executing",
        "Completed",
    ]
    assert rr["status"]["stepsCompleted"] == rr["status"]["stepsTotal"] == 1
    children = _children(cluster, ns, rr)
    assert children["signal"]["status"]["environment"] == "staging"
    assert children["analysis"]["status"]["selectedWorkflow"]["name"] == "restart-deployment"
    assert children["workflow"]["status"]["phase"] == "Completed"
    step = _step(cluster, ns, children["workflow"], "step", 1)
    assert step["status"]["phase"] == "Completed"
    deployment = cluster.get("deployments", ns, name)
    assert deployment["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    cluster.wait(lambda: cluster.ready_replicas(ns, name) == 3, "every pod ready")
    _notification(cluster, ns, rr, "completion", "Completion")
    _audit_matches_status(cluster, ns, [rr, *children.values(), step])
    summary = cluster.audit_summary("remediation_summaries", ns, "checkout-crashloop")
    assert (summary["outcome"], summary["steps_completed"]) == ("completed", 1)


def test_production_waits_for_an_approver(cluster: Any) -> None:
    ns, name, rr_name = cluster.production, "payments", "payments-memory"
    assert cluster.apply([m.deployment(name, ns, replicas=2)]).returncode == 0
    cluster.wait(lambda: cluster.ready_replicas(ns, name) == 2, "payments ready")
    request = m.remediation_request(
        rr_name, ns, signal="HighMemoryUsage", target=name, severity="critical"
    )
    assert cluster.apply([request]).returncode == 0
    waiting = cluster.wait_phase("remediationrequests", ns, rr_name, {"AwaitingApproval"})
    assert "confidence 0.75 is below the threshold 0.8" in waiting["status"]["message"]
    assert cluster.get("workflowexecutions", ns, f"{rr_name}-workflow") is None
    cluster.wait_phase("notificationrequests", ns, f"{rr_name}-approval", NOTIFICATION_DONE)
    approve = (
        "annotate",
        "remediationrequest",
        rr_name,
        "-n",
        ns,
        "kubernaut.ai/approval=approved",
    )
    mallory = cluster.run(*approve, as_user="mallory")
    assert mallory.returncode != 0
    assert (
        "mallory may not decide on RemediationRequest payments-memory in production: "
        "membership of one of [kubernaut-approvers] is required"
    ) in mallory.stderr
    forged = cluster.run(*approve, "kubernaut.ai/approved-by=alice", as_user="bob")
    assert forged.returncode != 0
    alice = cluster.run(*approve, as_user="alice", groups=["kubernaut-approvers"])
    assert alice.returncode == 0, alice.stderr
    rr = cluster.wait_terminal(ns, rr_name)
    annotations = rr["metadata"]["annotations"]
    assert annotations["kubernaut.ai/approved-by"] == "alice"
    assert annotations["kubernaut.ai/approved-at"].endswith("Z")
    assert cluster.transitions(rr) == [
        "Pending",
        "Processing",
        "Analyzing",
        "AwaitingApproval",
        "Executing",
        "Completed",
    ]
    children = _children(cluster, ns, rr)
    assert children["analysis"]["status"]["approvalRequired"] is True
    workflow = children["workflow"]
    assert workflow["spec"]["executionStrategy"]["approvalRequired"] is True
    dry_run = _step(cluster, ns, workflow, "dryrun", 1)
    step = _step(cluster, ns, workflow, "step", 1)
    assert (dry_run["status"]["phase"], step["status"]["phase"]) == ("Completed", "Completed")
    cluster.wait(lambda: cluster.ready_replicas(ns, name) == 4, "4 payments pods ready")
    assert cluster.get("deployments", ns, name)["spec"]["replicas"] == 4
    _notification(cluster, ns, rr, "approval", "Approval")
    _notification(cluster, ns, rr, "completion", "Completion")
    _audit_matches_status(cluster, ns, [rr, *children.values(), dry_run, step])


def test_a_failed_critical_step_rolls_the_workflow_back(cluster: Any) -> None:
    ns, name, rr_name = cluster.staging, "search", "search-latency"
    assert cluster.apply([m.deployment(name, ns, replicas=2)]).returncode == 0
    cluster.wait(lambda: cluster.ready_replicas(ns, name) == 2, "search ready")
    request = m.remediation_request(rr_name, ns, signal="HighRequestLatency", target=name)
    assert cluster.apply([request]).returncode == 0
    rr = cluster.wait_terminal(ns, rr_name)
    assert rr["status"]["phase"] == "Failed"
    assert "rolled back" in rr["status"]["message"]
    children = _children(cluster, ns, rr)
    workflow = children["workflow"]
    assert cluster.transitions(workflow)[-2:] == ["RollingBack", "RolledBack"]
    scaled = _step(cluster, ns, workflow, "step", 1)
    failed = _step(cluster, ns, workflow, "step", 2)
    undo = _step(cluster, ns, workflow, "rollback", 1)
    assert scaled["status"]["phase"] == "Completed"
    assert failed["status"]["phase"] == "Failed"
    assert "search-tuning" in failed["status"]["message"]
    assert undo["status"]["phase"] == "Completed"
    assert undo["spec"]["parameters"]["scaleDeployment"]["replicas"] == 2
    deployment = cluster.get("deployments", ns, name)
    assert deployment["spec"]["replicas"] == 2
    cluster.wait(lambda: cluster.ready_replicas(ns, name) == 2, "search back at 2 ready pods")
    _notification(cluster, ns, rr, "escalation", "Escalation")
    _audit_matches_status(cluster, ns, [rr, *children.values(), scaled, failed, undo])
    summary = cluster.audit_summary("workflow_execution_summaries", ns, rr_name)
    assert (summary["outcome"], summary["rollbacks_performed"]) == ("rolledback", 1)
