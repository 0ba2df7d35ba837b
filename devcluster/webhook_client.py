"""POST an AdmissionReview to a webhook over verified HTTPS.

A ``clientConfig.url`` is called as written. A ``clientConfig.service`` has no
cluster DNS here, so its ``<name>.<namespace>`` is looked up in a
:class:`ServiceMap` (``--webhook-host-map NAME.NS=HOST:PORT``) for the address
to connect to, while the TLS handshake still uses ``<name>.<namespace>.svc`` as
SNI and as the name the certificate must carry, exactly as the API server
checks it. The server certificate is verified against ``caBundle`` (or the
system trust store when the bundle is empty); verification is never switched
off. ``timeoutSeconds`` bounds the connect and each read.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from devcluster.webhook_review import Webhook, WebhookCallError

JsonObject = dict[str, Any]
_MAX_RESPONSE_BYTES = 3 * 1024 * 1024
_MAX_ERROR_BODY = 300


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


ServiceMap = Mapping[str, Address]


class HostMapError(ValueError):
    """A ``NAME.NS=HOST:PORT`` entry that does not parse; the message says why."""


def parse_host_map(entries: Iterable[str]) -> dict[str, Address]:
    """Parse ``NAME.NAMESPACE=HOST:PORT`` entries into a :data:`ServiceMap`."""
    result: dict[str, Address] = {}
    for entry in entries:
        key, sep, target = entry.partition("=")
        name, dot, namespace = key.strip().partition(".")
        host, colon, port_text = target.strip().rpartition(":")
        if not sep or not dot or not name or not namespace or "." in namespace:
            raise HostMapError(f"{entry!r}: expected SERVICE.NAMESPACE=HOST:PORT")
        if not colon or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise HostMapError(f"{entry!r}: the address must be HOST:PORT with a port 1-65535")
        result[f"{name}.{namespace}"] = Address(host.strip("[]"), int(port_text))
    return result


@dataclass(frozen=True)
class _Endpoint:
    connect: Address
    server_hostname: str
    path: str


def _endpoint(webhook: Webhook, services: ServiceMap) -> _Endpoint:
    if webhook.service is not None:
        address = services.get(webhook.service.key)
        if address is None:
            raise WebhookCallError(
                f'failed to call webhook: service "{webhook.service.key}" has no local address '
                f"(start devcluster with --webhook-host-map {webhook.service.key}=HOST:PORT)"
            )
        return _Endpoint(address, webhook.service.dns_name, webhook.service.path or "/")
    parts = urlsplit(webhook.url)
    if parts.scheme != "https" or not parts.hostname:
        raise WebhookCallError(f'failed to call webhook: "{webhook.url}" is not an https URL')
    try:
        port = parts.port or 443
    except ValueError as err:
        raise WebhookCallError(f"failed to call webhook: {err}") from err
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Endpoint(Address(parts.hostname, port), parts.hostname, path)


def _context(webhook: Webhook) -> ssl.SSLContext:
    if not webhook.ca_bundle:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=webhook.ca_bundle.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as err:
        raise WebhookCallError(
            f"failed to call webhook: clientConfig.caBundle holds no usable PEM certificate: {err}"
        ) from err


class _VerifiedConnection(http.client.HTTPSConnection):
    """HTTPS to ``connect`` while verifying the certificate for ``server_hostname``."""

    def __init__(self, endpoint: _Endpoint, context: ssl.SSLContext, timeout: float) -> None:
        # With the context given, http.client does not build (and load the system trust
        # store into) a default one per connection: that cost ~40 ms per webhook call.
        super().__init__(
            endpoint.connect.host, endpoint.connect.port, timeout=timeout, context=context
        )
        self._endpoint = endpoint
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection(
            (self._endpoint.connect.host, self._endpoint.connect.port), self.timeout
        )
        try:
            # http.client writes the headers and the body separately: with Nagle's
            # algorithm the body then waits for the server's delayed ACK (40 ms on
            # Linux) on every review. The API server (Go) sets TCP_NODELAY too.
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = self._tls.wrap_socket(raw, server_hostname=self._endpoint.server_hostname)
        except BaseException:
            raw.close()
            raise


def _with_timeout(path: str, seconds: int) -> str:
    separator = "&" if "?" in path else "?"
    return f"{path}{separator}timeout={seconds}s"


def _describe(err: BaseException, endpoint: _Endpoint) -> str:
    if isinstance(err, TimeoutError | socket.timeout):
        return "context deadline exceeded"
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: {err.verify_message or err}"
    if isinstance(err, ConnectionRefusedError):
        return f"dial tcp {endpoint.connect}: connect: connection refused"
    return str(err) or type(err).__name__


class _Pool:
    """Keep-alive connections per webhook endpoint and CA, as the API server keeps them.

    A fresh TLS handshake per call costs far more than the review itself; the
    real API server reuses its connections to webhooks. Idle connections wait
    here; one that the server closed meanwhile is replaced once (a review has
    no side effects, so sending it again is safe).
    """

    def __init__(self, max_idle: int = 32) -> None:
        # As many as devcluster serves writes at once (app.WRITE_THREADS): fewer, and
        # the surplus connections are closed after each call and handshaken again.
        self._lock = threading.Lock()
        self._idle: dict[tuple[_Endpoint, bytes], list[_VerifiedConnection]] = {}
        self._contexts: dict[bytes, ssl.SSLContext] = {}
        self._max_idle = max_idle

    def context(self, webhook: Webhook) -> ssl.SSLContext:
        key = webhook.ca_bundle or b""
        with self._lock:
            cached = self._contexts.get(key)
        if cached is not None:
            return cached
        context = _context(webhook)
        with self._lock:
            return self._contexts.setdefault(key, context)

    def take(self, key: tuple[_Endpoint, bytes]) -> _VerifiedConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give(self, key: tuple[_Endpoint, bytes], connection: _VerifiedConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()


_POOL = _Pool()
# A reused connection the server closed while idle fails with one of these.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def _exchange(
    connection: _VerifiedConnection, path: str, body: bytes, host: str
) -> tuple[http.client.HTTPResponse, bytes]:
    connection.request(
        "POST",
        path,
        body,
        {"Content-Type": "application/json", "Accept": "application/json, */*", "Host": host},
    )
    response = connection.getresponse()
    return response, response.read(_MAX_RESPONSE_BYTES + 1)


def post_review(webhook: Webhook, review: JsonObject, services: ServiceMap) -> bytes:
    """The raw body of a 200 answer; any failure raises :class:`WebhookCallError`."""
    endpoint = _endpoint(webhook, services)
    context = _POOL.context(webhook)
    path = _with_timeout(endpoint.path, webhook.timeout_seconds)
    url = _with_timeout(webhook.display_url, webhook.timeout_seconds)
    body = json.dumps(review, separators=(",", ":")).encode()
    key = (endpoint, webhook.ca_bundle or b"")
    timeout = float(webhook.timeout_seconds)
    connection = _POOL.take(key)
    try:
        if connection is not None:
            connection.timeout = timeout
            try:
                response, data = _exchange(connection, path, body, endpoint.server_hostname)
            except _STALE:
                connection.close()
                connection = None
        if connection is None:
            connection = _VerifiedConnection(endpoint, context, timeout)
            response, data = _exchange(connection, path, body, endpoint.server_hostname)
    except (OSError, http.client.HTTPException) as err:
        if connection is not None:
            connection.close()
        raise WebhookCallError(
            f'failed to call webhook: Post "{url}": {_describe(err, endpoint)}'
        ) from err
    if response.will_close or len(data) > _MAX_RESPONSE_BYTES:
        connection.close()
    else:
        _POOL.give(key, connection)
    if len(data) > _MAX_RESPONSE_BYTES:
        raise WebhookCallError("failed to call webhook: the response is larger than 3 MiB")
    if response.status != 200:
        text = data[:_MAX_ERROR_BODY].decode("utf-8", "replace").strip()
        raise WebhookCallError(
            f"failed to call webhook: the server responded with status {response.status}"
            + (f": {text}" if text else "")
        )
    return data


__all__ = ["Address", "HostMapError", "ServiceMap", "parse_host_map", "post_review"]
