"""One HTTP admission call: request body in, status code and response body out.

Independent of the web framework so it is tested and benchmarked directly.
A body that is not a usable AdmissionReview gets HTTP 400 with a
``metav1.Status`` naming the problem; everything else gets HTTP 200 with an
AdmissionReview whose ``uid`` echoes the request's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from api.constants import KINDS
from webhook import metrics
from webhook.pipeline import AdmissionPipeline, Endpoint
from webhook.review import MalformedReviewError, decode_review

_log = logging.getLogger("kubernaut.webhook")

# Any kind outside kubernaut's is one label value: label values must stay bounded.
_OTHER_KIND = "other"


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: bytes


def bad_request(message: str) -> Answer:
    """HTTP 400 with a ``metav1.Status`` body."""
    status: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "message": message,
        "reason": "BadRequest",
        "code": 400,
    }
    return Answer(400, _encode(status))


def _encode(document: dict[str, Any]) -> bytes:
    return to_json(document)


def handle(pipeline: AdmissionPipeline, endpoint: Endpoint, body: bytes) -> Answer:
    """Decode, decide, encode; record the request in the admission metrics."""
    started = time.perf_counter()
    kind = operation = ""
    try:
        request = decode_review(body).request
        kind = request.kind.kind if request.kind.kind in KINDS else _OTHER_KIND
        operation = request.operation
        outcome = pipeline.review(endpoint, request)
    except MalformedReviewError as err:
        _log.warning("malformed admission review: %s", err, extra={"endpoint": endpoint.value})
        answer = bad_request(str(err))
        metrics.observe(kind, operation, metrics.MALFORMED, endpoint.value, _since(started))
        return answer
    answer = Answer(200, _encode(outcome.response()))
    metrics.observe(kind, operation, outcome.decision.value, endpoint.value, _since(started))
    return answer


def _since(started: float) -> float:
    return time.perf_counter() - started
