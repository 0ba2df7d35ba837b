"""RemediationRequest controller: the orchestrator of a remediation's children.

Phases (the table in :mod:`api.phases`)::

    (new) -> Pending -> Processing -> Analyzing -> [AwaitingApproval] -> Executing -> Completed
               |             any non-terminal phase -> Failed | TimedOut
               +-> Skipped (duplicate of an active request)

* **Pending**: a request whose signal (fingerprint and target) is already
  being remediated by an active request is Skipped with ``duplicateOf``
  (:mod:`reconciler.controllers.rr_duplicates`); otherwise SignalProcessing
  ``<rr>-signal`` is created and the request is Processing.
* **Processing**: when SignalProcessing completed, AIAnalysis ``<rr>-analysis``
  is created with the signal and the enrichment, and the request is
  labelled with the classified environment (approval policies read it).
* **Analyzing**: when AIAnalysis completed with a workflow, either the
  WorkflowExecution ``<rr>-workflow`` is created (Executing), or, when the
  analysis requires approval, the Approval notification ``<rr>-approval``
  (AwaitingApproval).
* **AwaitingApproval**: ``kubernaut.ai/approval: approved`` on the request
  creates the WorkflowExecution with ``approvalRequired: true`` (the
  approval of the owning request covers it); ``rejected`` fails the request.
* **Executing**: step counts follow the WorkflowExecution's status; its
  Completed completes the request, Failed or RolledBack fail it.

A child that Failed fails the request with the child's reason. Every phase
that waits has a timeout, and the whole remediation has a global one
(:mod:`reconciler.controllers.rr_timeouts`); when one passes the request is
TimedOut. Failed and TimedOut requests get an Escalation notification,
Completed ones a Completion notification, created in the same reconcile as
the terminal move. Terminal requests are left alone until their retention is
over, then deleted (:mod:`reconciler.controllers.rr_retention`).

Order of judgement in a waiting phase: a child's final verdict first (a
failure, or the workflow's end), then the global deadline, then progress to
the next phase, then the phase deadline. A result that is already there is
never reported as a timeout because the reconcile came late.

Restart safety: children have deterministic names and are created before
the status write that records them; a phase whose child is missing creates
it again (the API answers "already exists" when it was only the cache that
lagged). Nothing is kept between reconciles.

Error handling (the orchestrator plan's categories): a child not created or
not cached yet is waited for; API errors go back to the manager's per-key
backoff; a failed child is propagated and escalated; a write conflict makes
the manager re-read the request and decide again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from api.constants import (
    ANNOTATION_APPROVAL,
    ANNOTATION_APPROVED_AT,
    ANNOTATION_APPROVED_BY,
    APPROVAL_APPROVED,
    APPROVAL_REJECTED,
    LABEL_ENVIRONMENT,
    finalizer_for,
)
from api.errors import field_errors
from api.notificationrequest import Channel
from api.remediationrequest import RemediationRequestSpec
from api.timestamps import format_timestamp
from reconciler.controller import ClusterView
from reconciler.controllers.finalizer import (
    AUDIT_GRACE,
    AuditCompleteness,
    audit_complete,
    deleting,
    ensure_finalizer,
    finalize,
)
from reconciler.controllers.progress import Moves
from reconciler.controllers.rr_children import (
    AI_ANALYSES,
    CHILD_RESOURCES,
    NOTIFICATION_REQUESTS,
    REMEDIATION_REQUESTS,
    SIGNAL_PROCESSINGS,
    WORKFLOW_EXECUTIONS,
    ChildRole,
    Classification,
    ai_analysis,
    child_labels,
    classification_of,
    enrichment_of,
    failure_text,
    name_of,
    ownership,
    reference,
    selected_workflow,
    signal_processing,
    workflow_execution,
)
from reconciler.controllers.rr_duplicates import duplicate_target, occurrences, original_of
from reconciler.controllers.rr_notifications import (
    Outcome,
    approval_notification,
    completion_notification,
    escalation_notification,
)
from reconciler.controllers.rr_retention import retention_effects
from reconciler.controllers.rr_timeouts import Deadline, Deadlines, deadlines
from reconciler.effects import (
    AuditNote,
    CreateChild,
    Effect,
    PatchMetadata,
    PatchStatus,
    RecordEvent,
    RequeueAfter,
)
from reconciler.kube import Resource
from reconciler.transitions import current_phase, terminal

__all__ = [
    "FINALIZER",
    "REMEDIATION_REQUESTS",
    "RemediationObservation",
    "RemediationRequestController",
    "RemediationSettings",
    "parse_channels",
]

JSON = dict[str, Any]

FINALIZER: Final = finalizer_for("RemediationRequest")
_MAX_CHANNELS: Final = 10


def parse_channels(raw: Sequence[Mapping[str, Any]]) -> tuple[Channel, ...]:
    """Notification channels from configuration; ValueError naming every problem."""
    if not raw:
        raise ValueError("at least one notification channel is required")
    if len(raw) > _MAX_CHANNELS:
        raise ValueError(f"at most {_MAX_CHANNELS} notification channels are allowed")
    channels = []
    for index, item in enumerate(raw):
        try:
            channels.append(Channel.model_validate(dict(item), by_alias=True, by_name=False))
        except ValidationError as err:
            problems = "; ".join(str(e) for e in field_errors(err, prefix=f"channels[{index}]"))
            raise ValueError(f"invalid notification channel: {problems}") from None
    return tuple(channels)


@dataclass(frozen=True)
class RemediationSettings:
    retention: timedelta = timedelta(hours=24)
    """How long a finished request is kept before it is deleted."""
    channels: tuple[Channel, ...] = (Channel(type="log"),)
    """Where approval, escalation and completion notifications go."""
    audit_grace: timedelta = AUDIT_GRACE
    """How long a deletion waits for the audit trail, from metadata.deletionTimestamp."""

    def __post_init__(self) -> None:
        if self.retention <= timedelta(0):
            raise ValueError(f"retention must be positive, got {self.retention}")
        if self.audit_grace < timedelta(0):
            raise ValueError(f"audit grace must not be negative, got {self.audit_grace}")
        if not 1 <= len(self.channels) <= _MAX_CHANNELS:
            raise ValueError(
                f"between 1 and {_MAX_CHANNELS} notification channels are required, "
                f"got {len(self.channels)}"
            )


@dataclass(frozen=True)
class RemediationObservation:
    """What ``observe`` found; the defaults are "nothing found"."""

    children: Mapping[ChildRole, JSON] = field(default_factory=dict)
    """Objects found under the children's deterministic names (whoever owns them)."""
    peers: tuple[JSON, ...] = ()
    """The RemediationRequests of the namespace (duplicates and occurrences)."""
    audit_complete: bool = True
    """Read only while the request is being deleted."""


