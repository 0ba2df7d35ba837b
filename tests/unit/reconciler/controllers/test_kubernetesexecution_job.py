"""The pure Job builder of a KubernetesExecution attempt, and reading a Job's state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.controllers.ke_job import (
    JobSettings,
    JobSpecInput,
    JobState,
    build_job,
    job_name,
    job_state,
    service_account_name,
)


def _request(**overrides: Any) -> JobSpecInput:
    fields: dict[str, Any] = {
        "execution_name": "fix-web-step-1",
        "namespace": "shop",
        "uid": "ke-uid",
        "action": "scaleDeployment",
        "parameters": {"namespace": "shop", "deployment": "web", "replicas": 5},
        "dry_run": False,
        "attempt": 2,
        "deadline_seconds": 300,
        "remediation": "rr-web",
    }
    fields.update(overrides)
    return JobSpecInput(**fields)


def _env(job: dict[str, Any]) -> dict[str, str]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item["value"] for item in container["env"]}


def test_job_identity_owner_and_labels() -> None:
    job = build_job(_request(), JobSettings())
    metadata = job["metadata"]
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert metadata["name"] == "fix-web-step-1-2"
    assert metadata["namespace"] == "shop"
    assert metadata["ownerReferences"] == [
        {
            "apiVersion": "kubernaut.ai/v1alpha1",
            "kind": "KubernetesExecution",
            "name": "fix-web-step-1",
            "uid": "ke-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    labels = {
        "kubernaut.ai/execution": "fix-web-step-1",
        "kubernaut.ai/remediation": "rr-web",
        "kubernaut.ai/attempt": "2",
    }
    assert metadata["labels"] == labels
    assert job["spec"]["template"]["metadata"]["labels"] == labels


def test_job_without_remediation_label_leaves_it_out() -> None:
    job = build_job(_request(remediation=None), JobSettings())
    assert "kubernaut.ai/remediation" not in job["metadata"]["labels"]


def test_job_spec_runs_once_within_the_deadline() -> None:
    spec = build_job(_request(deadline_seconds=42), JobSettings(ttl_seconds_after_finished=600))[
        "spec"
    ]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 42
    assert spec["ttlSecondsAfterFinished"] == 600
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_job_runs_with_the_actions_service_account() -> None:
    pod = build_job(_request(action="updateConfigMap"), JobSettings())["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kubernaut-action-update-config-map"


def test_restricted_security_context() -> None:
    pod = build_job(_request(), JobSettings())["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    # The read-only root file system still gets a writable /tmp.
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert pod["volumes"][0]["name"] == "tmp"


def test_container_image_command_and_termination_message() -> None:
    settings = JobSettings(image="registry.example/kubernaut:1.2", image_pull_policy="Always")
    container = build_job(_request(), settings)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/kubernaut:1.2"
    assert container["imagePullPolicy"] == "Always"
    assert container["command"] == ["kubernaut", "action", "run"]
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"


def test_default_image() -> None:
    container = build_job(_request(), JobSettings())["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], container["imagePullPolicy"]) == (
        "kubernaut:latest",
        "IfNotPresent",
    )


@pytest.mark.parametrize(("dry_run", "flag"), [(False, "false"), (True, "true")])
def test_environment_is_what_the_action_runner_reads(dry_run: bool, flag: str) -> None:
    env = _env(build_job(_request(dry_run=dry_run, deadline_seconds=90), JobSettings()))
    assert env == {
        "KUBERNAUT_ACTION": "scaleDeployment",
        "KUBERNAUT_PARAMETERS": env["KUBERNAUT_PARAMETERS"],
        "KUBERNAUT_DRY_RUN": flag,
        "KUBERNAUT_TIMEOUT": "90s",
        "KUBERNAUT_EXECUTION": "shop/fix-web-step-1",
        "KUBERNAUT_TERMINATION_MESSAGE_PATH": "/dev/termination-log",
    }
    assert json.loads(env["KUBERNAUT_PARAMETERS"]) == {
        "namespace": "shop",
        "deployment": "web",
        "replicas": 5,
    }


def test_environment_is_accepted_by_the_action_runner() -> None:
    from reconciler.actions.runner import parse_request

    request = parse_request(_env(build_job(_request(), JobSettings())))
    assert request.action == "scaleDeployment"
    assert request.dry_run is False
    assert request.timeout.total_seconds() == 300
    assert request.execution == "shop/fix-web-step-1"


def test_long_execution_names_give_a_job_name_of_at_most_63() -> None:
    long_name = "remediation-" + "x" * 200
    job = build_job(_request(execution_name=long_name, attempt=3), JobSettings())
    name = job["metadata"]["name"]
    assert len(name) <= 63
    assert name.endswith("-3")
    assert name == job_name(long_name, 3)
    assert len(job["metadata"]["labels"]["kubernaut.ai/execution"]) <= 63


def test_job_name_and_service_account() -> None:
    assert job_name("ke", 1) == "ke-1"
    assert service_account_name("scaleDeployment") == "kubernaut-action-scale-deployment"
    assert service_account_name("custom") == "kubernaut-action-custom"
    with pytest.raises(ValueError, match="from 1"):
        job_name("ke", 0)


def test_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="deadline_seconds"):
        build_job(_request(deadline_seconds=0), JobSettings())


def _job(status: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "ke-1"}, "status": status}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, JobState("running")),
        ({"active": 1}, JobState("running")),
        (
            {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1},
            JobState("succeeded"),
        ),
        (
            {
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "DeadlineExceeded",
                        "message": "Job was active longer than specified deadline",
                    }
                ]
            },
            JobState("failed", "DeadlineExceeded", "Job was active longer than specified deadline"),
        ),
        # Kubernetes 1.31+: the target condition comes first, the Job is not finished yet.
        ({"conditions": [{"type": "FailureTarget", "status": "True"}]}, JobState("running")),
        ({"conditions": [{"type": "Complete", "status": "False"}]}, JobState("running")),
        # No conditions at all (API stand-ins): the counters decide.
        ({"succeeded": 1}, JobState("succeeded")),
        ({"failed": 1}, JobState("failed", "BackoffLimitExceeded", "the action's pod failed")),
    ],
)
def test_job_state(status: dict[str, Any], expected: JobState) -> None:
    assert job_state(_job(status)) == expected
    assert job_state(_job(status)).finished == (expected.state != "running")
