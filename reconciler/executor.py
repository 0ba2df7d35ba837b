"""Carries out the effects a controller's ``decide`` returned, through the API.

Writes to the reconciled object are guarded by its resourceVersion: a
concurrent change answers 409 and :class:`ConflictError` tells the caller to
re-read the object and decide again. Creating a child that already exists is
success (names are deterministic, so a repeated reconcile never duplicates a
child or a Job); deleting one that is gone is success too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from reconciler.effects import (
    AddFinalizer,
    AuditNote,
    CreateChild,
    DeleteObject,
    Effect,
    PatchMetadata,
    PatchStatus,
    RecordEvent,
    RemoveFinalizer,
    RequeueAfter,
)
from reconciler.kube import ApiError, KubeClient, Resource
from reconciler.metrics import ReconcilerMetrics

JSON = dict[str, Any]

_log = logging.getLogger(__name__)


class ConflictError(Exception):
    """The object changed since it was read; re-read and decide again."""


class ChildRejectedError(Exception):
    """The API server refused to create a child for good (admission denial, invalid object).

    Retrying the same create cannot succeed; the manager offers it to the
    controller (``child_rejected``) so the parent can fail with the message.
    """

    def __init__(self, body: JSON, error: ApiError) -> None:
        name = (body.get("metadata") or {}).get("name", "?")
        super().__init__(f"{body.get('kind', 'object')} {name} rejected: {error.message}")
        self.body = body
        self.status = error.status
        self.message = error.message or str(error)


# Answers that mean the object itself is refused; anything else may pass on a retry.
_PERMANENT_REJECTIONS = frozenset({400, 403, 422})


class AuditRecorder(Protocol):
    def transition(self, obj: JSON, index: int) -> None: ...

    def note(self, obj: JSON, note: AuditNote, at: datetime) -> None: ...


class EventSink(Protocol):
    def record(self, obj: JSON, event_type: Any, reason: str, message: str) -> None: ...


@dataclass
class Outcome:
    obj: JSON
    requeue_after: float | None = None
    deleted: bool = False


class Executor:
    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        *,
        events: EventSink,
        audit: AuditRecorder | None,
        metrics: ReconcilerMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._resource = resource
        self._events = events
        self._audit = audit
        self._metrics = metrics
        self._clock = clock

    def _write(self, verb: str, resource: Resource) -> None:
        self._metrics.api_writes.labels(verb, resource.plural).inc()

    def _guarded_patch(self, obj: JSON, patch: JSON, subresource: str = "") -> JSON:
        metadata = obj["metadata"]
        body = {
            **patch,
            "metadata": {
                **patch.get("metadata", {}),
                "resourceVersion": metadata["resourceVersion"],
            },
        }
        self._write("patch", self._resource)
        try:
            return self._client.patch(
                self._resource,
                metadata.get("namespace"),
                metadata["name"],
                body,
                subresource=subresource,
            )
        except ApiError as err:
            if err.conflict:
                raise ConflictError(str(err)) from err
            raise

    def apply(self, obj: JSON, effects: Sequence[Effect]) -> Outcome:
        outcome = Outcome(obj)
        for effect in effects:
            current = outcome.obj
            match effect:
                case PatchStatus(changes=changes, phase_change=change):
                    outcome.obj = self._guarded_patch(current, {"status": changes}, "status")
                    if change is not None:
                        self._metrics.phase_transitions.labels(
                            change.kind, change.from_phase or "", change.to_phase
                        ).inc()
                        if change.from_phase and change.seconds_in_previous_phase is not None:
                            self._metrics.phase_seconds.labels(
                                change.kind, change.from_phase
                            ).observe(change.seconds_in_previous_phase)
                        if self._audit is not None:
                            self._audit.transition(outcome.obj, change.index)
                case PatchMetadata(labels=labels, annotations=annotations):
                    metadata: JSON = {}
                    if labels:
                        metadata["labels"] = labels
                    if annotations:
                        metadata["annotations"] = annotations
                    outcome.obj = self._guarded_patch(current, {"metadata": metadata})
                case AddFinalizer(name=name):
                    finalizers = list(current["metadata"].get("finalizers") or [])
                    if name not in finalizers:
                        outcome.obj = self._guarded_patch(
                            current, {"metadata": {"finalizers": [*finalizers, name]}}
                        )
                case RemoveFinalizer(name=name):
                    finalizers = list(current["metadata"].get("finalizers") or [])
                    if name in finalizers:
                        remaining = [item for item in finalizers if item != name]
                        try:
                            outcome.obj = self._guarded_patch(
                                current, {"metadata": {"finalizers": remaining}}
                            )
                        except ApiError as err:
                            if not err.not_found:
                                raise
                            outcome.deleted = True
                        if not remaining and current["metadata"].get("deletionTimestamp"):
                            outcome.deleted = True
                case CreateChild(resource=resource, body=body):
                    self._create(resource, body)
                case DeleteObject(resource=resource, namespace=namespace, name=name):
                    self._write("delete", resource)
                    try:
                        self._client.delete(
                            resource, namespace, name, propagation=effect.propagation
                        )
                    except ApiError as err:
                        if not err.not_found:
                            raise
                case RecordEvent(type=event_type, reason=reason, message=message):
                    self._events.record(current, event_type, reason, message)
                case AuditNote():
                    if self._audit is not None:
                        self._audit.note(current, effect, self._clock())
                case RequeueAfter(seconds=seconds):
                    previous = outcome.requeue_after
                    outcome.requeue_after = seconds if previous is None else min(previous, seconds)
        return outcome

    def _create(self, resource: Resource, body: JSON) -> None:
        namespace = (body.get("metadata") or {}).get("namespace")
        self._write("create", resource)
        try:
            self._client.create(resource, namespace, body)
        except ApiError as err:
            if err.status in _PERMANENT_REJECTIONS:
                raise ChildRejectedError(body, err) from err
            if not err.already_exists:
                raise
            _log.debug(
                "child already exists",
                extra={"object": f"{namespace}/{body['metadata'].get('name')}"},
            )
