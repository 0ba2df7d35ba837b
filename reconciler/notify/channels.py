"""Channel senders: write a notification to the log, or POST it to a webhook or Slack.

A sender never raises for a delivery problem; it returns a
:class:`DeliveryResult` whose ``error`` is written to the object's status and
Events. The URL of a webhook is a secret (a Slack incoming-webhook URL is
its own credential), so:

* requests go straight to an ``httpx`` transport, without the client layer
  that logs every request URL at INFO;
* errors are built from the exception type and the HTTP status, never from
  an exception's text (which may quote the URL), and any response excerpt has
  the URL and its path removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx

from reconciler.notify.message import Notification
from reconciler.notify.payloads import slack_payload, webhook_payload

__all__ = [
    "DEFAULT_HTTP_TIMEOUT",
    "ChannelSender",
    "DeliveryResult",
    "HttpSender",
    "LogSender",
    "default_senders",
]

JSON = dict[str, Any]
PayloadBuilder = Callable[[Notification, str], JSON]

DEFAULT_HTTP_TIMEOUT: Final = 10.0
_EXCERPT: Final = 200
_REDACTED: Final = "<redacted>"


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    error: str | None = None


class ChannelSender(Protocol):
    def send(self, notification: Notification, delivery: str, url: str | None) -> DeliveryResult:
        """Deliver once; ``url`` is the channel's secret URL (None for the log channel)."""
        ...


class LogSender:
    """One structured log line per notification (logger ``kubernaut.notifications``)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("kubernaut.notifications")

    def send(self, notification: Notification, delivery: str, url: str | None) -> DeliveryResult:
        del url
        self._log.info(
            "notification %s (%s): %s",
            notification.type,
            notification.priority,
            notification.subject,
            extra={
                "object": f"{notification.namespace}/{notification.name}",
                "deliveryId": delivery,
                "notification": {
                    "type": notification.type,
                    "priority": notification.priority,
                    "subject": notification.subject,
                    "body": notification.body,
                    "metadata": notification.metadata,
                    "remediationRequest": notification.remediation,
                },
            },
        )
        return DeliveryResult(True)


class HttpSender:
    """POSTs ``payload(notification, delivery)`` as JSON; 2xx is success; no redirects."""

    def __init__(
        self,
        payload: PayloadBuilder,
        *,
        timeout: float = DEFAULT_HTTP_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        proxy: str | None = None,
    ) -> None:
        self._payload = payload
        self._timeout = timeout
        self._transport = transport or httpx.HTTPTransport(proxy=proxy, retries=0)

    def close(self) -> None:
        self._transport.close()

    def send(self, notification: Notification, delivery: str, url: str | None) -> DeliveryResult:
        if not url:
            return DeliveryResult(False, "no URL configured for this channel")
        try:
            request = httpx.Request(
                "POST",
                url,
                json=self._payload(notification, delivery),
                headers={"Accept": "application/json", "X-Kubernaut-Delivery": delivery},
                extensions={"timeout": httpx.Timeout(self._timeout).as_dict()},
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError):
            return DeliveryResult(False, "the configured URL is not a valid http(s) URL")
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException:
            return DeliveryResult(False, f"no answer within {self._timeout:g}s")
        except httpx.HTTPError as err:
            return DeliveryResult(False, f"request failed ({type(err).__name__})")
        if 200 <= response.status_code < 300:
            return DeliveryResult(True)
        excerpt = _redact(_excerpt(response.text), url)
        return DeliveryResult(
            False, f"HTTP {response.status_code}" + (f": {excerpt}" if excerpt else "")
        )


def default_senders(timeout: float = DEFAULT_HTTP_TIMEOUT) -> dict[str, ChannelSender]:
    """Senders for every channel type: log, webhook and slack."""
    return {
        "log": LogSender(),
        "webhook": HttpSender(webhook_payload, timeout=timeout),
        "slack": HttpSender(slack_payload, timeout=timeout),
    }


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT else flat[:_EXCERPT] + "..."


def _redact(text: str, url: str) -> str:
    """``text`` without the URL or its path (the secret part of a webhook URL)."""
    try:
        path = httpx.URL(url).raw_path.decode("ascii", "replace")
    except (httpx.InvalidURL, ValueError, TypeError):
        path = ""
    for secret in (url, path if len(path) > 1 else ""):
        if secret:
            text = text.replace(secret, _REDACTED)
    return text