def _metadata(obj: JSON) -> JSON:
    return dict(obj.get("metadata") or {})


def _status(obj: JSON | None) -> JSON:
    return dict((obj or {}).get("status") or {})


def _parse_spec(obj: JSON) -> RemediationRequestSpec:
    try:
        return RemediationRequestSpec.model_validate(
            obj.get("spec") or {}, by_alias=True, by_name=False
        )
    except ValidationError as err:
        problems = "; ".join(str(error) for error in field_errors(err, prefix="spec"))
        raise ValueError(f"invalid spec: {problems}") from None


class RemediationRequestController:
    """Observe/decide for ``remediationrequests.kubernaut.ai``."""

    name = "remediationrequest"
    resource: Resource = REMEDIATION_REQUESTS
    owns: Sequence[Resource] = (
        SIGNAL_PROCESSINGS,
        AI_ANALYSES,
        WORKFLOW_EXECUTIONS,
        NOTIFICATION_REQUESTS,
    )
    reads: Sequence[Resource] = ()

    def __init__(
        self,
        *,
        audit: AuditCompleteness | None = None,
        settings: RemediationSettings | None = None,
    ) -> None:
        self._audit = audit
        self.settings = settings or RemediationSettings()

    def related_keys(self, obj: JSON) -> list[tuple[str, str]]:
        """Other requests to reconcile when ``obj`` changes: the original of a skipped duplicate.

        For the manager to enqueue (like controller-runtime's map functions),
        so the original counts the duplicate into ``occurrences`` at once.
        """
        original = duplicate_target(obj)
        if original is None:
            return []
        return [(str(_metadata(obj).get("namespace") or ""), original)]

    def child_rejected(self, obj: JSON, child: JSON, message: str, now: datetime) -> list[Effect]:
        """A child the API server refused for good (an admission policy, an invalid object).

        The request fails with the server's message, escalated as any failure;
        when the refused child is a notification itself, the request fails
        without one, so a policy refusing notifications cannot loop.
        """
        name = (child.get("metadata") or {}).get("name", "?")
        text = f"{child.get('kind', 'child')} {name} was refused by the API server: {message}"
        if deleting(obj) or terminal(obj):
            return [RecordEvent("Warning", "ChildRejected", text)]
        moves = Moves(obj)
        decision = _Decision(obj, RemediationObservation(), now, self.settings, moves)
        notify = child.get("kind") != "NotificationRequest"
        decision.fail("ChildRejected", text, notify=notify)
        return moves.effects

    # ------------------------------------------------------------------ observe

    def observe(self, obj: JSON, view: ClusterView) -> RemediationObservation:
        metadata = _metadata(obj)
        if deleting(obj):
            complete = True
            if FINALIZER in (metadata.get("finalizers") or []):
                complete = audit_complete(self._audit, obj)
            return RemediationObservation(audit_complete=complete)
        if terminal(obj):
            return RemediationObservation()
        namespace = metadata.get("namespace")
        name = str(metadata["name"])
        children: dict[ChildRole, JSON] = {}
        for role, resource in CHILD_RESOURCES.items():
            found = view.get(resource, namespace, name_of(name, role))
            if found is not None:
                children[role] = found
        peers = tuple(view.list(REMEDIATION_REQUESTS, namespace))
        return RemediationObservation(children=children, peers=peers)

    # ------------------------------------------------------------------- decide

    def decide(self, obj: JSON, observed: RemediationObservation, now: datetime) -> list[Effect]:
        if deleting(obj):
            return finalize(
                obj, complete=observed.audit_complete, now=now, grace=self.settings.audit_grace
            )
        moves = Moves(obj)
        moves.add(*ensure_finalizer(obj))
        if terminal(obj):
            moves.add(*retention_effects(obj, self.settings.retention, now))
            return moves.effects
        _Decision(obj, observed, now, self.settings, moves).run()
        return moves.effects


