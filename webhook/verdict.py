"""The outcome of one admission review and its AdmissionReview response document.

Two kinds of denial, as the API server itself answers:

* ``422 Invalid``: the object is not a valid kubernaut object (schema,
  invariants such as the step DAG, spec immutability, phase transitions).
  Policies are not evaluated on an invalid object, like the API server, which
  never calls validating webhooks for an object that fails its schema.
* ``403 Forbidden``: a valid object that policy forbids (Rego
  ``kubernaut.admission.deny`` and ``kubernaut.approval.deny``) or whose
  creator/approver stamps were forged.

Every violation is listed in the message (one ``path: message`` each, ``;``
separated) and in ``status.details.causes`` with its field path. An unexpected
failure inside the pipeline is a denial with code 500 naming the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from api.errors import FieldError
from webhook.review import review_response


class Decision(StrEnum):
    """The ``decision`` label of the admission metrics."""

    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"
    IGNORED = "ignored"
    """Not a kubernaut resource (or an operation the webhook does not judge): allowed untouched."""


class Reason(StrEnum):
    INVALID = "Invalid"
    FORBIDDEN = "Forbidden"
    INTERNAL_ERROR = "InternalError"


_CODES = {Reason.INVALID: 422, Reason.FORBIDDEN: 403, Reason.INTERNAL_ERROR: 500}
_CAUSE_REASONS = {
    Reason.INVALID: "FieldValueInvalid",
    Reason.FORBIDDEN: "FieldValueForbidden",
    Reason.INTERNAL_ERROR: "InternalError",
}


@dataclass(frozen=True)
class Verdict:
    """What the webhook answers for one request."""

    uid: str
    decision: Decision
    reason: Reason | None = None
    message: str = ""
    violations: tuple[FieldError, ...] = ()
    warnings: tuple[str, ...] = ()
    patch: tuple[dict[str, Any], ...] = ()
    object: Mapping[str, Any] | None = field(default=None, compare=False)
    """The object as the API server will store it (after ``patch``), when there is one."""

    @property
    def allowed(self) -> bool:
        return self.decision in (Decision.ALLOWED, Decision.IGNORED)

    @property
    def code(self) -> int:
        return _CODES[self.reason] if self.reason else 200

    def response(self) -> dict[str, Any]:
        """The ``admission.k8s.io/v1`` AdmissionReview answering the request."""
        document = review_response(
            self.uid,
            allowed=self.allowed,
            message=self.message,
            code=self.code if not self.allowed else None,
            reason=self.reason.value if self.reason else "",
            patch=list(self.patch) or None,
            warnings=list(self.warnings) or None,
        )
        if self.violations and self.reason:
            cause_reason = _CAUSE_REASONS[self.reason]
            document["response"]["status"]["details"] = {
                "causes": [
                    {"reason": cause_reason, "message": error.message, "field": error.path}
                    if error.path
                    else {"reason": cause_reason, "message": error.message}
                    for error in self.violations
                ]
            }
        return document


def allowed(
    uid: str,
    *,
    warnings: tuple[str, ...] = (),
    patch: tuple[dict[str, Any], ...] = (),
    obj: Mapping[str, Any] | None = None,
) -> Verdict:
    return Verdict(uid, Decision.ALLOWED, warnings=warnings, patch=patch, object=obj)


def ignored(uid: str, obj: Mapping[str, Any] | None = None) -> Verdict:
    return Verdict(uid, Decision.IGNORED, object=obj)


def denied(
    uid: str,
    reason: Reason,
    subject: str,
    violations: list[FieldError],
    *,
    warnings: tuple[str, ...] = (),
    obj: Mapping[str, Any] | None = None,
) -> Verdict:
    """A denial listing every violation; ``subject`` names the object (``Kind ns/name``)."""
    verb = "is invalid" if reason is Reason.INVALID else "is forbidden"
    count = len(violations)
    noun = "violation" if count == 1 else "violations"
    listed = "; ".join(str(error) for error in violations)
    return Verdict(
        uid,
        Decision.DENIED,
        reason=reason,
        message=f"{subject} {verb} ({count} {noun}): {listed}",
        violations=tuple(violations),
        warnings=warnings,
        object=obj,
    )


def failed(uid: str, problem: str) -> Verdict:
    """A denial for an unexpected failure inside the pipeline (code 500)."""
    return Verdict(
        uid,
        Decision.ERROR,
        reason=Reason.INTERNAL_ERROR,
        message=f"the kubernaut admission webhook could not decide: {problem}",
    )
