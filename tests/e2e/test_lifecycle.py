"""A remediation's life around the happy path: duplicates, timeouts, deletion, a crashed reconciler.

* a second request for the same signal and target while the first is active
  is Skipped with ``duplicateOf``, and the first counts the occurrence;
* a phase timeout ends the request TimedOut with an escalation;
* deleting a request removes its whole tree (owner references, in the
  background or the foreground) and leaves its complete audit trail;
* a reconciler killed (SIGKILL) while a step's Job runs loses nothing and
  creates no second Job (local stack only: a real cluster's reconciler is not
  ours to kill).
"""

from __future__ import annotations

from typing import Any

import pytest

from devcluster import demo_manifests as m

pytestmark = pytest.mark.e2e

JSON = dict[str, Any]
TREE = (
    "signalprocessings",
    "aianalyses",
    "workflowexecutions",
    "kubernetesexecutions",
    "jobs",
    "notificationrequests",
)


def _deployment(cluster: Any, namespace: str, name: str, replicas: int = 2) -> None:
    assert cluster.apply([m.deployment(name, namespace, replicas=replicas)]).returncode == 0
    cluster.wait(lambda: cluster.ready_replicas(namespace, name) == replicas, f"{name} ready")


def _tree(cluster: Any, namespace: str, remediation: str) -> dict[str, list[JSON]]:
    """Every object labelled as part of ``remediation``, by plural."""
    selector = f"kubernaut.ai/remediation={remediation}"
    return {plural: cluster.items(plural, namespace, selector) for plural in TREE}


def test_a_duplicate_signal_is_skipped_and_counted(cluster: Any) -> None:
    ns = cluster.production
    _deployment(cluster, ns, "ledger")
    first = m.remediation_request("ledger-memory", ns, signal="HighMemoryUsage", target="ledger")
    assert cluster.apply([first]).returncode == 0
    cluster.wait_phase("remediationrequests", ns, "ledger-memory", {"AwaitingApproval"})
    again = m.remediation_request(
        "ledger-memory-again", ns, signal="HighMemoryUsage", target="ledger"
    )
    assert again["spec"]["signalFingerprint"] == first["spec"]["signalFingerprint"]
    assert cluster.apply([again]).returncode == 0
    skipped = cluster.wait_phase("remediationrequests", ns, "ledger-memory-again", {"Skipped"})
    assert skipped["status"]["duplicateOf"]["name"] == "ledger-memory"
    assert cluster.transitions(skipped) == ["Pending", "Skipped"]
    assert cluster.get("signalprocessings", ns, "ledger-memory-again-signal") is None

    def counted() -> JSON | None:
        original = cluster.get("remediationrequests", ns, "ledger-memory")
        return original if original["status"].get("occurrences") == 2 else None

    original = cluster.wait(counted, "the original counts the duplicate")
    assert original["status"]["phase"] == "AwaitingApproval"


def test_an_approval_that_never_comes_times_out_and_escalates(cluster: Any) -> None:
    ns = cluster.production
    _deployment(cluster, ns, "billing")
    request = m.remediation_request(
        "billing-memory",
        ns,
        signal="HighMemoryUsage",
        target="billing",
        timeouts={"awaitingApproval": "5s"},
    )
    assert cluster.apply([request]).returncode == 0
    rr = cluster.wait_terminal(ns, "billing-memory", timeout=60.0)
    assert rr["status"]["phase"] == "TimedOut"
    assert cluster.transitions(rr)[-2:] == ["AwaitingApproval", "TimedOut"]
    assert cluster.get("workflowexecutions", ns, "billing-memory-workflow") is None
    escalation = cluster.get("notificationrequests", ns, "billing-memory-escalation")
    assert escalation["spec"]["type"] == "Escalation"
    assert escalation["status"]["phase"] == "Sent"
    assert cluster.get("deployments", ns, "billing")["spec"]["replicas"] == 2


