"""KubernetesExecution controller: run one workflow step as a Job, with pre- and postconditions.

Phases (the table in :mod:`api.phases`)::

    (new) -> Pending -> Validating -> Executing -> Verifying -> Completed
                           |             |  ^          |
                           v             v  |__________|  postcondition failed, retries left
                         Failed   Failed / TimedOut    Failed

* **Validating**: every precondition (a ``kubernaut.execution`` Rego rule
  over the live target) is evaluated; one without a ``timeout`` decides at
  once, one with a timeout is polled until it holds or the time is up. A
  failed required precondition fails the execution; a failed optional one is
  recorded as a warning.
* **Executing**: attempt ``n`` is the Job ``<name>-<n>`` (see
  :mod:`reconciler.controllers.ke_job`). The Job's conditions decide success;
  the result document in the pod's termination message adds the typed
  result and the rollback information. A failed Job is retried with a new
  Job while attempts remain (``maxRetries + 1`` in all). The step
  ``timeout`` runs from the start of the phase: when it is over the running
  Job is deleted and the execution is TimedOut.
* **Verifying**: postconditions are polled until they hold or their timeout;
  a dry run, or a step without postconditions, completes at once.

The controller keeps no state between reconciles: the attempt number and the
Job's name are in the status before the Job is created (so a Job that a crash
kept from being created is created again under the same name, never as a new
attempt), and every write of the status is guarded by the resourceVersion.

On deletion a still-running Job is deleted, the finalizer waits (bounded) for
the audit trail to be complete, an Event is recorded and the finalizer goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from api.durations import format_duration, parse_duration
from api.kubernetesexecution import KubernetesExecutionSpec
from api.timestamps import format_timestamp
from reconciler.controller import ClusterView
from reconciler.controllers.ke_attempts import (
    Attempt,
    finished_note,
    job_request,
    parse_spec,
    recorded_outcome,
    replacing,
    seconds,
    start_job,
)
from reconciler.controllers.ke_conditions import (
    ConditionCheck,
    ConditionPolicy,
    ConditionVerdict,
    judge,
)
from reconciler.controllers.ke_finalize import (
    FINALIZER,
    AuditCompleteness,
    Finalization,
    finalize,
)
from reconciler.controllers.ke_job import JobSettings, build_job, job_state
from reconciler.controllers.ke_observe import ExecutionObservation, observe_execution
from reconciler.controllers.ke_resources import EXECUTIONS, JOBS, PODS
from reconciler.controllers.ke_result import attempt_result
from reconciler.effects import (
    AddFinalizer,
    AuditNote,
    CreateChild,
    DeleteObject,
    Effect,
    PatchStatus,
    RecordEvent,
    RequeueAfter,
)
from reconciler.kube import Resource
from reconciler.transitions import current_phase, move_to, phase_started, terminal

__all__ = [
    "FINALIZER",
    "AuditCompleteness",
    "ExecutionObservation",
    "Finalization",
    "KubernetesExecutionController",
    "KubernetesExecutionSettings",
]

JSON = dict[str, Any]


@dataclass(frozen=True)
class KubernetesExecutionSettings:
    job: JobSettings = field(default_factory=JobSettings)
    default_timeout: timedelta = timedelta(minutes=5)
    """Step timeout when ``spec.timeout`` is absent."""
    default_max_retries: int = 0
    """Retries when ``spec.maxRetries`` is absent (the mutating webhook usually fills it)."""
    postcondition_timeout: timedelta = timedelta(minutes=2)
    """How long a postcondition without its own ``timeout`` is polled."""
    poll_interval: timedelta = timedelta(seconds=5)
    """How often conditions are evaluated again while waiting for them."""
    finalization: Finalization = field(default_factory=Finalization)
    """The bounded wait for the audit trail on deletion."""


def _status(obj: JSON) -> JSON:
    return dict(obj.get("status") or {})


def _metadata(obj: JSON) -> JSON:
    return dict(obj.get("metadata") or {})


class KubernetesExecutionController:
    """Observe/decide for ``kubernetesexecutions.kubernaut.ai``."""

    name = "kubernetesexecution"
    resource: Resource = EXECUTIONS
    owns: Sequence[Resource] = (JOBS,)
    reads: Sequence[Resource] = (PODS,)

    def __init__(
        self,
        policy: ConditionPolicy,
        *,
        audit: AuditCompleteness | None = None,
        settings: KubernetesExecutionSettings | None = None,
    ) -> None:
        self._policy = policy
        self._audit = audit
        self.settings = settings or KubernetesExecutionSettings()

    def observe(self, obj: JSON, view: ClusterView) -> ExecutionObservation:
        return observe_execution(obj, view, policy=self._policy, audit=self._audit)

    # ------------------------------------------------------------------- decide

    def decide(self, obj: JSON, observed: ExecutionObservation, now: datetime) -> list[Effect]:
        if _metadata(obj).get("deletionTimestamp"):
            return finalize(
                obj,
                job=observed.job,
                audit_complete=observed.audit_complete,
                settings=self.settings.finalization,
                now=now,
            )
        effects: list[Effect] = []
        if FINALIZER not in (_metadata(obj).get("finalizers") or []):
            effects.append(AddFinalizer(FINALIZER))
        if terminal(obj):
            return effects
        phase = current_phase(obj)
        if phase is None:
            return [*effects, *move_to(obj, "Pending", reason="Created", now=now)]
        try:
            spec = parse_spec(obj)
        except ValueError as err:
            return [
                *effects,
                *self._end(obj, "Failed", reason="InvalidSpec", message=str(err), now=now),
            ]
        if phase == "Pending":
            effects += move_to(obj, "Validating", reason="ValidationStarted", now=now)
        elif phase == "Validating":
            effects += self._validating(obj, spec, observed, now)
        elif phase == "Executing":
            effects += self._executing(obj, spec, observed, now)
        elif phase == "Verifying":
            effects += self._verifying(obj, spec, observed, now)
        return effects

    # -- phases

    def _validating(
        self,
        obj: JSON,
        spec: KubernetesExecutionSpec,
        observed: ExecutionObservation,
        now: datetime,
    ) -> list[Effect]:
        if len(observed.checks) != len(spec.pre_conditions or []):
            return [RequeueAfter(seconds(self.settings.poll_interval))]  # not evaluated yet
        verdict = self._judge(obj, observed.checks, timedelta(0), now)
        if verdict.state == "waiting":
            return self._wait(obj, "waiting for preconditions", verdict)
        status: JSON = {}
        if verdict.results:
            status["validationResults"] = {"preConditionResults": verdict.results}
        warnings = self._warnings("precondition", verdict)
        if verdict.state == "failed":
            message = "precondition failed: " + "; ".join(verdict.failures)
            return [
                *self._end(
                    obj,
                    "Failed",
                    reason="PreconditionFailed",
                    message=message,
                    now=now,
                    status=status,
                ),
                *warnings,
            ]
        timeout = self._timeout(spec)
        return [
            *self._start_attempt(
                obj,
                spec,
                attempt=1,
                timeout=timeout,
                now=now,
                reason="PreconditionsPassed",
                status=status,
            ),
            *warnings,
        ]

    def _executing(
        self,
        obj: JSON,
        spec: KubernetesExecutionSpec,
        observed: ExecutionObservation,
        now: datetime,
    ) -> list[Effect]:
        attempt = self._current_attempt(obj, spec, now)
        remaining = attempt.deadline - now
        if attempt.number == 0:
            # Executing without a recorded attempt (status edited by hand): begin the first.
            if remaining <= timedelta(0):
                return self._time_out(obj, spec, attempt, now, job_running=False)
            return self._next_attempt(obj, spec, attempt=1, remaining=remaining, now=now, status={})
        if observed.foreign_job:
            if remaining <= timedelta(0):
                return self._time_out(obj, spec, attempt, now, job_running=False)
            message = f"Job {attempt.job} exists but is not controlled by this execution"
            return [
                *self._message(obj, message),
                RequeueAfter(seconds(min(self.settings.poll_interval, remaining))),
            ]
        if observed.job is None:
            if remaining <= timedelta(0):
                return self._time_out(obj, spec, attempt, now, job_running=False)
            # Lost before it was created (or the cache has not seen it yet): same name again.
            body = build_job(job_request(obj, spec, attempt.number, remaining), self.settings.job)
            return [CreateChild(JOBS, body), RequeueAfter(seconds(remaining))]
        state = job_state(observed.job)
        if not state.finished:
            if remaining <= timedelta(0):
                return self._time_out(obj, spec, attempt, now, job_running=True)
            return [RequeueAfter(seconds(remaining))]
        result = attempt_result(state, observed.pods, dry_run=spec.dry_run)
        recorded = recorded_outcome(obj, result)
        finished = finished_note(attempt, result, state.reason)
        if result.succeeded:
            return [
                *move_to(obj, "Verifying", reason="JobSucceeded", now=now, status=recorded),
                finished,
            ]
        if state.reason == "DeadlineExceeded" or remaining <= timedelta(0):
            message = (
                f"attempt {attempt.number} ran out of the step timeout "
                f"{format_duration(self._timeout(spec))}: {result.message}"
            )
            return [
                *self._end(
                    obj, "TimedOut", reason="Timeout", message=message, now=now, status=recorded
                ),
                finished,
            ]
        limit = self._max_attempts(spec)
        if attempt.number < limit:
            retry: list[Effect] = [
                RecordEvent(
                    "Warning",
                    "Retrying",
                    f"attempt {attempt.number} of {limit} failed, retrying: {result.message}",
                ),
                finished,
            ]
            return [
                *self._next_attempt(
                    obj,
                    spec,
                    attempt=attempt.number + 1,
                    remaining=remaining,
                    now=now,
                    status=recorded,
                ),
                *retry,
            ]
        message = f"attempt {attempt.number} of {limit} failed: {result.message}"
        return [
            *self._end(
                obj, "Failed", reason="JobFailed", message=message, now=now, status=recorded
            ),
            finished,
        ]

    def _verifying(
        self,
        obj: JSON,
        spec: KubernetesExecutionSpec,
        observed: ExecutionObservation,
        now: datetime,
    ) -> list[Effect]:
        result = _status(obj).get("executionResult") or {}
        message = str(result.get("message") or "the action succeeded")
        if spec.dry_run:
            return self._end(obj, "Completed", reason="DryRunCompleted", message=message, now=now)
        if not spec.post_conditions:
            return self._end(obj, "Completed", reason="Succeeded", message=message, now=now)
        if len(observed.checks) != len(spec.post_conditions):
            return [RequeueAfter(seconds(self.settings.poll_interval))]  # not evaluated yet
        verdict = self._judge(obj, observed.checks, self.settings.postcondition_timeout, now)
        if verdict.state == "waiting":
            return self._wait(obj, "waiting for postconditions", verdict)
        status: JSON = {"validationResults": {"postConditionResults": verdict.results}}
        warnings = self._warnings("postcondition", verdict)
        if verdict.state == "passed":
            return [
                *self._end(
                    obj,
                    "Completed",
                    reason="PostconditionsPassed",
                    message=message,
                    now=now,
                    status=status,
                ),
                *warnings,
            ]
        failure = "postcondition failed: " + "; ".join(verdict.failures)
        attempts = int(_status(obj).get("attempts") or 0)
        limit = self._max_attempts(spec)
        if attempts < limit:
            retry = self._start_attempt(
                obj,
                spec,
                attempt=attempts + 1,
                timeout=self._timeout(spec),
                now=now,
                reason="PostconditionFailed",
                status=status,
            )
            event = RecordEvent(
                "Warning", "Retrying", f"attempt {attempts} of {limit}: {failure}, retrying"
            )
            return [*retry, event, *warnings]
        message = f"attempt {attempts} of {limit}: {failure}"
        return [
            *self._end(
                obj, "Failed", reason="PostconditionFailed", message=message, now=now, status=status
            ),
            *warnings,
        ]

    # -- attempts and Jobs

    def _timeout(self, spec: KubernetesExecutionSpec) -> timedelta:
        return parse_duration(spec.timeout) if spec.timeout else self.settings.default_timeout

    def _max_attempts(self, spec: KubernetesExecutionSpec) -> int:
        retries = spec.max_retries
        return (self.settings.default_max_retries if retries is None else retries) + 1

    def _current_attempt(self, obj: JSON, spec: KubernetesExecutionSpec, now: datetime) -> Attempt:
        status = _status(obj)
        started = phase_started(obj) or now
        number = int(status.get("attempts") or 0)
        name = str(status.get("jobName") or "")
        if not name:
            number = 0
        return Attempt(number, name, started + self._timeout(spec))

    def _start_attempt(
        self,
        obj: JSON,
        spec: KubernetesExecutionSpec,
        *,
        attempt: int,
        timeout: timedelta,
        now: datetime,
        reason: str,
        status: JSON,
    ) -> list[Effect]:
        """Move to Executing with attempt ``attempt`` (the phase's clock starts now)."""
        fields, create = start_job(obj, spec, attempt, timeout, self.settings.job)
        changes = {**status, **fields, "message": None}
        if attempt == 1:
            changes["startTime"] = format_timestamp(now)
        return [*move_to(obj, "Executing", reason=reason, now=now, status=changes), *create]

    def _next_attempt(
        self,
        obj: JSON,
        spec: KubernetesExecutionSpec,
        *,
        attempt: int,
        remaining: timedelta,
        now: datetime,
        status: JSON,
    ) -> list[Effect]:
        """Attempt ``attempt`` within the current Executing phase (same deadline)."""
        fields, create = start_job(obj, spec, attempt, remaining, self.settings.job)
        changes = {**status, **fields}
        if not _status(obj).get("startTime"):
            changes["startTime"] = format_timestamp(now)
        return [PatchStatus(changes), *create]

    def _time_out(
        self,
        obj: JSON,
        spec: KubernetesExecutionSpec,
        attempt: Attempt,
        now: datetime,
        *,
        job_running: bool,
    ) -> list[Effect]:
        message = f"step timeout {format_duration(self._timeout(spec))} exceeded" + (
            f" during attempt {attempt.number} (Job {attempt.job})" if attempt.number else ""
        )
        result = {"success": False, "message": message}
        status = {"executionResult": replacing(_status(obj).get("executionResult"), result)}
        effects = self._end(
            obj, "TimedOut", reason="Timeout", message=message, now=now, status=status
        )
        if job_running:
            namespace = _metadata(obj).get("namespace")
            effects += [
                DeleteObject(JOBS, namespace, attempt.job, "Background"),
                AuditNote(
                    "job-deleted",
                    attempt.job,
                    "Timeout",
                    f"deleted Job {attempt.job}: {message}",
                    {"job": attempt.job, "attempt": attempt.number},
                ),
            ]
        return effects

    # -- conditions

    def _judge(
        self,
        obj: JSON,
        checks: Sequence[ConditionCheck],
        default_timeout: timedelta,
        now: datetime,
    ) -> ConditionVerdict:
        return judge(
            checks,
            started=phase_started(obj) or now,
            now=now,
            default_timeout=default_timeout,
            poll_interval=self.settings.poll_interval,
        )

    def _wait(self, obj: JSON, what: str, verdict: ConditionVerdict) -> list[Effect]:
        pending = [
            f"{result['conditionType']}: {result.get('errorMessage', 'not satisfied')}"
            for result in verdict.results
            if not result["passed"]
        ]
        message = f"{what}: " + "; ".join(pending)
        assert verdict.wait_seconds is not None
        return [*self._message(obj, message), RequeueAfter(verdict.wait_seconds)]

    @staticmethod
    def _warnings(kind: str, verdict: ConditionVerdict) -> list[Effect]:
        if not verdict.warnings:
            return []
        text = f"optional {kind} not satisfied: " + "; ".join(verdict.warnings)
        return [RecordEvent("Warning", "ConditionWarning", text)]

    # -- status helpers

    @staticmethod
    def _message(obj: JSON, message: str) -> list[Effect]:
        """Write ``status.message`` only when it changes (a write wakes the next reconcile)."""
        if _status(obj).get("message") == message:
            return []
        return [PatchStatus({"message": message})]

    @staticmethod
    def _end(
        obj: JSON,
        phase: str,
        *,
        reason: str,
        message: str,
        now: datetime,
        status: JSON | None = None,
    ) -> list[Effect]:
        changes = {**(status or {}), "message": message, "completionTime": format_timestamp(now)}
        return move_to(obj, phase, reason=reason, now=now, message=message, status=changes)
