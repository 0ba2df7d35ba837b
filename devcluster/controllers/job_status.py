"""The Job controller's decisions and documents (pure), after Kubernetes 1.31+.

A finished Job carries two conditions, as the 1.31 controller writes them: the
interim ``SuccessCriteriaMet`` then ``Complete`` (reason ``CompletionsReached``),
or ``FailureTarget`` then ``Failed`` (reason ``BackoffLimitExceeded`` or
``DeadlineExceeded``). A pod's container status carries the exit code and the
termination message, capped at 4096 bytes as the kubelet caps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

JsonObject = dict[str, Any]
Outcome = Literal["succeed", "fail"]

OUTCOME_ANNOTATION = "devcluster.kubernaut.ai/outcome"
MESSAGE_ANNOTATION = "devcluster.kubernaut.ai/termination-message"
MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_BYTES = 2048
FALLBACK_LOG_LINES = 80

_COMPLETE = ("CompletionsReached", "Reached expected number of succeeded pods")
_BACKOFF = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
_DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")


@dataclass(frozen=True)
class Attempt:
    """How one pod of a Job ended."""

    exit_code: int
    message: str = ""
    deadline_exceeded: bool = False


def is_finished(job: Mapping[str, Any]) -> bool:
    """A Job with a True Complete or Failed condition never runs again."""
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def backoff_limit(job: Mapping[str, Any]) -> int:
    value = (job.get("spec") or {}).get("backoffLimit")
    return value if isinstance(value, int) and value >= 0 else 6


def active_deadline(job: Mapping[str, Any]) -> int | None:
    value = (job.get("spec") or {}).get("activeDeadlineSeconds")
    return value if isinstance(value, int) and value > 0 else None


def simulated_outcome(job: Mapping[str, Any], default: Outcome) -> tuple[Outcome, str]:
    """The outcome and termination message of a Job that is not run for real."""
    annotations = (job.get("metadata") or {}).get("annotations") or {}
    outcome = annotations.get(OUTCOME_ANNOTATION, default)
    chosen: Outcome = "fail" if outcome == "fail" else "succeed"
    return chosen, str(annotations.get(MESSAGE_ANNOTATION, ""))


def truncate_message(data: bytes) -> str:
    """The kubelet keeps at most 4096 bytes of a termination message."""
    return data[:MAX_TERMINATION_MESSAGE].decode("utf-8", "replace")


def fallback_from_logs(logs: str) -> str:
    """``FallbackToLogsOnError``: the last 80 lines, at most 2048 bytes, of the log."""
    tail = "\n".join(logs.splitlines()[-FALLBACK_LOG_LINES:])
    return tail.encode()[-FALLBACK_LOG_BYTES:].decode("utf-8", "replace")


def _condition(kind: str, reason: str, message: str, now: str) -> JsonObject:
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": now,
        "lastTransitionTime": now,
    }


def running_status(job: Mapping[str, Any], started: str, failed: int) -> JsonObject:
    """While one pod runs: ``active: 1`` and the counts so far."""
    status = dict(job.get("status") or {})
    status.update(
        {
            "startTime": status.get("startTime") or started,
            "active": 1,
            "ready": 0,
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }
    )
    if failed:
        status["failed"] = failed
    return status


def finished_status(job: Mapping[str, Any], attempts: list[Attempt], now: str) -> JsonObject:
    """The status after the last attempt: Complete, Failed, or still active (a retry follows)."""
    status = dict(job.get("status") or {})
    failed = sum(1 for a in attempts if a.exit_code != 0)
    succeeded = sum(1 for a in attempts if a.exit_code == 0)
    status.update({"ready": 0, "terminating": 0, "uncountedTerminatedPods": {}})
    status.pop("active", None)
    if failed:
        status["failed"] = failed
    if succeeded:
        status["succeeded"] = succeeded
    last = attempts[-1]
    if last.exit_code == 0:
        status["completionTime"] = now
        status["conditions"] = [
            _condition("SuccessCriteriaMet", *_COMPLETE, now),
            _condition("Complete", *_COMPLETE, now),
        ]
    elif last.deadline_exceeded or failed > backoff_limit(job):
        reason, message = _DEADLINE if last.deadline_exceeded else _BACKOFF
        status["conditions"] = [
            _condition("FailureTarget", reason, message, now),
            _condition("Failed", reason, message, now),
        ]
    else:
        status["active"] = 1
    return status


def should_retry(job: Mapping[str, Any], attempts: list[Attempt]) -> bool:
    last = attempts[-1]
    failed = sum(1 for a in attempts if a.exit_code != 0)
    return last.exit_code != 0 and not last.deadline_exceeded and failed <= backoff_limit(job)


def pod_for_job(job: Mapping[str, Any], name: str, node: str) -> JsonObject:
    """The pod a Job's attempt is recorded as: template labels, job labels, owner reference."""
    meta = job["metadata"]
    template = (job.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    uid = str(meta["uid"])
    labels = {
        **(template_meta.get("labels") or {}),
        "batch.kubernetes.io/controller-uid": uid,
        "controller-uid": uid,
        "batch.kubernetes.io/job-name": str(meta["name"]),
        "job-name": str(meta["name"]),
    }
    spec = dict(template.get("spec") or {})
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": dict(template_meta.get("annotations") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": str(meta["name"]),
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": spec,
    }


def _containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or [])


def pod_running_status(pod: Mapping[str, Any], started: str) -> JsonObject:
    return {
        "phase": "Running",
        "startTime": started,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
            {"type": "Initialized", "status": "True", "lastTransitionTime": started},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": started},
            {"type": "Ready", "status": "True", "lastTransitionTime": started},
        ],
        "containerStatuses": [
            {
                "name": str(c.get("name", "")),
                "image": str(c.get("image", "")),
                "imageID": "",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": started}},
            }
            for c in _containers(pod)
        ],
        "qosClass": "BestEffort",
    }


def pod_finished_status(
    pod: Mapping[str, Any], attempt: Attempt, started: str, now: str
) -> JsonObject:
    """Phase Succeeded/Failed; the first container carries the exit code and message."""
    succeeded = attempt.exit_code == 0
    statuses = []
    for index, container in enumerate(_containers(pod)):
        terminated: JsonObject = {
            "exitCode": attempt.exit_code if index == 0 else 0,
            "reason": "Completed" if succeeded or index else "Error",
            "startedAt": started,
            "finishedAt": now,
        }
        if index == 0 and attempt.message:
            terminated["message"] = attempt.message
        statuses.append(
            {
                "name": str(container.get("name", "")),
                "image": str(container.get("image", "")),
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"terminated": terminated},
            }
        )
    status: JsonObject = {
        "phase": "Succeeded" if succeeded else "Failed",
        "startTime": started,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
            {
                "type": "Ready",
                "status": "False",
                "reason": "PodCompleted",
                "lastTransitionTime": now,
            },
        ],
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }
    if attempt.deadline_exceeded:
        status["reason"] = "DeadlineExceeded"
        status["message"] = "Pod was active on the node longer than the specified deadline"
    return status


def service_account_user(namespace: str, service_account: str) -> tuple[str, tuple[str, ...]]:
    """The identity of a pod's ServiceAccount, as the token authenticator reports it."""
    return (
        f"system:serviceaccount:{namespace}:{service_account}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
    )
