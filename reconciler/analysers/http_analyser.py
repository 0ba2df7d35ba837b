"""The HTTP analyser: ask an external investigation service which workflow to run.

One ``POST`` of JSON per analysis, one JSON answer (``docs/analysers.md``).

Request body::

    {"apiVersion": "kubernaut.ai/v1alpha1",
     "kind": "AnalysisRequest",
     "analysis": {"name": "rr-web-aia", "namespace": "shop", "uid": "...",
                  "remediationRequest": "rr-web"},
     "signal": {"fingerprint": "...", "name": "KubePodCrashLooping", "severity": "critical",
                "targetResource": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "namespace": "shop", "name": "web"},
                "labels": {...}, ...},
     "enrichment": {"targetFound": true, "ownerChain": [...], "environment": "production",
                    "severity": "critical", "priority": "P0", ...}}

``signal`` and ``enrichment`` are the AIAnalysis spec's fields as on the wire.
Headers: ``Content-Type: application/json``, ``Accept: application/json``,
``Authorization: Bearer <token>`` when a token file is configured.

Response (any 2xx)::

    {"workflow": {<WorkflowDefinition: name, version, steps[...]>},
     "confidence": 0.87,
     "rationale": "the pod is OOM-killed; more replicas spread the load"}

``workflow`` null (or absent) means the service found nothing to do: the
analysis fails with ``NoWorkflowSelected`` and the rationale. Unknown fields
are ignored (the service may add diagnostics). A timeout
(``AnalyserTimeout``), a connection failure (``AnalyserUnreachable``), a
non-2xx status (``AnalyserHTTPError``), a body that is not JSON or not of this
shape (``AnalyserInvalidResponse``) fail the analysis with the reason and a
message; the URL's credentials and the token never appear in a message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from api.constants import API_VERSION
from api.workflow import WorkflowDefinition
from reconciler.analysers.base import (
    AnalysisFailure,
    AnalysisOutcome,
    AnalysisRequest,
    AnalysisResult,
)

__all__ = ["DEFAULT_TIMEOUT", "HttpAnalyser", "request_body"]

DEFAULT_TIMEOUT: Final = 30.0
_EXCERPT: Final = 200


class _Response(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_alias=True, validate_by_name=True, extra="ignore"
    )

    workflow: WorkflowDefinition | None = None
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    rationale: str = ""


def request_body(request: AnalysisRequest) -> dict[str, Any]:
    """The JSON document POSTed for ``request``."""
    return {
        "apiVersion": API_VERSION,
        "kind": "AnalysisRequest",
        "analysis": {
            "name": request.name,
            "namespace": request.namespace,
            "uid": request.uid,
            "remediationRequest": request.remediation,
        },
        "signal": request.signal.model_dump(mode="json", by_alias=True, exclude_none=True),
        "enrichment": request.enrichment.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


class HttpAnalyser:
    """POSTs each analysis to ``url``; ``timeout`` bounds connecting and each read (seconds)."""

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token_file: Path | str | None = None,
        ca_file: Path | str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise ValueError(
                f"analyser URL must be http(s)://host/..., got scheme {parsed.scheme!r}"
            )
        if timeout <= 0:
            raise ValueError(f"analyser timeout must be positive, got {timeout}")
        self._url = parsed
        self._where = str(parsed.copy_with(username=None, password=None, query=None))
        self._timeout = timeout
        self._token_file = Path(token_file) if token_file else None
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            verify=str(ca_file) if ca_file else True,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def _headers(self) -> dict[str, str] | AnalysisFailure:
        headers = {"Accept": "application/json"}
        if self._token_file is not None:
            try:
                token = self._token_file.read_text(encoding="utf-8").strip()
            except OSError as err:
                return AnalysisFailure(
                    "AnalyserMisconfigured",
                    f"cannot read the analyser token file {self._token_file}: {err.strerror}",
                )
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def analyse(self, request: AnalysisRequest) -> AnalysisOutcome:
        headers = self._headers()
        if isinstance(headers, AnalysisFailure):
            return headers
        try:
            response = self._client.post(self._url, json=request_body(request), headers=headers)
        except httpx.TimeoutException:
            return AnalysisFailure(
                "AnalyserTimeout",
                f"investigation service {self._where} did not answer within {self._timeout:g}s",
            )
        except httpx.HTTPError as err:
            return AnalysisFailure(
                "AnalyserUnreachable",
                f"investigation service {self._where} unreachable ({type(err).__name__})",
            )
        if not response.is_success:
            return AnalysisFailure(
                "AnalyserHTTPError",
                f"investigation service {self._where} answered HTTP {response.status_code}: "
                f"{_excerpt(response.text)}",
            )
        return self._interpret(response)

    def _interpret(self, response: httpx.Response) -> AnalysisOutcome:
        try:
            document = response.json()
        except ValueError:
            return AnalysisFailure(
                "AnalyserInvalidResponse",
                f"investigation service {self._where} answered with a body that is not JSON: "
                f"{_excerpt(response.text)}",
            )
        try:
            answer = _Response.model_validate(document)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            return AnalysisFailure(
                "AnalyserInvalidResponse",
                f"investigation service {self._where} answered an invalid analysis: "
                f"{where}: {first['msg']}",
            )
        if answer.workflow is None:
            return AnalysisFailure(
                "NoWorkflowSelected",
                f"investigation service selected no workflow: {answer.rationale or 'no rationale'}",
            )
        if answer.confidence is None:
            return AnalysisFailure(
                "AnalyserInvalidResponse",
                f"investigation service {self._where} selected a workflow without a confidence",
            )
        return AnalysisResult(answer.workflow, answer.confidence, answer.rationale)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT else flat[:_EXCERPT] + "..."
