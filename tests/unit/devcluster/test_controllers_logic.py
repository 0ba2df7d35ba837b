"""Pure decisions of the simulated Deployment and Job controllers and PDB arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from devcluster.controllers import job_status, rollout
from devcluster.disruption import budget, check_eviction
from devcluster.errors import ApiError

NOW = "2026-01-01T00:00:00Z"
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "a"}]},
}
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "uid": "d-1", "generation": 3},
    "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
}


def test_template_hash_is_deterministic_and_changes_with_the_template() -> None:
    first = rollout.template_hash(TEMPLATE)
    assert first == rollout.template_hash({**TEMPLATE})
    assert first != rollout.template_hash({**TEMPLATE, "spec": {"containers": [{"name": "b"}]}})
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_replicaset_and_pod_names_follow_deployment_hash_index() -> None:
    assert rollout.replicaset_name("web", "abc") == "web-abc"
    assert rollout.pod_name("web-abc", 2) == "web-abc-2"
    assert rollout.pod_index("web-abc", "web-abc-2") == 2
    assert rollout.pod_index("web-abc", "web-abcd-2") is None


def test_new_replicaset_carries_revision_hash_label_and_owner() -> None:
    rs = rollout.new_replicaset(DEPLOYMENT, "h1", 3)
    assert rs["metadata"]["name"] == "web-h1"
    assert rs["metadata"]["annotations"][rollout.REVISION] == "3"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": "h1"}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "h1"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == "d-1"
    assert TEMPLATE == {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "a"}]},
    }


def test_revision_history_limit_deletes_oldest_idle_replicasets() -> None:
    def rs(revision: int, replicas: int = 0) -> dict[str, Any]:
        return {
            "metadata": {"annotations": {rollout.REVISION: str(revision)}},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas},
        }

    old = [rs(3), rs(1), rs(2), rs(4, replicas=1)]
    assert [rollout.revision_of(r) for r in rollout.history_to_delete(old, 1)] == [1, 2]
    assert rollout.history_to_delete(old, 10) == []


def test_deployment_status_reports_counts_and_available_progressing() -> None:
    new = {
        "metadata": {"name": "web-h1"},
        "status": {"replicas": 4, "readyReplicas": 4, "availableReplicas": 4},
    }
    status = rollout.deployment_status(DEPLOYMENT, new, [new], NOW)
    assert status["observedGeneration"] == 3
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (4, 4, 4)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert (
        conditions["Progressing"]["message"] == 'ReplicaSet "web-h1" has successfully progressed.'
    )


def test_deployment_without_minimum_availability_and_past_deadline() -> None:
    new = {"metadata": {"name": "web-h1"}, "status": {"replicas": 4}}
    status = rollout.deployment_status(DEPLOYMENT, new, [new], NOW, deadline_passed=True)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["status"] == "False"
    assert conditions["Progressing"]["reason"] == "ProgressDeadlineExceeded"
    assert status["unavailableReplicas"] == 4


def test_crashloop_pods_are_not_ready_with_rising_restarts() -> None:
    pod: dict[str, Any] = {
        "metadata": {"annotations": {rollout.SIMULATE: rollout.CRASHLOOP}},
        "spec": {"nodeName": "n", "containers": [{"name": "a", "image": "img:1"}]},
    }
    first = rollout.pod_status(pod, NOW)
    second = rollout.pod_status({**pod, "status": first}, NOW, restart=True)
    container = second["containerStatuses"][0]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["restartCount"] == 1
    assert not rollout.pod_ready({"status": second})


def test_running_pod_status_is_stable_when_recomputed() -> None:
    pod: dict[str, Any] = {"metadata": {}, "spec": {"nodeName": "n", "containers": [{"name": "a"}]}}
    first = rollout.pod_status(pod, NOW)
    assert rollout.pod_status({**pod, "status": first}, "2030-01-01T00:00:00Z") == first
    assert rollout.pod_ready({"status": first})


JOB: dict[str, Any] = {
    "metadata": {"name": "run", "namespace": "ns", "uid": "j-1"},
    "spec": {"backoffLimit": 1, "template": {"spec": {"containers": [{"name": "c"}]}}},
}


def test_successful_job_gets_success_criteria_met_then_complete() -> None:
    status = job_status.finished_status(JOB, [job_status.Attempt(0, "ok")], NOW)
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert status["succeeded"] == 1
    assert status["completionTime"] == NOW
    assert "active" not in status


def test_failed_job_retries_until_backoff_limit_then_failure_target_and_failed() -> None:
    attempts = [job_status.Attempt(1)]
    assert job_status.should_retry(JOB, attempts)
    assert job_status.finished_status(JOB, attempts, NOW)["active"] == 1
    attempts.append(job_status.Attempt(2))
    assert not job_status.should_retry(JOB, attempts)
    status = job_status.finished_status(JOB, attempts, NOW)
    assert [c["type"] for c in status["conditions"]] == ["FailureTarget", "Failed"]
    assert status["conditions"][1]["reason"] == "BackoffLimitExceeded"
    assert status["failed"] == 2


def test_deadline_exceeded_fails_without_retry() -> None:
    attempts = [job_status.Attempt(137, deadline_exceeded=True)]
    assert not job_status.should_retry(JOB, attempts)
    status = job_status.finished_status(JOB, attempts, NOW)
    assert status["conditions"][1]["reason"] == "DeadlineExceeded"


def test_termination_message_is_capped_at_4096_bytes_like_the_kubelet() -> None:
    assert len(job_status.truncate_message(b"x" * 5000)) == 4096
    tail = job_status.fallback_from_logs("\n".join(str(i) for i in range(200)))
    assert tail.splitlines()[0] == "120"


def test_job_pod_has_job_labels_and_owner() -> None:
    pod = job_status.pod_for_job(JOB, "run-abcde", "node")
    labels = pod["metadata"]["labels"]
    assert labels["job-name"] == labels["batch.kubernetes.io/job-name"] == "run"
    assert labels["controller-uid"] == "j-1"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    finished = job_status.pod_finished_status(pod, job_status.Attempt(3, "bad"), NOW, NOW)
    terminated = finished["containerStatuses"][0]["state"]["terminated"]
    assert (finished["phase"], terminated["exitCode"], terminated["message"]) == (
        "Failed",
        3,
        "bad",
    )


def test_simulated_outcome_follows_the_annotation() -> None:
    job = {
        "metadata": {
            "annotations": {
                job_status.OUTCOME_ANNOTATION: "fail",
                job_status.MESSAGE_ANNOTATION: "m",
            }
        }
    }
    assert job_status.simulated_outcome(job, "succeed") == ("fail", "m")
    assert job_status.simulated_outcome({"metadata": {}}, "succeed") == ("succeed", "")


def _pod(name: str, *, ready: bool = True, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def _pdb(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-pdb", "namespace": "ns"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


@pytest.mark.parametrize(
    ("spec", "desired"),
    [
        ({"minAvailable": 2}, 2),
        ({"minAvailable": "50%"}, 2),
        ({"maxUnavailable": 1}, 2),
        ({"maxUnavailable": "25%"}, 2),
    ],
)
def test_pdb_desired_healthy_from_min_available_or_max_unavailable(
    spec: dict[str, Any], desired: int
) -> None:
    pods = [_pod("a"), _pod("b"), _pod("c")]
    assert budget(_pdb(**spec), pods).desired == desired


def test_eviction_violating_a_budget_is_too_many_requests() -> None:
    pods = [_pod("a"), _pod("b")]
    with pytest.raises(ApiError) as caught:
        check_eviction(pods[0], [_pdb(minAvailable=2)], pods)
    assert caught.value.code == 429
    assert caught.value.details["causes"][0]["reason"] == "DisruptionBudget"
    check_eviction(pods[0], [_pdb(minAvailable=1)], pods)


def test_pending_pods_and_unready_pods_of_a_healthy_budget_may_be_evicted() -> None:
    pods = [_pod("a"), _pod("b"), _pod("c", ready=False)]
    check_eviction(_pod("p", phase="Pending"), [_pdb(minAvailable=5)], pods)
    check_eviction(pods[2], [_pdb(minAvailable=2)], pods)
    with pytest.raises(ApiError):
        check_eviction(pods[2], [_pdb(minAvailable=3)], pods)


def test_replicaset_template_equality_ignores_hash_label_and_empty_maps() -> None:
    rs = rollout.new_replicaset(DEPLOYMENT, "h1", 1)
    assert rollout.same_template(
        rs, {**TEMPLATE, "metadata": {**TEMPLATE["metadata"], "annotations": {}}}
    )
    assert not rollout.same_template(rs, {**TEMPLATE, "spec": {"containers": [{"name": "b"}]}})
