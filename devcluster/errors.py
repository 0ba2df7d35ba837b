"""Kubernetes ``Status`` failures, raised anywhere and rendered by the HTTP layer.

Messages, reasons and ``details`` follow what the real API server sends
(``k8s.io/apimachinery/pkg/api/errors``), because clients parse them:
``kubectl`` prints ``message``, client-go branches on ``reason`` and ``code``,
and the Python client surfaces the body in ``ApiException``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Cause:
    """One field-level problem of an Invalid object (``details.causes[]``)."""

    reason: str
    field: str
    message: str

    def summary(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ApiError(Exception):
    """A failed request: HTTP ``code`` plus the ``Status`` fields clients read."""

    code: int
    reason: str
    message: str
    details: JsonObject = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def status(self) -> JsonObject:
        body: JsonObject = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(name: str, group: str, kind: str) -> JsonObject:
    details: JsonObject = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def _qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(group, resource)} "{name}" not found',
        _details(name, group, resource),
    )


def already_exists(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(group, resource)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(group: str, resource: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group, resource)} "{name}": {why}',
        _details(name, group, resource),
    )


def stale_resource_version(group: str, resource: str, name: str) -> ApiError:
    return conflict(
        group,
        resource,
        name,
        "the object has been modified; please apply your changes to the latest version "
        "and try again",
    )


def invalid(group: str, kind: str, name: str, causes: list[Cause]) -> ApiError:
    """422 Invalid, worded like ``errors.NewInvalid``: one cause inline, several bracketed."""
    summaries = [cause.summary() for cause in causes]
    joined = summaries[0] if len(summaries) == 1 else "[" + ", ".join(summaries) + "]"
    details = _details(name, group, kind)
    details["causes"] = [
        {"reason": cause.reason, "message": cause.message, "field": cause.field} for cause in causes
    ]
    return ApiError(
        422, "Invalid", f'{_qualified(group, kind)} "{name}" is invalid: {joined}', details
    )


def forbidden(group: str, resource: str, name: str, why: str, user: str = "") -> ApiError:
    who = f'User "{user}" cannot' if user else "cannot"
    target = _qualified(group, resource)
    subject = f'{target} "{name}"' if name else target
    return ApiError(
        403,
        "Forbidden",
        f"{subject} is forbidden: {why}" if not user else f"{subject} is forbidden: {who} {why}",
        _details(name, group, resource),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed(method: str) -> ApiError:
    return ApiError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({method})",
    )


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        f"application/json-patch+json, application/merge-patch+json (got {content_type})",
    )


def not_acceptable(accept: str) -> ApiError:
    return ApiError(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml (got "
        f"{accept})",
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def expired(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def too_many_requests(message: str, retry_after: int = 10) -> ApiError:
    return ApiError(
        429,
        "TooManyRequests",
        message,
        {
            "causes": [{"reason": "DisruptionBudget", "message": message}],
            "retryAfterSeconds": retry_after,
        },
    )
