"""Extension point for admission: the write path calls an :class:`AdmissionChain`.

Order, as in the real API server: mutating admission -> schema defaulting,
pruning and validation -> validating admission -> persist. A chain holds plugins
(``AdmissionPlugin``); the webhook caller that a later change adds is one such
plugin. A plugin sees :class:`AdmissionAttributes` and answers an
:class:`AdmissionDecision`: a mutated object (mutating phase only), a denial
(turned into a 4xx ``Status``) and warnings (sent as ``Warning: 299`` headers).

Plugins may block (call webhooks over HTTP): the HTTP layer runs writes in a
worker thread whenever the chain has plugins.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from devcluster.errors import ApiError
from devcluster.resources import ResourceType

JsonObject = dict[str, Any]
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]

_REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
}


@dataclass(frozen=True)
class UserInfo:
    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        body: JsonObject = {"username": self.username, "groups": list(self.groups)}
        if self.uid:
            body["uid"] = self.uid
        if self.extra:
            body["extra"] = {key: list(values) for key, values in self.extra.items()}
        return body


SYSTEM_USER = UserInfo("system:devcluster", ("system:masters", "system:authenticated"))
GC_USER = UserInfo(
    "system:serviceaccount:kube-system:generic-garbage-collector",
    ("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"),
)


@dataclass(frozen=True)
class AdmissionAttributes:
    operation: Operation
    resource: ResourceType
    subresource: str
    namespace: str
    name: str
    object: JsonObject | None
    old_object: JsonObject | None
    user: UserInfo
    dry_run: bool
    options: JsonObject = field(default_factory=dict)


@dataclass(frozen=True)
class AdmissionDecision:
    """What one plugin says: ``allowed``; else ``code``/``message`` become the error."""

    allowed: bool = True
    object: JsonObject | None = None
    code: int = 403
    message: str = ""
    reason: str = ""
    warnings: tuple[str, ...] = ()

    @staticmethod
    def allow(obj: JsonObject | None = None, warnings: tuple[str, ...] = ()) -> AdmissionDecision:
        return AdmissionDecision(True, obj, warnings=warnings)

    @staticmethod
    def deny(message: str, code: int = 403, warnings: tuple[str, ...] = ()) -> AdmissionDecision:
        return AdmissionDecision(False, None, code, message, warnings=warnings)


class AdmissionPlugin(Protocol):
    """One admission plugin; either method may simply ``return AdmissionDecision.allow()``."""

    def mutate(self, attributes: AdmissionAttributes) -> AdmissionDecision: ...

    def validate(self, attributes: AdmissionAttributes) -> AdmissionDecision: ...


@dataclass
class AdmissionOutcome:
    object: JsonObject | None
    warnings: list[str]


class AdmissionChain:
    """Runs plugins in registration order; the first denial stops the request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plugins: tuple[AdmissionPlugin, ...] = ()

    def add(self, plugin: AdmissionPlugin) -> None:
        with self._lock:
            self._plugins = (*self._plugins, plugin)

    def remove(self, plugin: AdmissionPlugin) -> None:
        with self._lock:
            self._plugins = tuple(p for p in self._plugins if p is not plugin)

    @property
    def active(self) -> bool:
        return bool(self._plugins)

    def mutate(self, attributes: AdmissionAttributes) -> AdmissionOutcome:
        current = attributes
        warnings: list[str] = []
        for plugin in self._plugins:
            decision = plugin.mutate(current)
            warnings.extend(decision.warnings)
            _raise_if_denied(decision, warnings)
            if decision.object is not None:
                current = _with_object(current, decision.object)
        return AdmissionOutcome(current.object, warnings)

    def validate(self, attributes: AdmissionAttributes) -> list[str]:
        warnings: list[str] = []
        for plugin in self._plugins:
            decision = plugin.validate(attributes)
            warnings.extend(decision.warnings)
            _raise_if_denied(decision, warnings)
        return warnings


class AdmissionDeniedError(ApiError):
    """A denial; carries the warnings gathered so far so the response still sends them."""

    warnings: list[str]


def _raise_if_denied(decision: AdmissionDecision, warnings: list[str]) -> None:
    if decision.allowed:
        return
    reason = decision.reason or _REASONS.get(decision.code, "Forbidden")
    error = AdmissionDeniedError(
        decision.code, reason, decision.message or "admission denied the request"
    )
    error.warnings = list(warnings)
    raise error


def _with_object(attributes: AdmissionAttributes, obj: JsonObject) -> AdmissionAttributes:
    return AdmissionAttributes(
        attributes.operation,
        attributes.resource,
        attributes.subresource,
        attributes.namespace,
        attributes.name,
        obj,
        attributes.old_object,
        attributes.user,
        attributes.dry_run,
        attributes.options,
    )