@pytest.mark.parametrize("cascade", ["background", "foreground"])
def test_deleting_a_request_removes_its_tree_and_keeps_its_trail(
    cluster: Any, cascade: str
) -> None:
    ns, target, rr_name = cluster.staging, f"cart-{cascade}", f"cart-{cascade}-restart"
    _deployment(cluster, ns, target)
    request = m.remediation_request(rr_name, ns, signal="KubePodCrashLooping", target=target)
    assert cluster.apply([request]).returncode == 0
    rr = cluster.wait_terminal(ns, rr_name)
    assert rr["status"]["phase"] == "Completed"
    tree = _tree(cluster, ns, rr_name)
    assert all(tree[plural] for plural in TREE), {p: len(v) for p, v in tree.items()}
    transitions = {
        obj["metadata"]["uid"]: cluster.transitions(obj)
        for objs in [[rr], *(tree[p] for p in TREE if p != "jobs")]
        for obj in objs
    }
    deleted = cluster.run("delete", "remediationrequest", rr_name, "-n", ns, f"--cascade={cascade}")
    assert deleted.returncode == 0, deleted.stderr

    def gone() -> bool:
        remaining = _tree(cluster, ns, rr_name)
        rest = cluster.get("remediationrequests", ns, rr_name)
        return rest is None and not any(remaining.values())

    cluster.wait(gone, "the request and its whole tree deleted", 60.0)

    def complete(rows: list[JSON]) -> bool:
        recorded: dict[str, list[str]] = {}
        for row in rows:
            if row["transition_index"] is not None:
                recorded.setdefault(row["object_uid"], []).append(row["phase_to"])
        return recorded == transitions

    cluster.audit_rows(ns, rr_name, complete)


def test_a_killed_reconciler_loses_nothing_and_duplicates_no_job(cluster: Any) -> None:
    stack = cluster.require_local("killing the reconciler process")
    ns, target, rr_name = cluster.staging, "orders", "orders-restart"
    _deployment(cluster, ns, target)
    request = m.remediation_request(rr_name, ns, signal="KubePodCrashLooping", target=target)
    assert cluster.apply([request]).returncode == 0
    selector = f"kubernaut.ai/remediation={rr_name}"
    job = cluster.wait(lambda: cluster.items("jobs", ns, selector), "the step's Job", 60.0)
    rr = cluster.get("remediationrequests", ns, rr_name)
    assert rr["status"]["phase"] == "Executing"
    stack.stop_reconciler(kill=True)

    def finished() -> bool:
        found = cluster.get("jobs", ns, job[0]["metadata"]["name"]) or {}
        conditions = (found.get("status") or {}).get("conditions") or []
        return any(
            c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions
        )

    cluster.wait(finished, "the Job to finish while no reconciler runs", 60.0)
    assert cluster.phase("kubernetesexecutions", ns, f"{rr_name}-workflow-step-1") == "Executing"
    stack.start_reconciler()
    rr = cluster.wait_terminal(ns, rr_name)
    assert rr["status"]["phase"] == "Completed"
    assert cluster.transitions(rr) == [
        "Pending",
        "Processing",
        "Analyzing",
        "Executing",
        "Completed",
    ]
    jobs = cluster.items("jobs", ns, selector)
    assert [j["metadata"]["name"] for j in jobs] == [job[0]["metadata"]["name"]]
    execution = cluster.get("kubernetesexecutions", ns, f"{rr_name}-workflow-step-1")
    assert execution["status"]["attempts"] == 1
    assert execution["status"]["phase"] == "Completed"
    tree = _tree(cluster, ns, rr_name)
    for plural in TREE:
        names = [obj["metadata"]["name"] for obj in tree[plural]]
        assert names, plural
        assert len(names) == len(set(names)), plural
    objects = [rr, *(obj for p in TREE if p != "jobs" for obj in tree[p])]
    expected = {obj["metadata"]["uid"]: cluster.transitions(obj) for obj in objects}

    def complete(rows: list[JSON]) -> bool:
        recorded: dict[str, list[str]] = {}
        for row in rows:
            if row["transition_index"] is not None:
                recorded.setdefault(row["object_uid"], []).append(row["phase_to"])
        return recorded == expected

    cluster.audit_rows(ns, rr_name, complete)
