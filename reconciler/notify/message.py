"""The message a NotificationRequest carries, as the channels render it (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.notificationrequest import NotificationRequestSpec

__all__ = ["Notification", "delivery_id"]

JSON = dict[str, Any]


@dataclass(frozen=True)
class Notification:
    name: str
    namespace: str
    uid: str
    type: str
    priority: str
    subject: str
    body: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    remediation: str = ""
    """The RemediationRequest's name, when the notification is about one."""

    @classmethod
    def of(cls, obj: JSON, spec: NotificationRequestSpec) -> Notification:
        metadata = obj.get("metadata") or {}
        return cls(
            name=str(metadata.get("name") or ""),
            namespace=str(metadata.get("namespace") or ""),
            uid=str(metadata.get("uid") or ""),
            type=spec.type,
            priority=spec.priority,
            subject=spec.subject,
            body=spec.body or "",
            metadata=dict(spec.metadata or {}),
            remediation=spec.remediation_request_ref.name if spec.remediation_request_ref else "",
        )


def delivery_id(notification: Notification, channel: str, attempt: int) -> str:
    """Identifies one attempt on one channel: receivers may drop a repeated delivery by it.

    Delivery is at-least-once (an attempt whose outcome was not recorded is
    made again with the same attempt number, so with the same id).
    """
    owner = notification.uid or f"{notification.namespace}/{notification.name}"
    return f"{owner}/{channel}/{attempt}"
