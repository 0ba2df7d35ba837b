"""The OPA policy engine: the same rules evaluated by an OPA server (sidecar).

Each rule is one call of OPA's v1 Data API (``POST /v1/data/<path>`` with
``{"input": ...}``) through ``opa-python-client``; an undefined rule is an
answer without ``result``. The policies and ``data.kubernaut.config`` are
loaded into OPA by its own means (e.g. ``opa run --server policies/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient

from webhook.policy.engine import EngineStatus, PolicyEngine, PolicyInput
from webhook.policy.errors import PolicyEvaluationError


class OpaPolicyEngine(PolicyEngine):
    def __init__(self, url: str = "http://127.0.0.1:8181", *, timeout: float = 2.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"OPA URL {url!r} must be http(s)://host[:port]")
        self._url = f"{parts.scheme}://{parts.netloc}"
        self._client = OpaClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 8181),
            ssl=parts.scheme == "https",
            timeout=timeout,
            retries=0,
        )

    @property
    def url(self) -> str:
        return self._url

    def _evaluate(self, rules: Sequence[str], policy_input: PolicyInput) -> list[Any]:
        document = dict(policy_input)
        return [self._query(rule, document) for rule in rules]

    def _query(self, rule: str, document: dict[str, Any]) -> Any:
        package, _, name = rule.removeprefix("data.").rpartition(".")
        try:
            answer = self._client.query_rule(document, package, name)
        except requests.ConnectionError as err:
            raise PolicyEvaluationError(
                f"OPA server at {self._url} is unreachable while evaluating {rule}: {_reason(err)}"
            ) from err
        except requests.Timeout as err:
            raise PolicyEvaluationError(
                f"OPA server at {self._url} did not answer {rule} in time"
            ) from err
        except requests.HTTPError as err:
            raise PolicyEvaluationError(
                f"OPA server at {self._url} failed to evaluate {rule}: {_http_error(err)}"
            ) from err
        except (requests.RequestException, ValueError) as err:
            raise PolicyEvaluationError(
                f"OPA server at {self._url} gave no usable answer for {rule}: {err}"
            ) from err
        if not isinstance(answer, dict):
            raise PolicyEvaluationError(
                f"OPA server at {self._url} answered {rule} with a non-object"
            )
        return answer.get("result")

    def status(self) -> EngineStatus:
        try:
            healthy = bool(self._client.check_health())
        except requests.RequestException:
            healthy = False
        if healthy:
            return EngineStatus(ready=True, detail=f"OPA server at {self._url} is healthy")
        return EngineStatus(
            ready=False,
            detail=f"OPA server at {self._url} is not healthy",
            last_error="health check failed",
        )

    def close(self) -> None:
        self._client.close_connection()


def _reason(err: requests.ConnectionError) -> str:
    text = str(err)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return text


def _http_error(err: requests.HTTPError) -> str:
    response = err.response
    if response is None:
        return str(err)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return f"HTTP {response.status_code} {body.get('code', '')}: {body['message']}".replace(
            "  ", " "
        )
    return f"HTTP {response.status_code}"
