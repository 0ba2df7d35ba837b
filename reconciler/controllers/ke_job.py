"""The Job that runs one attempt of a KubernetesExecution, and how to read its state (pure).

One Job per attempt, named ``<execution>-<attempt>`` (shortened with a stable
hash when it would exceed 63 characters), controlled by the
KubernetesExecution through an owner reference, so that the Job and its pods
go when the execution goes. The container runs ``kubernaut action run`` with
the request in its environment (see :mod:`reconciler.actions.runner`) under
the action's own ServiceAccount, with the restricted pod security profile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from api.constants import API_VERSION, LABEL_REMEDIATION
from reconciler.controllers.naming import child_name, kebab_case, label_value

__all__ = [
    "CONTAINER_NAME",
    "LABEL_ATTEMPT",
    "LABEL_EXECUTION",
    "TERMINATION_MESSAGE_PATH",
    "JobSettings",
    "JobSpecInput",
    "JobState",
    "build_job",
    "job_name",
    "job_state",
    "service_account_name",
]

JSON = dict[str, Any]

LABEL_EXECUTION: Final = "kubernaut.ai/execution"
LABEL_ATTEMPT: Final = "kubernaut.ai/attempt"
CONTAINER_NAME: Final = "action"
TERMINATION_MESSAGE_PATH: Final = "/dev/termination-log"
SERVICE_ACCOUNT_PREFIX: Final = "kubernaut-action-"
_RUNNER_USER: Final = 65532


@dataclass(frozen=True)
class JobSettings:
    """Controller-wide settings of the Jobs it creates."""

    image: str = "kubernaut:latest"
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    ttl_seconds_after_finished: int = 3600
    """Finished Jobs are garbage-collected after this long (their result is in the status)."""
    requests: dict[str, str] = field(default_factory=lambda: {"cpu": "50m", "memory": "64Mi"})
    limits: dict[str, str] = field(default_factory=lambda: {"cpu": "500m", "memory": "256Mi"})


@dataclass(frozen=True)
class JobSpecInput:
    """What one attempt's Job is built from (read from the execution by the controller)."""

    execution_name: str
    namespace: str
    uid: str
    action: str
    parameters: JSON
    """The inner parameters block of the action, as on the wire."""
    dry_run: bool
    attempt: int
    deadline_seconds: int
    """activeDeadlineSeconds: the time left of the step timeout."""
    remediation: str | None = None
    """The ``kubernaut.ai/remediation`` label of the execution, copied to the Job."""


def job_name(execution_name: str, attempt: int) -> str:
    """``<execution>-<attempt>``, at most 63 characters (the ``job-name`` label value)."""
    if attempt < 1:
        raise ValueError(f"attempts are numbered from 1, got {attempt}")
    return child_name(execution_name, str(attempt))


def service_account_name(action: str) -> str:
    """``kubernaut-action-<action in kebab-case>``, e.g. ``kubernaut-action-scale-deployment``."""
    return SERVICE_ACCOUNT_PREFIX + kebab_case(action)


def _labels(request: JobSpecInput) -> dict[str, str]:
    labels = {
        LABEL_EXECUTION: label_value(request.execution_name),
        LABEL_ATTEMPT: str(request.attempt),
    }
    if request.remediation:
        labels[LABEL_REMEDIATION] = request.remediation
    return labels


def _environment(request: JobSpecInput) -> list[JSON]:
    values = {
        "KUBERNAUT_ACTION": request.action,
        "KUBERNAUT_PARAMETERS": json.dumps(
            request.parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ),
        "KUBERNAUT_DRY_RUN": "true" if request.dry_run else "false",
        "KUBERNAUT_TIMEOUT": f"{request.deadline_seconds}s",
        "KUBERNAUT_EXECUTION": f"{request.namespace}/{request.execution_name}",
        "KUBERNAUT_TERMINATION_MESSAGE_PATH": TERMINATION_MESSAGE_PATH,
    }
    return [{"name": name, "value": value} for name, value in values.items()]


def _container(request: JobSpecInput, settings: JobSettings) -> JSON:
    return {
        "name": CONTAINER_NAME,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["kubernaut", "action", "run"],
        "env": _environment(request),
        "resources": {"requests": dict(settings.requests), "limits": dict(settings.limits)},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "terminationMessagePath": TERMINATION_MESSAGE_PATH,
        "terminationMessagePolicy": "File",
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir
    }


def build_job(request: JobSpecInput, settings: JobSettings) -> JSON:
    """The complete batch/v1 Job of one attempt."""
    if request.deadline_seconds < 1:
        raise ValueError(f"deadline_seconds must be at least 1, got {request.deadline_seconds}")
    labels = _labels(request)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(request.execution_name, request.attempt),
            "namespace": request.namespace,
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": "KubernetesExecution",
                    "name": request.execution_name,
                    "uid": request.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": 0,
            "completions": 1,
            "parallelism": 1,
            "activeDeadlineSeconds": request.deadline_seconds,
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": service_account_name(request.action),
                    "automountServiceAccountToken": True,
                    "restartPolicy": "Never",
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": _RUNNER_USER,
                        "runAsGroup": _RUNNER_USER,
                        "fsGroup": _RUNNER_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(request, settings)],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }


# ----------------------------------------------------------------- reading


@dataclass(frozen=True)
class JobState:
    """Where a Job stands: ``running`` until a terminal condition (or count) says otherwise."""

    state: Literal["running", "succeeded", "failed"]
    reason: str = ""
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.state != "running"


def _true_condition(job: JSON, condition_type: str) -> JSON | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type and condition.get("status") == "True":
            return dict(condition)
    return None


def job_state(job: JSON) -> JobState:
    """The state of a Job from its conditions; the counters decide when there are none.

    ``Complete`` / ``Failed`` are the terminal conditions. ``FailureTarget`` and
    ``SuccessCriteriaMet`` (Kubernetes 1.31+) come first while pods are still
    being terminated: the Job is not finished until the terminal one is set.
    Without conditions (some API stand-ins), a succeeded pod means success and
    a failed pod means failure (the Job has ``backoffLimit: 0``).
    """
    complete = _true_condition(job, "Complete")
    if complete is not None:
        return JobState(
            "succeeded", str(complete.get("reason") or ""), str(complete.get("message") or "")
        )
    failed = _true_condition(job, "Failed")
    if failed is not None:
        return JobState("failed", str(failed.get("reason") or ""), str(failed.get("message") or ""))
    status = job.get("status") or {}
    if (status.get("conditions") or []) == []:
        if int(status.get("succeeded") or 0) >= 1:
            return JobState("succeeded")
        if int(status.get("failed") or 0) >= 1:
            return JobState("failed", "BackoffLimitExceeded", "the action's pod failed")
    return JobState("running")
