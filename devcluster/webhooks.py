"""The admission plugin that calls the cluster's admission webhooks.

Register it on a store (``store.admission.add(WebhookAdmission(store, services))``,
which :meth:`devcluster.runner.DevCluster.start` does). For every write it reads
the stored Mutating/ValidatingWebhookConfigurations and, like the API server:

* mutating phase: calls each matching mutating webhook in order (configurations
  by name, webhooks as listed), applying its JSONPatch to the object the next
  one sees; then, once, every ``reinvocationPolicy: IfNeeded`` webhook after
  which a later webhook changed the object;
* validating phase (after schema validation): calls each matching validating
  webhook, in the same order (the real server calls them in parallel; the first
  denial in order is the one reported here).

A denial stops the request with the webhook's code and message. A failed call
(connection, TLS, timeout, non-200, malformed answer) is an internal error
under ``failurePolicy: Fail`` and skipped under ``Ignore``. A dryRun request
reaching a webhook whose ``sideEffects`` is not None/NoneOnDryRun fails with 400.
``matchConditions`` (CEL) are not evaluated: such a webhook is called whenever
its rules and selectors match (a warning is logged). DELETE reaches validating
webhooks only (the stand-in does not run mutating admission on DELETE).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from devcluster.admission import AdmissionAttributes, AdmissionDecision
from devcluster.errors import ApiError
from devcluster.ids import new_uid
from devcluster.resources import ResourceType
from devcluster.selectors import SelectorError
from devcluster.store import JsonObject, Store
from devcluster.webhook_client import ServiceMap, post_review
from devcluster.webhook_matching import (
    ADMISSION_GROUP,
    NamespaceMissingError,
    is_exempt,
    webhook_matches,
)
from devcluster.webhook_review import (
    Webhook,
    WebhookCallError,
    apply_review_patch,
    call_failed,
    check_callable,
    denied,
    dry_run_unsupported,
    internal_error,
    ordered_webhooks,
    parse_response,
    review_request,
)

_LOG = logging.getLogger("devcluster.webhooks")
Caller = Callable[[Webhook, JsonObject, ServiceMap], bytes]


class _Stop(Exception):  # noqa: N818 - internal control flow, carries the decision
    def __init__(self, decision: AdmissionDecision) -> None:
        super().__init__(decision.message)
        self.decision = decision


def _deny(error: ApiError, warnings: list[str]) -> _Stop:
    return _Stop(
        AdmissionDecision(False, None, error.code, error.message, error.reason, tuple(warnings))
    )


class WebhookAdmission:
    """An :class:`~devcluster.admission.AdmissionPlugin` calling the stored webhooks."""

    def __init__(
        self, store: Store, services: ServiceMap | None = None, *, caller: Caller = post_review
    ) -> None:
        self._store = store
        self._services: ServiceMap = dict(services or {})
        self._caller = caller
        self._warned_conditions: set[str] = set()
        self._parsed: dict[bool, tuple[int, list[Webhook]]] = {}

    # ------------------------------------------------------------------ phases

    def mutate(self, attributes: AdmissionAttributes) -> AdmissionDecision:
        if attributes.object is None or is_exempt(attributes):
            return AdmissionDecision.allow()
        warnings: list[str] = []
        try:
            hooks = self._matching(attributes, mutating=True)
            current = attributes
            reinvoke: list[Webhook] = []
            pending: list[Webhook] = []
            for hook in hooks:
                changed, current = self._mutate_once(hook, current, warnings)
                if changed:
                    reinvoke.extend(h for h in pending if h not in reinvoke)
                    pending.clear()
                if hook.reinvocation == "IfNeeded":
                    pending.append(hook)
            for hook in [h for h in hooks if h in reinvoke]:
                _changed, current = self._mutate_once(hook, current, warnings)
        except _Stop as stop:
            return stop.decision
        if current.object is attributes.object:
            return AdmissionDecision.allow(None, tuple(warnings))
        return AdmissionDecision.allow(current.object, tuple(warnings))

    def validate(self, attributes: AdmissionAttributes) -> AdmissionDecision:
        if is_exempt(attributes):
            return AdmissionDecision.allow()
        warnings: list[str] = []
        try:
            for hook in self._matching(attributes, mutating=False):
                self._call(hook, attributes, warnings)
        except _Stop as stop:
            return stop.decision
        return AdmissionDecision.allow(None, tuple(warnings))

    # ----------------------------------------------------------------- helpers

    def _mutate_once(
        self, hook: Webhook, attributes: AdmissionAttributes, warnings: list[str]
    ) -> tuple[bool, AdmissionAttributes]:
        patch = self._call(hook, attributes, warnings)
        if not patch:
            return False, attributes
        try:
            patched = apply_review_patch(hook, attributes, patch)
        except ApiError as err:
            raise _deny(err, warnings) from err
        if patched == attributes.object:
            return False, attributes
        return True, replace(attributes, object=patched)

    def _call(
        self, hook: Webhook, attributes: AdmissionAttributes, warnings: list[str]
    ) -> list[object] | None:
        """Call one webhook; returns its patch (mutating), raises :class:`_Stop` to end."""
        if attributes.dry_run:
            unsupported = dry_run_unsupported(hook)
            if unsupported is not None:
                raise _deny(unsupported, warnings)
        uid = new_uid()
        try:
            check_callable(hook)
            body = self._caller(hook, review_request(attributes, uid), self._services)
            response = parse_response(body, uid, mutating=hook.mutating)
        except WebhookCallError as err:
            if hook.failure_policy == "Ignore":
                _LOG.warning(
                    "failed calling webhook, failing open",
                    extra={"webhook": hook.name, "error": str(err)},
                )
                return None
            raise _deny(call_failed(hook, str(err)), warnings) from err
        warnings.extend(response.warnings)
        if not response.allowed:
            raise _deny(denied(hook, response.result), warnings)
        return response.patch

    def _matching(self, attributes: AdmissionAttributes, *, mutating: bool) -> list[Webhook]:
        plural = "mutatingwebhookconfigurations" if mutating else "validatingwebhookconfigurations"
        rtype = self._store.registry.lookup(ADMISSION_GROUP, "v1", plural)
        if rtype is None:
            return []
        matched: list[Webhook] = []
        for hook in self._webhooks(rtype, mutating=mutating):
            try:
                if not webhook_matches(hook.spec, attributes, self._namespace_labels):
                    continue
            except SelectorError as err:
                raise _deny(internal_error(f'webhook "{hook.name}": {err}'), []) from err
            except NamespaceMissingError as err:
                raise _deny(
                    ApiError(404, "NotFound", f'namespaces "{err.args[0]}" not found'), []
                ) from err
            if hook.spec.get("matchConditions") and hook.name not in self._warned_conditions:
                self._warned_conditions.add(hook.name)
                _LOG.warning(
                    "matchConditions are not evaluated by devcluster; the webhook is called",
                    extra={"webhook": hook.name},
                )
            matched.append(hook)
        return matched

    def _webhooks(self, rtype: ResourceType, *, mutating: bool) -> list[Webhook]:
        """The configured webhooks in call order, parsed again only after a configuration changed.

        Every write needs them (twice): reading the store's change marker takes no lock.
        """
        version = self._store.changed_at(rtype)
        cached = self._parsed.get(mutating)
        if cached is not None and cached[0] == version:
            return cached[1]
        entries, _rv = self._store.list_entries(rtype)
        hooks = ordered_webhooks([obj for _key, _raw, obj in entries], mutating=mutating)
        self._parsed[mutating] = (version, hooks)
        return hooks

    def _namespace_labels(self, name: str) -> Mapping[str, str] | None:
        rtype: ResourceType | None = self._store.registry.lookup("", "v1", "namespaces")
        assert rtype is not None
        try:
            namespace = self._store.get(rtype, "", name)
        except ApiError:
            return None
        labels = (namespace.get("metadata") or {}).get("labels")
        return labels if isinstance(labels, dict) else {}


__all__ = ["Caller", "WebhookAdmission"]
