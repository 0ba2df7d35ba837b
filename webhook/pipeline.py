"""The admission pipeline: one review in, one verdict out.

The same code serves the HTTPS webhook (``/mutate``, ``/validate``) and the
offline ``kubernaut admit``. It is pure apart from logging and the policy
engine it is given: no I/O, no side effects, so dry-run requests need no
special treatment.

Mutation (``/mutate``, on CREATE and on UPDATE of the main resource):
static schema defaults, the creator and approver stamps, then the policies'
``kubernaut.mutation.defaults``; all of them only fill absent fields and
come back as one RFC 6902 JSON Patch (none when nothing changed).

Validation (``/validate``): schema and invariants, spec immutability on UPDATE,
the phase-transition table on ``/status`` UPDATE (all ``422 Invalid``), then
the stamp forgery checks and the policies ``kubernaut.admission`` (and
``kubernaut.approval`` when the approval annotation changes), all ``403
Forbidden``. DELETE is judged by the admission policies alone, with
``object`` null. Reviews of resources outside ``kubernaut.ai`` are allowed
untouched so that a misconfigured webhook never blocks the rest of a cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from api.constants import GROUP, KINDS
from api.errors import FieldError
from api.validation import validate_resource
from webhook import approval, verdict
from webhook.defaults import apply_policy_defaults, apply_static_defaults
from webhook.immutability import immutability_errors
from webhook.patch import PatchBuilder
from webhook.policy import PolicyEngine, PolicyError
from webhook.policy_input import policy_input
from webhook.review import AdmissionRequest, MalformedReviewError
from webhook.transitions import transition_errors
from webhook.verdict import Reason, Verdict

__all__ = ["AdmissionPipeline", "Endpoint", "check_request", "subject_of"]

_log = logging.getLogger("kubernaut.webhook")

Clock = Callable[[], datetime]

_STATUS = "status"


class Endpoint(StrEnum):
    MUTATE = "mutate"
    VALIDATE = "validate"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def check_request(request: AdmissionRequest) -> None:
    """Raise MalformedReviewError when the request lacks what its operation needs."""
    if request.operation in ("CREATE", "UPDATE") and request.object is None:
        raise MalformedReviewError(f"request.object is required for {request.operation}")
    if request.operation == "UPDATE" and request.old_object is None:
        raise MalformedReviewError("request.oldObject is required for UPDATE")


def subject_of(request: AdmissionRequest, obj: Mapping[str, Any] | None = None) -> str:
    """``Kind namespace/name`` of the reviewed object, for messages and logs."""
    name = request.name
    if not name and obj is not None:
        metadata = obj.get("metadata")
        if isinstance(metadata, Mapping):
            found = metadata.get("name") or metadata.get("generateName")
            name = found if isinstance(found, str) else ""
    name = name or "(unnamed)"
    key = f"{request.namespace}/{name}" if request.namespace else name
    return f"{request.kind.kind} {key}"


class AdmissionPipeline:
    """Mutates and validates admission requests with ``engine``'s policies."""

    def __init__(self, engine: PolicyEngine, *, clock: Clock = _utc_now) -> None:
        self._engine = engine
        self._clock = clock
        self._foreign_seen: set[tuple[str, str]] = set()

    @property
    def engine(self) -> PolicyEngine:
        return self._engine

    def review(self, endpoint: Endpoint, request: AdmissionRequest) -> Verdict:
        """The verdict of ``endpoint`` for ``request``; never raises.

        A malformed request raises MalformedReviewError (answered with HTTP
        400); a policy evaluation error or a bug is a denial with code 500.
        """
        check_request(request)
        try:
            if endpoint is Endpoint.MUTATE:
                return self.mutate(request)
            return self.validate(request)
        except PolicyError as err:
            _log.error(
                "policy evaluation failed: %s",
                err,
                extra={"object": subject_of(request, request.object), "uid": request.uid},
            )
            return verdict.failed(request.uid, f"policy evaluation failed: {err}")
        except Exception as err:
            _log.exception(
                "admission pipeline failed",
                extra={"object": subject_of(request, request.object), "uid": request.uid},
            )
            return verdict.failed(
                request.uid, f"internal error ({type(err).__name__}: {err}); see the webhook log"
            )

    # -- scope -----------------------------------------------------------------

    def _foreign(self, request: AdmissionRequest) -> bool:
        if request.kind.group == GROUP:
            return False
        key = (request.kind.group, request.resource.resource)
        if key not in self._foreign_seen:
            self._foreign_seen.add(key)
            _log.warning(
                "review of a resource outside %s allowed untouched; "
                "check the webhook configuration's rules",
                GROUP,
                extra={"group": request.kind.group, "resource": request.resource.resource},
            )
        return True

    # -- mutation ----------------------------------------------------------------

    def mutate(self, request: AdmissionRequest) -> Verdict:
        """Defaults and stamps as a JSON Patch (CREATE and main-resource UPDATE)."""
        check_request(request)
        if (
            self._foreign(request)
            or request.operation not in ("CREATE", "UPDATE")
            or request.sub_resource
        ):
            return verdict.ignored(request.uid, request.object)
        assert request.object is not None
        builder = PatchBuilder(request.object)
        apply_static_defaults(builder)
        approval.stamp(builder, request, self._clock())
        defaults = self._engine.mutation_defaults(policy_input(request, builder.document))
        apply_policy_defaults(builder, defaults)
        return verdict.allowed(request.uid, patch=tuple(builder.operations), obj=builder.document)

    # -- validation --------------------------------------------------------------

    def validate(self, request: AdmissionRequest) -> Verdict:
        """Schema, invariants, update rules, forgery checks and policies."""
        check_request(request)
        if self._foreign(request) or request.operation == "CONNECT":
            return verdict.ignored(request.uid, request.object)
        if request.operation == "DELETE":
            return self._validate_delete(request)
        if request.sub_resource not in ("", _STATUS):
            return verdict.ignored(request.uid, request.object)
        assert request.object is not None
        obj = request.object
        subject = subject_of(request, obj)

        invalid = self._invalid(request, obj)
        if invalid:
            _log.info(
                "admission denied: invalid object",
                extra={"object": subject, "violations": [str(error) for error in invalid]},
            )
            return verdict.denied(request.uid, Reason.INVALID, subject, invalid, obj=obj)

        forbidden = approval.stamp_errors(request)
        document = policy_input(request, obj)
        if approval.approval_changed(request, obj):
            decision = self._engine.validation_decision(document)
        else:
            decision = self._engine.admission_decision(document)
        forbidden.extend(FieldError("", message) for message in decision.deny)
        if forbidden:
            _log.info(
                "admission denied by policy",
                extra={"object": subject, "violations": [str(error) for error in forbidden]},
            )
            return verdict.denied(
                request.uid, Reason.FORBIDDEN, subject, forbidden, warnings=decision.warn, obj=obj
            )
        return verdict.allowed(request.uid, warnings=decision.warn, obj=obj)

    def _invalid(self, request: AdmissionRequest, obj: Mapping[str, Any]) -> list[FieldError]:
        errors = list(validate_resource(obj).errors)
        object_kind = obj.get("kind")
        if isinstance(object_kind, str) and object_kind != request.kind.kind:
            errors.append(
                FieldError(
                    "kind",
                    f"the object is a {object_kind} but the review is for a {request.kind.kind}",
                )
            )
        if request.operation != "UPDATE":
            return errors
        old = request.old_object
        assert old is not None
        if old.get("spec") == obj.get("spec"):
            # Ratcheting: an unchanged spec stored under an older schema does
            # not block metadata and status updates of its object.
            errors = [error for error in errors if not _under(error.path, "spec")]
        if request.sub_resource == _STATUS:
            if request.kind.kind in KINDS:
                errors.extend(transition_errors(request.kind.kind, obj, old))
        else:
            errors.extend(immutability_errors(obj, old))
        return errors

    def _validate_delete(self, request: AdmissionRequest) -> Verdict:
        subject = subject_of(request, request.old_object)
        decision = self._engine.admission_decision(policy_input(request, None))
        if decision.deny:
            violations = [FieldError("", message) for message in decision.deny]
            return verdict.denied(
                request.uid, Reason.FORBIDDEN, subject, violations, warnings=decision.warn
            )
        return verdict.allowed(request.uid, warnings=decision.warn)


def _under(path: str, section: str) -> bool:
    return path == section or path.startswith((f"{section}.", f"{section}["))
