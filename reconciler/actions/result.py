"""The action runner's result document: what the Job's termination message holds.

The KubernetesExecution controller reads it from the terminated container's
``state.terminated.message``. It is one JSON object of at most
:data:`MAX_BYTES` (4096) bytes of UTF-8, always valid JSON::

    {
      "outcome": "succeeded" | "failed",
      "action": "scaleDeployment",            # the step's action, as given
      "dryRun": false,
      "execution": "shop/fix-web-step-1",     # only when KUBERNAUT_EXECUTION was set
      "result": {                             # api.results.StepExecutionResult, wire JSON
        "success": true,
        "executionTime": "412ms",
        "message": "scaled deployment shop/web from 2 to 5 replicas",
        "scaleResult" | "restartResult" | "updateResult" | "customResult": {...},
        "resourcesAffected": [{"apiVersion", "kind", "name", "namespace", "changeType"}],
        "warnings": ["..."]
      },
      "changes": [
        {"resource": "apps/v1 Deployment shop/web", "field": "spec.replicas",
         "before": 2, "after": 5}
      ],
      "rollback": {"action": "scaleDeployment",
                   "parameters": {"namespace": "shop", "deployment": "web", "replicas": 2}},
      "truncated": true,                      # only when something was shortened
      "rollbackDropped": true                 # only when the rollback itself did not fit
    }

* ``outcome`` and ``result.success`` always agree. Absent optional result
  fields are left out (never null).
* ``changes`` names an object as ``<apiVersion> <Kind> <namespace>/<name>``
  (no namespace for cluster-scoped kinds); a deletion or eviction is the field
  ``exists`` going from true to false. In a dry run the changes are what the
  API server accepted with ``dryRun=All``: what would change.
* ``rollback`` is the step that undoes this one (its ``parameters`` is the
  inner parameters block of that action), or null when there is nothing to
  undo, the action cannot be undone (restarts, deletions, log collection), or
  this was a dry run. A failed action may still carry one when it changed
  something before failing (drainNode cordons, then fails on a pod). The
  updateConfigMap rollback uses null values for keys to remove.
* When the document is too big it is shortened as little as needed, and
  ``truncated`` is set: first the collected log texts (their ends are kept),
  then every other string (their beginnings are kept; the rollback is never
  shortened, a partial rollback would be wrong); when that is not enough the
  lists are cut to their first entries, then the rollback is dropped as a
  whole; as a last resort only ``outcome``, ``action``, ``dryRun``,
  ``result.success`` and a shortened ``result.message`` remain.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

from api.durations import format_duration
from api.results import (
    CustomExecutionResult,
    RestartExecutionResult,
    ScaleExecutionResult,
    StepExecutionResult,
    UpdateExecutionResult,
)
from reconciler.actions.base import ActionReport, TypedResult

__all__ = ["MAX_BYTES", "render", "result_document"]

MAX_BYTES: Final = 4096
_LIST_CAPS: Final = (8, 4, 2, 1, 0)
_SKELETON_MESSAGE: Final = 400
_SKELETON_ACTION: Final = 64
_MARK: Final = "…[truncated]"
_TAIL_MARK: Final = "[truncated]…"

JSON = dict[str, Any]


def result_document(
    action: str,
    dry_run: bool,
    report: ActionReport,
    elapsed: timedelta,
    execution: str | None = None,
) -> JSON:
    """The full (not yet size-limited) document for a report."""
    message = f"dry run: {report.message}" if dry_run and report.message else report.message
    result = StepExecutionResult(
        success=report.success,
        execution_time=format_duration(max(elapsed, timedelta(milliseconds=1))),
        message=message or None,
        resources_affected=report.affected or None,
        warnings=report.warnings or None,
        **_typed_field(report.typed),
    )
    document: JSON = {
        "outcome": "succeeded" if report.success else "failed",
        "action": action,
        "dryRun": dry_run,
    }
    if execution:
        document["execution"] = execution
    document["result"] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    document["changes"] = [change.to_wire() for change in report.changes]
    document["rollback"] = (
        report.rollback.to_wire() if report.rollback is not None and not dry_run else None
    )
    return document


def _typed_field(typed: TypedResult | None) -> dict[str, Any]:
    if isinstance(typed, ScaleExecutionResult):
        return {"scale_result": typed}
    if isinstance(typed, RestartExecutionResult):
        return {"restart_result": typed}
    if isinstance(typed, UpdateExecutionResult):
        return {"update_result": typed}
    if isinstance(typed, CustomExecutionResult):
        return {"custom_result": typed}
    return {}


def render(document: JSON, limit: int = MAX_BYTES) -> str:
    """Serialise ``document`` in at most ``limit`` bytes of UTF-8, shortening it if needed."""
    document = _valid_unicode(document)
    text = _dump(document)
    if _fits(text, limit):
        return text
    shrunk: JSON = copy.deepcopy(document)
    shrunk["truncated"] = True
    fitted = _largest_fitting(shrunk, _cap_outputs, limit)
    if fitted is not None:
        return fitted
    _cap_outputs(shrunk, 0)
    steps: list[Callable[[JSON], None]] = [
        lambda doc: None,
        *(lambda doc, keep=keep: _cap_collections(doc, keep) for keep in _LIST_CAPS),
        _drop_rollback,
    ]
    for step in steps:
        step(shrunk)
        fitted = _largest_fitting(shrunk, _cap_other_strings, limit)
        if fitted is not None:
            return fitted
    return _dump(_skeleton(document))


def _largest_fitting(
    document: JSON, shorten: Callable[[JSON, int], None], limit: int
) -> str | None:
    """Binary search of the largest string cap for which the shortened document fits."""
    best: str | None = None
    low, high = 0, _longest_string(document)
    while low <= high:
        cap = (low + high) // 2
        candidate = copy.deepcopy(document)
        shorten(candidate, cap)
        text = _dump(candidate)
        if _fits(text, limit):
            best, low = text, cap + 1
        else:
            high = cap - 1
    return best


def _longest_string(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max((_longest_string(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return max((_longest_string(item) for item in value), default=0)
    return 0


def _dump(document: JSON) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _fits(text: str, limit: int) -> bool:
    return len(text.encode("utf-8")) <= limit


def _valid_unicode(value: Any) -> Any:
    """Replace lone surrogates (from undecodable environment bytes) so UTF-8 encoding works."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_valid_unicode(key): _valid_unicode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_valid_unicode(item) for item in value]
    return value


