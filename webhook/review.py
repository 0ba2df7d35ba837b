"""AdmissionReview (admission.k8s.io/v1) decoding and response building.

Only the envelope is typed here; ``object`` and ``oldObject`` stay JSON
documents because the pipeline validates them with the kind's own model.
Decoding never raises anything but :class:`MalformedReviewError`, whose message
says what is wrong in terms a webhook operator can act on.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ADMISSION_API_VERSION = "admission.k8s.io/v1"
MAX_REVIEW_BYTES = 3 * 1024 * 1024

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


class MalformedReviewError(ValueError):
    """The request body is not a usable AdmissionReview; answered with HTTP 400."""


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class GroupVersionKind(_Envelope):
    group: str = ""
    version: str
    kind: str


class GroupVersionResource(_Envelope):
    group: str = ""
    version: str
    resource: str


class UserInfo(_Envelope):
    username: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] | None = None


class AdmissionRequest(_Envelope):
    uid: str = Field(min_length=1)
    kind: GroupVersionKind
    resource: GroupVersionResource
    sub_resource: str = Field("", alias="subResource")
    name: str = ""
    namespace: str = ""
    operation: Operation
    user_info: UserInfo = Field(default_factory=UserInfo, alias="userInfo")
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = Field(None, alias="oldObject")
    dry_run: bool = Field(False, alias="dryRun")


class AdmissionReview(_Envelope):
    api_version: Literal["admission.k8s.io/v1"] = Field(alias="apiVersion")
    kind: Literal["AdmissionReview"]
    request: AdmissionRequest


def _describe(err: ValidationError) -> str:
    problems = []
    for error in err.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{path}: {error['msg']}")
    return "; ".join(problems)


def decode_review(body: bytes) -> AdmissionReview:
    """Parse and check an AdmissionReview request body."""
    if len(body) > MAX_REVIEW_BYTES:
        raise MalformedReviewError(
            f"request body of {len(body)} bytes exceeds the limit of {MAX_REVIEW_BYTES} bytes"
        )
    if not body.strip():
        raise MalformedReviewError(
            "empty request body: expected an admission.k8s.io/v1 AdmissionReview"
        )
    try:
        # The parser of model_validate_json, hence the wording of its json_invalid error.
        document = pydantic_core.from_json(body)
    except ValueError as err:
        raise MalformedReviewError(
            f"request body is not valid JSON: body: Invalid JSON: {err}"
        ) from err
    try:
        # Parsing then validating the document is faster than validating the text
        # and accepts the same reviews ...
        return AdmissionReview.model_validate(document)
    except ValidationError:
        pass
    try:
        # ... but only validating the text words type errors in JSON terms
        # ("Input should be an object"), so a rejected review is validated again.
        return AdmissionReview.model_validate_json(body)
    except ValidationError as err:
        raise MalformedReviewError(
            f"not an admission.k8s.io/v1 AdmissionReview: {_describe(err)}"
        ) from err


def review_response(
    uid: str,
    *,
    allowed: bool,
    message: str = "",
    code: int | None = None,
    reason: str = "",
    patch: list[dict[str, Any]] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """An AdmissionReview response document (``uid`` always echoes the request's)."""
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed or message:
        status: dict[str, Any] = {"code": code or (200 if allowed else 403)}
        if message:
            status["message"] = message
        if reason:
            status["reason"] = reason
        response["status"] = status
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(pydantic_core.to_json(patch)).decode("ascii")
    if warnings:
        response["warnings"] = warnings
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": response}
