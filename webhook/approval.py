"""Who created and who approved an object: the webhook's stamps and the forgery checks.

On RemediationRequests and WorkflowExecutions (the kinds a person approves):

* CREATE stamps ``kubernaut.ai/created-by`` with the requesting user.
* A request that sets or changes ``kubernaut.ai/approval`` gets
  ``kubernaut.ai/approved-by`` (the requesting user) and
  ``kubernaut.ai/approved-at`` (now) stamped, replacing whatever the request
  carried; removing the approval removes both stamps.
* The validating side checks the result: the stamps must be exactly what the
  webhook would have written. Any other request that sets or changes a stamp
  (``approved-by``, ``approved-at`` or ``created-by``) is a forgery and denied.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from api.constants import (
    ANNOTATION_APPROVAL,
    ANNOTATION_APPROVED_AT,
    ANNOTATION_APPROVED_BY,
    ANNOTATION_CREATED_BY,
)
from api.errors import FieldError
from api.timestamps import format_timestamp, parse_timestamp
from webhook.patch import PatchBuilder
from webhook.review import AdmissionRequest

APPROVABLE_KINDS: Final = frozenset({"RemediationRequest", "WorkflowExecution"})


def annotations_of(document: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``metadata.annotations`` of a document, empty when absent or malformed."""
    if not isinstance(document, Mapping):
        return {}
    metadata = document.get("metadata")
    if not isinstance(metadata, Mapping):
        return {}
    annotations = metadata.get("annotations")
    return annotations if isinstance(annotations, Mapping) else {}


def _stamped(request: AdmissionRequest) -> bool:
    return (
        request.kind.kind in APPROVABLE_KINDS
        and request.operation in ("CREATE", "UPDATE")
        and not request.sub_resource
    )


def approval_changed(request: AdmissionRequest, obj: Mapping[str, Any] | None) -> bool:
    """Whether this request sets, changes or removes the approval decision of ``obj``."""
    if not _stamped(request):
        return False
    new = annotations_of(obj).get(ANNOTATION_APPROVAL)
    old = annotations_of(request.old_object).get(ANNOTATION_APPROVAL)
    return bool(new != old)


def stamp(builder: PatchBuilder, request: AdmissionRequest, now: datetime) -> None:
    """Write the creator and approver stamps this request calls for into ``builder``."""
    if not _stamped(request):
        return
    user = request.user_info.username
    if request.operation == "CREATE":
        builder.set_annotation(ANNOTATION_CREATED_BY, user)
    if not approval_changed(request, builder.document):
        return
    if annotations_of(builder.document).get(ANNOTATION_APPROVAL) is None:
        builder.remove_annotation(ANNOTATION_APPROVED_BY)
        builder.remove_annotation(ANNOTATION_APPROVED_AT)
    else:
        builder.set_annotation(ANNOTATION_APPROVED_BY, user)
        builder.set_annotation(ANNOTATION_APPROVED_AT, format_timestamp(now))


def _where(key: str) -> str:
    return f"metadata.annotations[{key}]"


def stamp_errors(request: AdmissionRequest) -> list[FieldError]:
    """Forged or missing stamps in the object of a CREATE or UPDATE (after mutation)."""
    if not _stamped(request):
        return []
    user = request.user_info.username
    new = annotations_of(request.object)
    old = annotations_of(request.old_object)
    errors: list[FieldError] = []

    creator = new.get(ANNOTATION_CREATED_BY)
    if request.operation == "CREATE" and creator != user:
        found = "it is missing" if creator is None else f"got {creator!r}"
        errors.append(
            FieldError(
                _where(ANNOTATION_CREATED_BY),
                f"must name the creating user {user!r}, {found}: it is stamped by the "
                "mutating webhook and cannot be set by hand",
            )
        )
    elif request.operation == "UPDATE" and creator != old.get(ANNOTATION_CREATED_BY):
        errors.append(
            FieldError(
                _where(ANNOTATION_CREATED_BY), "cannot be changed after the object was created"
            )
        )

    if not approval_changed(request, request.object):
        for key in (ANNOTATION_APPROVED_BY, ANNOTATION_APPROVED_AT):
            if new.get(key) != old.get(key):
                errors.append(
                    FieldError(
                        _where(key),
                        "is stamped by the webhook when the approval annotation changes "
                        "and cannot be set by hand (forgery)",
                    )
                )
        return errors

    if new.get(ANNOTATION_APPROVAL) is None:
        for key in (ANNOTATION_APPROVED_BY, ANNOTATION_APPROVED_AT):
            if key in new:
                errors.append(FieldError(_where(key), "must be removed together with the approval"))
        return errors

    approver = new.get(ANNOTATION_APPROVED_BY)
    if approver != user:
        found = "it is missing" if approver is None else f"got {approver!r} (forgery)"
        errors.append(
            FieldError(
                _where(ANNOTATION_APPROVED_BY), f"must name the approving user {user!r}, {found}"
            )
        )
    approved_at = new.get(ANNOTATION_APPROVED_AT)
    if not isinstance(approved_at, str):
        errors.append(FieldError(_where(ANNOTATION_APPROVED_AT), "is missing"))
    else:
        try:
            parse_timestamp(approved_at)
        except ValueError as err:
            errors.append(FieldError(_where(ANNOTATION_APPROVED_AT), str(err)))
    return errors
