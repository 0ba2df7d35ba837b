"""The URL of a webhook or Slack channel, read from a Secret key (I/O, for ``observe``).

The value is only ever returned to the sender: problems are described by the
Secret's name and key, never by the value.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from api.notificationrequest import SecretKeyRef
from reconciler.controller import ClusterView
from reconciler.kube import ApiError, Resource

__all__ = ["SECRETS", "SecretUrl", "read_url"]

SECRETS: Final = Resource("", "v1", "secrets", "Secret")


@dataclass(frozen=True)
class SecretUrl:
    url: str | None
    error: str | None = None

    def __repr__(self) -> str:  # never show the value, not even in a traceback
        return f"SecretUrl(url={'<set>' if self.url else None}, error={self.error!r})"


def read_url(view: ClusterView, namespace: str, ref: SecretKeyRef) -> SecretUrl:
    where = f"Secret {namespace}/{ref.name}"
    try:
        secret = view.get(SECRETS, namespace, ref.name)
    except ApiError as err:
        return SecretUrl(None, f"reading {where} failed: {err.status} {err.reason}")
    if secret is None:
        return SecretUrl(None, f"{where} not found")
    encoded = (secret.get("data") or {}).get(ref.key)
    if encoded is None:
        plain = (secret.get("stringData") or {}).get(ref.key)
        if plain is None:
            return SecretUrl(None, f"{where} has no key {ref.key}")
        value = str(plain)
    else:
        try:
            value = base64.b64decode(str(encoded), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return SecretUrl(None, f"{where} key {ref.key} is not base64-encoded UTF-8")
    value = value.strip()
    if not value.startswith(("http://", "https://")):
        return SecretUrl(None, f"{where} key {ref.key} does not hold an http(s) URL")
    return SecretUrl(value)
