"""NotificationRequest: deliver one message to channels, with retries and an attempt log."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from api.base import WireModel
from api.durations import Duration
from api.meta import ObjectMeta, ObjectRef
from api.phases import NotificationRequestPhase
from api.status import CommonStatus
from api.timestamps import Timestamp

__all__ = [
    "Channel",
    "ChannelType",
    "DeliveryAttempt",
    "NotificationPriority",
    "NotificationRequest",
    "NotificationRequestSpec",
    "NotificationRequestStatus",
    "NotificationType",
    "RetryPolicy",
    "SecretKeyRef",
]

NotificationType = Literal["Escalation", "Approval", "Completion", "StatusUpdate", "ManualReview"]
NotificationPriority = Literal["critical", "high", "medium", "low"]
ChannelType = Literal["log", "webhook", "slack"]

_MAX_ATTEMPTS_LOGGED = 200
"""10 channels x 20 attempts: the log is complete, so attempts are counted from it."""


class SecretKeyRef(WireModel):
    """A key of a Secret in the notification's namespace."""

    name: Annotated[str, Field(min_length=1, max_length=253)]
    key: Annotated[str, Field(min_length=1, max_length=253)]


class Channel(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            {
                "rule": "self.type == 'log' || has(self.secretRef)",
                "message": "webhook and slack channels need secretRef",
            }
        ]
    },
):
    type: ChannelType
    secret_ref: SecretKeyRef | None = None
    """Secret key holding the webhook URL; required for webhook and slack."""

    @model_validator(mode="after")
    def _url_for_webhooks(self) -> Channel:
        if self.type != "log" and self.secret_ref is None:
            raise ValueError(f"a {self.type} channel needs secretRef (the Secret key with its URL)")
        return self


class RetryPolicy(WireModel):
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    initial_backoff: Duration = "10s"
    max_backoff: Duration = "5m"
    backoff_multiplier: Annotated[float, Field(ge=1, le=10)] = 2.0


class NotificationRequestSpec(WireModel):
    type: NotificationType
    priority: NotificationPriority
    subject: Annotated[str, Field(min_length=1, max_length=500)]
    body: Annotated[str, Field(max_length=65536)] | None = None
    channels: Annotated[list[Channel], Field(min_length=1, max_length=10)]
    metadata: dict[str, str] | None = None
    """Context for the message (remediation, environment, reason, ...)."""
    retry_policy: RetryPolicy = Field(
        default_factory=RetryPolicy, json_schema_extra={"default": {}}
    )
    remediation_request_ref: ObjectRef | None = None


class DeliveryAttempt(WireModel):
    channel: Annotated[str, Field(min_length=1)]
    """Channel type, e.g. slack."""
    attempt: Annotated[int, Field(ge=1)]
    at: Timestamp
    outcome: Literal["Success", "Failure"]
    error: str | None = None


class NotificationRequestStatus(CommonStatus[NotificationRequestPhase]):
    delivery_attempts: (
        Annotated[list[DeliveryAttempt], Field(max_length=_MAX_ATTEMPTS_LOGGED)] | None
    ) = None
    successful_deliveries: Annotated[int, Field(ge=0)] | None = None
    failed_deliveries: Annotated[int, Field(ge=0)] | None = None
    completion_time: Timestamp | None = None
    message: str | None = None


class NotificationRequest(WireModel):
    api_version: Literal["kubernaut.ai/v1alpha1"] = "kubernaut.ai/v1alpha1"
    kind: Literal["NotificationRequest"] = "NotificationRequest"
    metadata: ObjectMeta
    spec: NotificationRequestSpec
    status: NotificationRequestStatus | None = None
