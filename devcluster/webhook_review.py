"""AdmissionReview v1 in and out, and the API server's error answers (pure).

Mirrors ``k8s.io/apiserver/pkg/admission/plugin/webhook``: the request fields
(``request/admissionreview.go``), the response checks of
``VerifyAdmissionResponse`` (kind, uid, patch type; a validating webhook may not
patch), the denial message of ``errors.ToStatusErr`` (``admission webhook "<name>"
denied the request: <message>``, a code below 400 becomes 400) and the
``Internal error occurred: failed calling webhook "<name>": ...`` of a failed
call under ``failurePolicy: Fail``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from devcluster.admission import AdmissionAttributes
from devcluster.errors import ApiError
from devcluster.patching import JSON_PATCH, apply_patch
from devcluster.subresources import scale_of, with_replicas

JsonObject = dict[str, Any]
FailurePolicy = Literal["Fail", "Ignore"]
ReinvocationPolicy = Literal["Never", "IfNeeded"]

REVIEW_API_VERSION = "admission.k8s.io/v1"
DEFAULT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 30
DEFAULT_SERVICE_PORT = 443
_DRY_RUN_SAFE = frozenset({"None", "NoneOnDryRun"})
_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class WebhookCallError(Exception):
    """The call failed or the answer is unusable; ``failurePolicy`` decides what follows."""


@dataclass(frozen=True)
class ServiceRef:
    namespace: str
    name: str
    port: int = DEFAULT_SERVICE_PORT
    path: str = ""

    @property
    def dns_name(self) -> str:
        return f"{self.name}.{self.namespace}.svc"

    @property
    def key(self) -> str:
        return f"{self.name}.{self.namespace}"


@dataclass(frozen=True)
class Webhook:
    """One entry of a Mutating/ValidatingWebhookConfiguration, with the defaults of v1."""

    name: str
    configuration: str
    mutating: bool
    spec: Mapping[str, Any]
    url: str = ""
    service: ServiceRef | None = None
    ca_bundle: bytes = b""
    failure_policy: FailurePolicy = "Fail"
    side_effects: str = ""
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    reinvocation: ReinvocationPolicy = "Never"
    review_versions: tuple[str, ...] = field(default=("v1",))
    config_error: str = ""

    @property
    def display_url(self) -> str:
        """The address as the API server names it in errors (``https://svc.ns.svc:443/path``)."""
        if self.service is None:
            return self.url
        return f"https://{self.service.dns_name}:{self.service.port}{self.service.path}"


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def webhooks_of(configuration: Mapping[str, Any], *, mutating: bool) -> list[Webhook]:
    """The webhooks of one configuration object, in their order."""
    config_name = str((configuration.get("metadata") or {}).get("name", ""))
    result: list[Webhook] = []
    for spec in configuration.get("webhooks") or []:
        if not isinstance(spec, dict):
            continue
        client = spec.get("clientConfig") or {}
        service_doc = client.get("service")
        service = None
        if isinstance(service_doc, dict):
            service = ServiceRef(
                str(service_doc.get("namespace", "")),
                str(service_doc.get("name", "")),
                _int(service_doc.get("port"), DEFAULT_SERVICE_PORT),
                str(service_doc.get("path") or ""),
            )
        config_error = ""
        try:
            ca_bundle = base64.b64decode(str(client.get("caBundle") or ""), validate=True)
        except (binascii.Error, ValueError):
            ca_bundle, config_error = b"", "clientConfig.caBundle is not valid base64"
        timeout = _int(spec.get("timeoutSeconds"), DEFAULT_TIMEOUT_SECONDS)
        result.append(
            Webhook(
                name=str(spec.get("name", "")),
                configuration=config_name,
                mutating=mutating,
                spec=spec,
                url=str(client.get("url") or ""),
                service=service,
                ca_bundle=ca_bundle,
                failure_policy="Ignore" if spec.get("failurePolicy") == "Ignore" else "Fail",
                side_effects=str(spec.get("sideEffects") or ""),
                timeout_seconds=max(1, min(timeout, MAX_TIMEOUT_SECONDS)),
                reinvocation="IfNeeded"
                if mutating and spec.get("reinvocationPolicy") == "IfNeeded"
                else "Never",
                review_versions=tuple(str(v) for v in spec.get("admissionReviewVersions") or ()),
                config_error=config_error,
            )
        )
    return result


def ordered_webhooks(configurations: list[JsonObject], *, mutating: bool) -> list[Webhook]:
    """Configurations sorted by name, webhooks within each in their listed order."""
    ordered = sorted(configurations, key=lambda c: str((c.get("metadata") or {}).get("name", "")))
    return [hook for config in ordered for hook in webhooks_of(config, mutating=mutating)]


# -- the request -----------------------------------------------------------------------


def _versioned_object(attributes: AdmissionAttributes, obj: JsonObject | None) -> Any:
    """What the webhook sees: the ``Scale`` for ``/scale``, else the object itself."""
    if obj is None:
        return None
    if attributes.subresource == "scale" and attributes.resource.scale is not None:
        return scale_of(attributes.resource, obj)
    return obj


def _kind(attributes: AdmissionAttributes) -> JsonObject:
    if attributes.subresource == "scale":
        return {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    rtype = attributes.resource
    return {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}


def _options(attributes: AdmissionAttributes) -> JsonObject | None:
    kind = _OPTIONS_KIND.get(attributes.operation)
    if kind is None:
        return None
    options: JsonObject = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    options.update(attributes.options)
    if attributes.dry_run:
        options["dryRun"] = ["All"]
    return options


def review_request(attributes: AdmissionAttributes, uid: str) -> JsonObject:
    """The AdmissionReview v1 the API server posts for ``attributes``."""
    rtype = attributes.resource
    resource = {"group": rtype.group, "version": rtype.version, "resource": rtype.plural}
    namespace = attributes.name if rtype.plural == "namespaces" and not rtype.group else ""
    request: JsonObject = {
        "uid": uid,
        "kind": _kind(attributes),
        "resource": resource,
        "requestKind": _kind(attributes),
        "requestResource": resource,
        "name": attributes.name,
        "namespace": attributes.namespace or namespace,
        "operation": attributes.operation,
        "userInfo": attributes.user.to_json(),
        "object": _versioned_object(attributes, attributes.object),
        "oldObject": _versioned_object(attributes, attributes.old_object),
        "dryRun": attributes.dry_run,
        "options": _options(attributes),
    }
    if attributes.subresource:
        request["subResource"] = attributes.subresource
        request["requestSubResource"] = attributes.subresource
    return {"apiVersion": REVIEW_API_VERSION, "kind": "AdmissionReview", "request": request}


# -- the response ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewResponse:
    allowed: bool
    result: JsonObject
    patch: list[Any] | None
    warnings: tuple[str, ...]


def _printable(text: str) -> bool:
    return bool(text.strip()) and all(ch.isprintable() for ch in text)


def parse_response(body: bytes, uid: str, *, mutating: bool) -> ReviewResponse:
    """Check an answer like ``VerifyAdmissionResponse``; raises :class:`WebhookCallError`."""
    try:
        review = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookCallError(f"received invalid webhook response: {err}") from err
    if not isinstance(review, dict):
        raise WebhookCallError("received invalid webhook response: not a JSON object")
    if review.get("apiVersion") != REVIEW_API_VERSION or review.get("kind") != "AdmissionReview":
        raise WebhookCallError(
            "received invalid webhook response: expected webhook response of "
            f"{REVIEW_API_VERSION}, Kind=AdmissionReview, got "
            f"{review.get('apiVersion')}, Kind={review.get('kind')}"
        )
    response = review.get("response")
    if not isinstance(response, dict):
        raise WebhookCallError("received invalid webhook response: webhook response was absent")
    if response.get("uid") != uid:
        raise WebhookCallError(
            f'received invalid webhook response: expected response.uid="{uid}", '
            f'got "{response.get("uid")}"'
        )
    patch = _decode_patch(response, mutating=mutating)
    result = response.get("status")
    warnings = tuple(
        str(w) for w in response.get("warnings") or () if isinstance(w, str) and _printable(w)
    )
    return ReviewResponse(
        response.get("allowed") is True,
        result if isinstance(result, dict) else {},
        patch,
        warnings,
    )


def _decode_patch(response: Mapping[str, Any], *, mutating: bool) -> list[Any] | None:
    encoded = response.get("patch")
    patch_type = response.get("patchType")
    if not mutating:
        if encoded:
            raise WebhookCallError(
                "received invalid webhook response: validating webhook may not return "
                "response.patch"
            )
        if patch_type:
            raise WebhookCallError(
                "received invalid webhook response: validating webhook may not return "
                "response.patchType"
            )
        return None
    if not encoded:
        return None
    if patch_type is None:
        raise WebhookCallError(
            "received invalid webhook response: webhook returned response.patch but not "
            "response.patchType"
        )
    if patch_type != "JSONPatch":
        raise WebhookCallError(
            f'received invalid webhook response: webhook returned invalid response.patchType of "'
            f'{patch_type}"'
        )
    try:
        operations = json.loads(base64.b64decode(str(encoded), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError) as err:
        raise WebhookCallError(f"received invalid webhook response: {err}") from err
    if not isinstance(operations, list):
        raise WebhookCallError(
            "received invalid webhook response: the patch is not a JSON array of operations"
        )
    return operations


def apply_review_patch(
    webhook: Webhook, attributes: AdmissionAttributes, operations: list[Any]
) -> JsonObject:
    """The object after a webhook's JSONPatch; a patch that fails is an internal error (500)."""
    if not operations:
        assert attributes.object is not None
        return attributes.object
    if attributes.object is None:
        raise internal_error(
            f'admission webhook "{webhook.name}" attempted to modify the object, which is not '
            "supported for this operation"
        )
    target = _versioned_object(attributes, attributes.object)
    try:
        patched = apply_patch(JSON_PATCH, target, operations, strategic=False)
    except ApiError as err:
        raise internal_error(err.message) from err
    if attributes.subresource == "scale" and attributes.resource.scale is not None:
        return _scale_back(attributes, patched)
    return patched


def _scale_back(attributes: AdmissionAttributes, scale: JsonObject) -> JsonObject:
    assert attributes.object is not None
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise internal_error("the patched Scale has no integer spec.replicas")
    return with_replicas(attributes.resource, attributes.object, replicas)


# -- errors ----------------------------------------------------------------------------


def internal_error(message: str) -> ApiError:
    """``apierrors.NewInternalError``: 500 InternalError, ``Internal error occurred: ...``."""
    return ApiError(
        500,
        "InternalError",
        f"Internal error occurred: {message}",
        {"causes": [{"message": message}]},
    )


def call_failed(webhook: Webhook, why: str) -> ApiError:
    return internal_error(f'failed calling webhook "{webhook.name}": {why}')


def denied(webhook: Webhook, result: Mapping[str, Any]) -> ApiError:
    """``webhookerrors.ToStatusErr``: the webhook's code (at least 400), reason and message."""
    denied_by = f'admission webhook "{webhook.name}" denied the request'
    code = _int(result.get("code"), 0)
    code = code if code >= 400 else 400
    message = str(result.get("message") or "")
    reason = str(result.get("reason") or "")
    if message:
        text = f"{denied_by}: {message}"
    elif reason:
        text = f"{denied_by}: {reason}"
    else:
        text = f"{denied_by} without explanation"
    details = result.get("details")
    return ApiError(code, reason, text, details if isinstance(details, dict) else {})


def dry_run_unsupported(webhook: Webhook) -> ApiError | None:
    """A dryRun request reaching a webhook with side effects fails with 400 (any policy)."""
    if webhook.side_effects in _DRY_RUN_SAFE:
        return None
    return ApiError(
        400, "BadRequest", f'admission webhook "{webhook.name}" does not support dry run'
    )


def check_callable(webhook: Webhook) -> None:
    """A webhook the stand-in cannot call (bad caBundle, no v1 reviews) fails like a call."""
    if webhook.config_error:
        raise WebhookCallError(webhook.config_error)
    if "v1" not in webhook.review_versions:
        listed = ", ".join(webhook.review_versions) or "none"
        raise WebhookCallError(
            f"webhook does not accept known AdmissionReview versions (accepts {listed}; "
            "the stand-in speaks v1)"
        )


__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "MAX_TIMEOUT_SECONDS",
    "ReviewResponse",
    "ServiceRef",
    "Webhook",
    "WebhookCallError",
    "apply_review_patch",
    "call_failed",
    "check_callable",
    "denied",
    "dry_run_unsupported",
    "internal_error",
    "ordered_webhooks",
    "parse_response",
    "review_request",
    "webhooks_of",
]