class _Decision:
    """One reconcile of an active request: the phase handlers over a :class:`Moves`."""

    def __init__(
        self,
        obj: JSON,
        observed: RemediationObservation,
        now: datetime,
        settings: RemediationSettings,
        moves: Moves,
    ) -> None:
        self.obj = obj
        self.observed = observed
        self.now = now
        self.settings = settings
        self.moves = moves
        metadata = _metadata(obj)
        self.name = str(metadata["name"])
        self.namespace: str | None = metadata.get("namespace")
        self.spec: RemediationRequestSpec | None = None

    # ---------------------------------------------------------------- driving

    def run(self) -> None:
        if self.moves.phase is None:
            created = _metadata(self.obj).get("creationTimestamp")
            self._move(
                "Pending",
                "Accepted",
                "remediation request accepted",
                status={"startTime": created or format_timestamp(self.now)},
            )
        try:
            self.spec = _parse_spec(self.obj)
        except ValueError as err:
            self._fail("InvalidSpec", str(err))
            return
        phase = self.moves.phase
        if phase == "Pending":
            self._pending()
            return
        self._sync_status()
        handlers = {
            "Processing": self._processing,
            "Analyzing": self._analyzing,
            "AwaitingApproval": self._awaiting_approval,
            "Executing": self._executing,
        }
        handler = handlers.get(phase or "")
        if handler is not None:
            handler()

    @property
    def _spec(self) -> RemediationRequestSpec:
        assert self.spec is not None, "spec is parsed before any phase handler runs"
        return self.spec

    def _deadlines(self) -> Deadlines:
        return deadlines(self.moves.obj, self._spec.timeouts)

    def _wait(self) -> None:
        seconds = self._deadlines().seconds_to_next(self.now)
        if seconds is not None:
            self.moves.add(RequeueAfter(seconds))

    def _passed_overall(self) -> Deadline | None:
        return self._deadlines().passed_overall(self.now)

    def _passed_phase(self) -> Deadline | None:
        return self._deadlines().passed_phase(self.now)

    def _time_out(self, deadline: Deadline) -> None:
        self._end("TimedOut", deadline.reason, deadline.message, outcome="TimedOut")

    # --------------------------------------------------------------- children

    def _found(self, role: ChildRole) -> JSON | None:
        return self.observed.children.get(role)

    def _child(self, role: ChildRole) -> JSON | None:
        """The child of ``role`` when this request controls it."""
        child = self._found(role)
        if child is None or ownership(child, self.obj) != "ours":
            return None
        return child

    def _creatable(self, role: ChildRole) -> bool:
        """Nothing occupies the child's name (a stale one is left to the garbage collector)."""
        return self._found(role) is None

    def _conflict(self, role: ChildRole) -> bool:
        """Fail the request when another object took the child's name."""
        child = self._found(role)
        if child is None or ownership(child, self.obj) != "foreign":
            return False
        kind = CHILD_RESOURCES[role].kind
        self._fail(
            "ChildConflict",
            f"{kind} {name_of(self.name, role)} exists but is not controlled by this "
            "RemediationRequest; delete it or recreate the request under another name",
        )
        return True

    def _reference(self, role: ChildRole, child: JSON | None = None) -> JSON:
        return reference(
            CHILD_RESOURCES[role],
            name_of(self.name, role),
            self.namespace,
            child if child is not None else self._child(role),
        )

    def _create(self, role: ChildRole, body: JSON) -> None:
        self.moves.add(CreateChild(CHILD_RESOURCES[role], body))

    @property
    def _classification(self) -> Classification:
        return classification_of(self._child("signal"))

    # ------------------------------------------------------------------ moves

    def _end(
        self,
        phase: str,
        reason: str,
        message: str,
        *,
        outcome: str,
        status: JSON | None = None,
        notify: bool = True,
    ) -> None:
        """Move to a terminal phase with its notification, created in the same reconcile."""
        changes: JSON = {
            **(status or {}),
            "completionTime": format_timestamp(self.now),
            "outcome": outcome,
            "message": message,
        }
        result = Outcome(phase, reason, message)
        classification, channels = self._classification, self.settings.channels
        if notify and phase == "Completed":
            body = completion_notification(
                self.moves.obj, result, classification=classification, channels=channels
            )
            changes["notificationRefs"] = self._notify("completion", body)
        elif notify and phase in ("Failed", "TimedOut"):
            body = escalation_notification(
                self.moves.obj, result, classification=classification, channels=channels
            )
            changes["notificationRefs"] = self._notify("escalation", body)
        self._move(phase, reason, message, changes)
        self.moves.add(RequeueAfter(self.settings.retention.total_seconds()))

    def _move(self, phase: str, reason: str, message: str, status: JSON | None = None) -> None:
        """A phase move that also sets ``status.message``."""
        changes = {**(status or {}), "message": message}
        self.moves.move(phase, reason=reason, now=self.now, message=message, status=changes)

    def _fail(self, reason: str, message: str, *, outcome: str = "Failed") -> None:
        self._end("Failed", reason, message, outcome=outcome)

    def fail(self, reason: str, message: str, *, notify: bool) -> None:
        """Fail the request from outside a phase handler (a refused child)."""
        self._end("Failed", reason, message, outcome="Failed", notify=notify)

    def _notify(self, role: ChildRole, body: JSON) -> list[JSON]:
        """Create a notification; the notificationRefs that include it."""
        name = str(body["metadata"]["name"])
        self._create(role, body)
        self.moves.add(
            AuditNote(
                "notification",
                name,
                "NotificationCreated",
                f"{body['spec']['type']} notification {name} created",
                {"notification": name, "type": body["spec"]["type"]},
            )
        )
        refs = [
            dict(ref)
            for ref in _status(self.moves.obj).get("notificationRefs") or []
            if isinstance(ref, dict) and ref.get("name") != name
        ]
        return [*refs, self._reference(role, self._found(role))]

    def _sync_status(self) -> None:
        """Occurrences, and the workflow's step counts while Executing."""
        status = _status(self.moves.obj)
        changes: JSON = {}
        count = occurrences(self.obj, self.observed.peers)
        if status.get("occurrences") != count:
            changes["occurrences"] = count
            if count > 1:
                self.moves.add(
                    RecordEvent(
                        "Normal",
                        "DuplicateSignal",
                        f"the signal was seen {count} times while this request is active",
                    )
                )
        workflow = self._child("workflow")
        if self.moves.phase == "Executing" and workflow is not None:
            progress = _status(workflow)
            for ours, theirs in (
                ("stepsTotal", "totalSteps"),
                ("stepsCompleted", "stepsCompleted"),
                ("stepsFailed", "stepsFailed"),
            ):
                value = progress.get(theirs)
                if isinstance(value, int) and value >= 0 and status.get(ours) != value:
                    changes[ours] = value
        if changes:
            self.moves.add(PatchStatus(changes))

    # ----------------------------------------------------------------- phases

    def _pending(self) -> None:
        original = original_of(self.obj, self.observed.peers)
        if original is not None:
            original_meta = _metadata(original)
            duplicate_of = {"name": original_meta["name"]}
            if original_meta.get("uid"):
                duplicate_of["uid"] = original_meta["uid"]
            self._end(
                "Skipped",
                "Duplicate",
                f"duplicate of the active RemediationRequest {original_meta['name']} "
                "(same signal fingerprint and target resource)",
                outcome="Skipped",
                status={"duplicateOf": duplicate_of},
            )
            return
        passed = self._passed_overall()
        if passed is not None:
            self._time_out(passed)
            return
        self._create("signal", signal_processing(self.obj, self._spec))
        self._move(
            "Processing",
            "SignalProcessingCreated",
            f"enriching and classifying the signal ({name_of(self.name, 'signal')})",
            status={
                "signalProcessingRef": self._reference("signal"),
                "occurrences": occurrences(self.obj, self.observed.peers),
            },
        )
        self._wait()

    def _processing(self) -> None:
        if self._conflict("signal"):
            return
        processing = self._child("signal")
        phase = current_phase(processing) if processing is not None else None
        if processing is not None and phase == "Failed":
            self._fail(
                "SignalProcessingFailed",
                f"SignalProcessing {name_of(self.name, 'signal')} failed: "
                f"{failure_text(processing)}",
            )
            return
        passed = self._passed_overall()
        if passed is not None:
            self._time_out(passed)
            return
        if processing is not None and phase == "Completed":
            self._start_analysis(processing)
            return
        if self._creatable("signal"):
            self._create("signal", signal_processing(self.obj, self._spec))
        passed = self._passed_phase()
        if passed is not None:
            self._time_out(passed)
            return
        self._wait()

    def _analysis_body(self, processing: JSON) -> JSON | None:
        """AIAnalysis from a completed SignalProcessing; None after failing the request."""
        try:
            enrichment = enrichment_of(processing)
        except ValueError as err:
            self._fail("SignalProcessingInvalid", f"SignalProcessing reported an {err}")
            return None
        environment = classification_of(processing).environment
        return ai_analysis(self.obj, self._spec, enrichment, environment)

    def _start_analysis(self, processing: JSON) -> None:
        body = self._analysis_body(processing)
        if body is None:
            return
        self._create("analysis", body)
        classification = classification_of(processing)
        labels = _metadata(self.obj).get("labels") or {}
        environment_label = child_labels(self.obj, classification.environment).get(
            LABEL_ENVIRONMENT
        )
        if environment_label and LABEL_ENVIRONMENT not in labels:
            # Approval policies read the request's environment from this label.
            self.moves.add(PatchMetadata(labels={LABEL_ENVIRONMENT: environment_label}))
        facts = ", ".join(
            f"{key} {value}"
            for key, value in (
                ("environment", classification.environment),
                ("severity", classification.severity),
                ("priority", classification.priority),
            )
            if value
        )
        self._move(
            "Analyzing",
            "SignalProcessed",
            f"signal classified ({facts or 'no classification'}); analysing",
            status={
                "signalProcessingRef": self._reference("signal", processing),
                "aiAnalysisRef": self._reference("analysis"),
            },
        )
        self._wait()

    def _analyzing(self) -> None:
        if self._conflict("analysis"):
            return
        analysis = self._child("analysis")
        phase = current_phase(analysis) if analysis is not None else None
        if analysis is not None and phase == "Failed":
            self._fail(
                "AIAnalysisFailed",
                f"AIAnalysis {name_of(self.name, 'analysis')} failed: {failure_text(analysis)}",
            )
            return
        passed = self._passed_overall()
        if passed is not None:
            self._time_out(passed)
            return
        if analysis is not None and phase == "Completed":
            self._conclude_analysis(analysis)
            return
        if self._creatable("analysis"):
            processing = self._child("signal")
            if processing is None or current_phase(processing) != "Completed":
                self._fail(
                    "ChildLost",
                    f"SignalProcessing {name_of(self.name, 'signal')} is gone; "
                    "the analysis cannot be created again",
                )
                return
            body = self._analysis_body(processing)
            if body is None:
                return
            self._create("analysis", body)
        passed = self._passed_phase()
        if passed is not None:
            self._time_out(passed)
            return
        self._wait()

    def _workflow_of(self, analysis: JSON | None) -> JSON | None:
        """The workflow a completed analysis selected; None after failing the request."""
        if analysis is None or current_phase(analysis) != "Completed":
            self._fail(
                "ChildLost",
                f"AIAnalysis {name_of(self.name, 'analysis')} is gone; its workflow cannot be read",
            )
            return None
        try:
            workflow = selected_workflow(analysis)
        except ValueError as err:
            self._fail("InvalidWorkflow", f"AIAnalysis {name_of(self.name, 'analysis')}: {err}")
            return None
        if workflow is None:
            detail = _status(analysis).get("message") or _status(analysis).get("rationale")
            self._fail(
                "NoWorkflowSelected",
                f"AIAnalysis {name_of(self.name, 'analysis')} selected no workflow"
                + (f": {detail}" if detail else ""),
            )
            return None
        return workflow

    def _conclude_analysis(self, analysis: JSON) -> None:
        workflow = self._workflow_of(analysis)
        if workflow is None:
            return
        if _status(analysis).get("approvalRequired") is not True:
            self._start_execution(
                workflow,
                approval_required=False,
                reason="WorkflowSelected",
                message=f"running workflow {workflow['name']} {workflow['version']}",
                status={"aiAnalysisRef": self._reference("analysis", analysis)},
            )
            return
        body = approval_notification(
            self.moves.obj,
            analysis,
            workflow,
            classification=self._classification,
            channels=self.settings.channels,
        )
        refs = self._notify("approval", body)
        why = _status(analysis).get("approvalReason") or "the analysis requires approval"
        self._move(
            "AwaitingApproval",
            "ApprovalRequired",
            f"workflow {workflow['name']} waits for approval: {why}",
            status={
                "aiAnalysisRef": self._reference("analysis", analysis),
                "notificationRefs": refs,
            },
        )
        self._wait()

    def _approval(self) -> tuple[str | None, str, str]:
        annotations = _metadata(self.obj).get("annotations") or {}
        return (
            annotations.get(ANNOTATION_APPROVAL),
            str(annotations.get(ANNOTATION_APPROVED_BY) or "unknown"),
            str(annotations.get(ANNOTATION_APPROVED_AT) or "an unknown time"),
        )

    def _approval_note(self, decision: str, reason: str, by: str, at: str) -> None:
        self.moves.add(
            AuditNote(
                "approval",
                decision,
                reason,
                f"{decision} by {by} at {at}",
                {"decision": decision, "approvedBy": by, "approvedAt": at},
            )
        )

    def _awaiting_approval(self) -> None:
        decision, by, at = self._approval()
        if decision == APPROVAL_REJECTED:
            self._approval_note(decision, "ApprovalRejected", by, at)
            self._fail("ApprovalRejected", f"rejected by {by} at {at}", outcome="Rejected")
            return
        passed = self._passed_overall()
        if passed is not None:
            self._time_out(passed)
            return
        analysis = self._child("analysis")
        if decision == APPROVAL_APPROVED:
            workflow = self._workflow_of(analysis)
            if workflow is None:
                return
            self._approval_note(decision, "Approved", by, at)
            self._start_execution(
                workflow,
                approval_required=True,
                reason="Approved",
                message=f"approved by {by} at {at}; running workflow {workflow['name']}",
            )
            return
        if self._creatable("approval"):
            workflow = self._workflow_of(analysis)
            if workflow is None or analysis is None:
                return
            self._create(
                "approval",
                approval_notification(
                    self.moves.obj,
                    analysis,
                    workflow,
                    classification=self._classification,
                    channels=self.settings.channels,
                ),
            )
        passed = self._passed_phase()
        if passed is not None:
            self._time_out(passed)
            return
        self._wait()

    def _workflow_body(self, workflow: JSON, *, approval_required: bool) -> JSON:
        return workflow_execution(
            self.obj,
            self._spec,
            workflow,
            approval_required=approval_required,
            environment=self._classification.environment,
        )

    def _start_execution(
        self,
        workflow: JSON,
        *,
        approval_required: bool,
        reason: str,
        message: str,
        status: JSON | None = None,
    ) -> None:
        self._create("workflow", self._workflow_body(workflow, approval_required=approval_required))
        self._move(
            "Executing",
            reason,
            message,
            status={**(status or {}), "workflowExecutionRef": self._reference("workflow")},
        )
        self._wait()

    def _executing(self) -> None:
        if self._conflict("workflow"):
            return
        execution = self._child("workflow")
        phase = current_phase(execution) if execution is not None else None
        name = name_of(self.name, "workflow")
        if execution is not None and phase == "Completed":
            result = (_status(execution).get("workflowResult") or {}).get("outcome")
            self._end(
                "Completed",
                "WorkflowCompleted",
                f"WorkflowExecution {name} completed" + (f" (outcome {result})" if result else ""),
                outcome="Succeeded",
                status={"workflowExecutionRef": self._reference("workflow", execution)},
            )
            return
        if execution is not None and phase in ("Failed", "RolledBack"):
            verb = "failed" if phase == "Failed" else "was rolled back"
            self._fail(
                "WorkflowFailed" if phase == "Failed" else "WorkflowRolledBack",
                f"WorkflowExecution {name} {verb}: {failure_text(execution)}",
            )
            return
        passed = self._passed_overall()
        if passed is not None:
            self._time_out(passed)
            return
        if self._creatable("workflow"):
            workflow = self._workflow_of(self._child("analysis"))
            if workflow is None:
                return
            required = _status(self._child("analysis")).get("approvalRequired") is True
            self._create("workflow", self._workflow_body(workflow, approval_required=required))
        passed = self._passed_phase()
        if passed is not None:
            self._time_out(passed)
            return
        self._wait()
