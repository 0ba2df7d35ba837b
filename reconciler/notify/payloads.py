"""The JSON bodies the webhook and Slack channels POST (pure).

Webhook (``Content-Type: application/json``)::

    {"apiVersion": "kubernaut.ai/v1alpha1", "kind": "Notification",
     "deliveryId": "<uid>/<channel>/<attempt>",
     "notification": {"name": "...", "namespace": "...", "uid": "..."},
     "type": "Escalation", "priority": "critical",
     "subject": "...", "body": "...", "metadata": {"environment": "production", ...},
     "remediationRequest": "rr-web"}

Slack (an incoming webhook's payload): ``text`` (the fallback shown in
notifications) and ``blocks``: a header with the subject, the body as a
section, a context line with priority, type and remediation, and the metadata
as up to ten section fields. Texts are cut to Slack's limits and ``&``, ``<``,
``>`` escaped so a message cannot inject mentions or links.
"""

from __future__ import annotations

from typing import Any, Final

from api.constants import API_VERSION
from reconciler.notify.message import Notification

__all__ = ["slack_payload", "webhook_payload"]

JSON = dict[str, Any]

_HEADER_LIMIT: Final = 150
_SECTION_LIMIT: Final = 3000
_FIELD_LIMIT: Final = 2000
_MAX_FIELDS: Final = 10


def webhook_payload(notification: Notification, delivery: str) -> JSON:
    payload: JSON = {
        "apiVersion": API_VERSION,
        "kind": "Notification",
        "deliveryId": delivery,
        "notification": {
            "name": notification.name,
            "namespace": notification.namespace,
            "uid": notification.uid,
        },
        "type": notification.type,
        "priority": notification.priority,
        "subject": notification.subject,
        "body": notification.body,
        "metadata": dict(notification.metadata),
    }
    if notification.remediation:
        payload["remediationRequest"] = notification.remediation
    return payload


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(notification: Notification, delivery: str) -> JSON:
    """``delivery`` is not part of a Slack message; the parameter keeps one payload signature."""
    del delivery
    subject = _escape(notification.subject)
    context = [
        f"*Priority:* {_escape(notification.priority)}",
        f"*Type:* {_escape(notification.type)}",
    ]
    if notification.remediation:
        context.append(f"*Remediation:* {_escape(notification.remediation)}")
    blocks: list[JSON] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(notification.subject, _HEADER_LIMIT)},
        }
    ]
    if notification.body:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _cut(_escape(notification.body), _SECTION_LIMIT),
                },
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " | ".join(context)}]}
    )
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{_escape(key)}*\n{_escape(value)}", _FIELD_LIMIT)}
        for key, value in sorted(notification.metadata.items())[:_MAX_FIELDS]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    return {
        "text": _cut(f"[{notification.priority.upper()}] {notification.type}: {subject}", 3000),
        "blocks": blocks,
    }
