"""Notification delivery: channel senders (log, webhook, Slack), payloads, retry schedule."""

from reconciler.notify.channels import (
    ChannelSender,
    DeliveryResult,
    HttpSender,
    LogSender,
    default_senders,
)
from reconciler.notify.message import Notification, delivery_id
from reconciler.notify.payloads import slack_payload, webhook_payload

__all__ = [
    "ChannelSender",
    "DeliveryResult",
    "HttpSender",
    "LogSender",
    "Notification",
    "default_senders",
    "delivery_id",
    "slack_payload",
    "webhook_payload",
]