def _head(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap] + _MARK


def _tail(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    return _TAIL_MARK + (text[-cap:] if cap else "")


def _cap_strings(value: Any, cap: int) -> Any:
    if isinstance(value, str):
        return _head(value, cap)
    if isinstance(value, dict):
        return {key: _cap_strings(item, cap) for key, item in value.items()}
    if isinstance(value, list):
        return [_cap_strings(item, cap) for item in value]
    return value


def _outputs(document: JSON) -> dict[str, Any] | None:
    custom = document.get("result", {}).get("customResult")
    output = custom.get("output") if isinstance(custom, dict) else None
    return output if isinstance(output, dict) else None


def _cap_outputs(document: JSON, cap: int) -> None:
    output = _outputs(document)
    if output is not None:
        for key, text in output.items():
            output[key] = _tail(text, cap) if isinstance(text, str) else text


def _cap_other_strings(document: JSON, cap: int) -> None:
    output = _outputs(document)
    for key in ("action", "execution", "result", "changes"):
        if key in document:
            document[key] = _cap_strings(document[key], cap)
    if output is not None:
        # Log texts were already shortened from their start; keep that.
        document["result"]["customResult"]["output"] = output


def _cap_collections(document: JSON, keep: int) -> None:
    result = document.get("result", {})
    for key in ("resourcesAffected", "warnings"):
        if isinstance(result.get(key), list):
            result[key] = result[key][:keep]
    restart = result.get("restartResult")
    if isinstance(restart, dict) and isinstance(restart.get("restartedPods"), list):
        restart["restartedPods"] = restart["restartedPods"][:keep]
    output = _outputs(document)
    if output is not None:
        result["customResult"]["output"] = dict(list(output.items())[:keep])
    document["changes"] = document.get("changes", [])[:keep]


def _drop_rollback(document: JSON) -> None:
    if document.get("rollback") is not None:
        document["rollback"] = None
        document["rollbackDropped"] = True


def _skeleton(document: JSON) -> JSON:
    result = document.get("result", {})
    message = result.get("message")
    skeleton: JSON = {
        "outcome": document.get("outcome", "failed"),
        "action": _head(str(document.get("action", "")), _SKELETON_ACTION),
        "dryRun": bool(document.get("dryRun", False)),
        "result": {"success": bool(result.get("success", False))},
        "changes": [],
        "rollback": None,
        "truncated": True,
    }
    if isinstance(message, str):
        skeleton["result"]["message"] = _head(message, _SKELETON_MESSAGE)
    if document.get("rollback") is not None:
        skeleton["rollbackDropped"] = True
    return skeleton
