"""Run one action: read the request, dispatch, write the result document.

Input (environment, overridable by the CLI's flags):

* ``KUBERNAUT_ACTION``: the action name (``scaleDeployment``, ...).
* ``KUBERNAUT_PARAMETERS``: JSON of that action's parameters block (the inner
  object, e.g. ``{"namespace": "shop", "deployment": "web", "replicas": 3}``),
  validated by the api models (wire names only, unknown fields rejected).
* ``KUBERNAUT_DRY_RUN``: ``true`` or ``false`` (default false): every write is
  sent with ``dryRun=All``.
* ``KUBERNAUT_TIMEOUT``: optional duration ("5m"): how long waiting actions
  (drainNode) may take; default :data:`DEFAULT_TIMEOUT`.
* ``KUBERNAUT_TERMINATION_MESSAGE_PATH``: where the result goes (default
  ``/dev/termination-log``).
* ``KUBERNAUT_EXECUTION``: optional ``namespace/name`` of the
  KubernetesExecution, copied into the result and the logs.

Exit code 0 when the action succeeded, 1 when it failed, 2 for bad input or no
usable cluster configuration; the result document (see
:mod:`reconciler.actions.result`) is written in every case.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO

from pydantic import ValidationError

from api.base import WireModel
from api.durations import parse_duration
from api.errors import field_errors
from api.parameters import (
    ACTIONS,
    Action,
    CollectLogsParams,
    CordonNodeParams,
    CustomActionParams,
    DeletePodParams,
    DrainNodeParams,
    RestartDeploymentParams,
    RestartPodParams,
    RollbackDeploymentParams,
    ScaleDeploymentParams,
    UncordonNodeParams,
    UpdateConfigMapParams,
    UpdateImageParams,
)
from reconciler.actions import configmaps, custom, deployments, drain, logs, nodes, pods
from reconciler.actions.base import ActionContext, ActionError, ActionReport
from reconciler.actions.client import ActionClient, ClusterConfigError, connect
from reconciler.actions.result import render, result_document
from reconciler.kube import ApiError

__all__ = [
    "DEFAULT_TERMINATION_MESSAGE_PATH",
    "DEFAULT_TIMEOUT",
    "InputError",
    "RunRequest",
    "execute",
    "main",
    "parse_dry_run",
    "parse_parameters",
    "parse_request",
    "run",
    "termination_path",
]

DEFAULT_TERMINATION_MESSAGE_PATH: Final = Path("/dev/termination-log")
DEFAULT_TIMEOUT: Final = timedelta(minutes=5)

_LOG = logging.getLogger("kubernaut.action")
_TRUE: Final = frozenset({"true", "1", "yes"})
_FALSE: Final = frozenset({"false", "0", "no", ""})

ActionFunction = Callable[[ActionContext, Any], ActionReport]
_ACTIONS: Final[dict[Action, tuple[type[WireModel], ActionFunction]]] = {
    "scaleDeployment": (ScaleDeploymentParams, deployments.run_scale),
    "restartDeployment": (RestartDeploymentParams, deployments.run_restart),
    "rollbackDeployment": (RollbackDeploymentParams, deployments.run_rollback),
    "updateImage": (UpdateImageParams, deployments.run_update_image),
    "restartPod": (RestartPodParams, pods.run_restart_pod),
    "deletePod": (DeletePodParams, pods.run_delete_pod),
    "updateConfigMap": (UpdateConfigMapParams, configmaps.run_update_config_map),
    "cordonNode": (CordonNodeParams, nodes.run_cordon),
    "uncordonNode": (UncordonNodeParams, nodes.run_uncordon),
    "drainNode": (DrainNodeParams, drain.run_drain),
    "collectLogs": (CollectLogsParams, logs.run_collect_logs),
    "custom": (CustomActionParams, custom.run_custom),
}


class InputError(Exception):
    """The request itself is wrong (exit code 2); the message says what and where."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    action: Action
    parameters: WireModel
    dry_run: bool
    timeout: timedelta
    termination_path: Path
    execution: str | None = None


# ------------------------------------------------------------------- parsing


def termination_path(env: Mapping[str, str], flag: str | None = None) -> Path:
    """Where the result is written: the flag, else the environment, else the default."""
    value = flag or env.get("KUBERNAUT_TERMINATION_MESSAGE_PATH")
    return Path(value) if value else DEFAULT_TERMINATION_MESSAGE_PATH


def parse_dry_run(value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(f"KUBERNAUT_DRY_RUN: expected true or false, got {value!r}")


def parse_request(
    env: Mapping[str, str],
    *,
    action: str | None = None,
    parameters: str | None = None,
    dry_run: bool | None = None,
    timeout: str | None = None,
    execution: str | None = None,
    termination_message_path: str | None = None,
) -> RunRequest:
    """Read the request from the environment, each argument overriding its variable."""
    name = action if action is not None else env.get("KUBERNAUT_ACTION", "")
    if not name:
        raise InputError("no action: set KUBERNAUT_ACTION or --action")
    if name not in _ACTIONS:
        raise InputError(f"unknown action {name!r}: expected one of {', '.join(ACTIONS)}")
    known: Action = next(candidate for candidate in ACTIONS if candidate == name)
    raw = parameters if parameters is not None else env.get("KUBERNAUT_PARAMETERS")
    timeout_text = timeout if timeout is not None else env.get("KUBERNAUT_TIMEOUT")
    return RunRequest(
        action=known,
        parameters=parse_parameters(known, raw),
        dry_run=dry_run if dry_run is not None else parse_dry_run(env.get("KUBERNAUT_DRY_RUN")),
        timeout=_parse_timeout(timeout_text),
        termination_path=termination_path(env, termination_message_path),
        execution=execution if execution is not None else env.get("KUBERNAUT_EXECUTION") or None,
    )


def parse_parameters(action: Action, raw: str | None) -> WireModel:
    """Validate the JSON parameters block of ``action`` with its api model."""
    if raw is None or not raw.strip():
        raise InputError(f"no parameters: set KUBERNAUT_PARAMETERS to the {action} block (JSON)")
    try:
        document = json.loads(raw)
    except ValueError as err:
        raise InputError(f"KUBERNAUT_PARAMETERS is not valid JSON: {err}") from None
    if not isinstance(document, dict):
        raise InputError(
            f"KUBERNAUT_PARAMETERS must be a JSON object (the {action} block),"
            f" got {type(document).__name__}"
        )
    model = _ACTIONS[action][0]
    try:
        return model.model_validate(document, by_alias=True, by_name=False)
    except ValidationError as err:
        problems = "; ".join(str(error) for error in field_errors(err))
        raise InputError(f"invalid {action} parameters: {problems}") from None


def _parse_timeout(text: str | None) -> timedelta:
    if text is None or not text.strip():
        return DEFAULT_TIMEOUT
    try:
        return parse_duration(text.strip())
    except ValueError as err:
        raise InputError(f"KUBERNAUT_TIMEOUT: {err}") from None


# ----------------------------------------------------------------- executing


def execute(
    request: RunRequest,
    client: ActionClient,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ActionReport:
    """Run the request's action; every failure becomes a report with ``success=False``."""
    context = ActionContext(
        client=client,
        dry_run=request.dry_run,
        deadline=monotonic() + request.timeout.total_seconds(),
        monotonic=monotonic,
        sleep=sleep,
        now=now,
    )
    function = _ACTIONS[request.action][1]
    try:
        return function(context, request.parameters)
    except ActionError as err:
        return ActionReport(str(err), success=False)
    except ApiError as err:
        return ActionReport(_api_failure(err), success=False)
    except Exception as err:  # a bug must still leave a result for the controller
        _LOG.exception("action %s crashed", request.action)
        return ActionReport(f"internal error: {type(err).__name__}: {err}", success=False)


def _api_failure(err: ApiError) -> str:
    if err.status == 0:
        return f"cannot reach the API server: {err.message}"
    if err.status in {401, 403}:
        return f"not allowed: {err.message or err.reason} (check the action's ServiceAccount RBAC)"
    if err.not_found:
        return f"not found: {err.message or err.reason}"
    return str(err)


def run(
    request: RunRequest, connect_client: Callable[[], ActionClient] = connect
) -> tuple[int, str]:
    """Execute and write the result; the exit code and the full (untruncated) document."""
    started = time.monotonic()
    extra = {"object": request.execution, "action": request.action, "dryRun": request.dry_run}
    _LOG.info("running action", extra=extra)
    try:
        client = connect_client()
    except ClusterConfigError as err:
        report, code = ActionReport(str(err), success=False), 2
    else:
        report = execute(request, client)
        code = 0 if report.success else 1
    elapsed = timedelta(seconds=time.monotonic() - started)
    document = result_document(
        request.action, request.dry_run, report, elapsed, execution=request.execution
    )
    _write(request.termination_path, render(document))
    level = logging.INFO if report.success else logging.ERROR
    _LOG.log(level, report.message, extra={**extra, "outcome": document["outcome"]})
    return code, json.dumps(document)


def main(
    env: Mapping[str, str],
    *,
    connect_client: Callable[[], ActionClient] = connect,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    action: str | None = None,
    parameters: str | None = None,
    dry_run: bool | None = None,
    timeout: str | None = None,
    execution: str | None = None,
    termination_message_path: str | None = None,
) -> int:
    """The whole command: parse (the flags override the environment), run, report.

    The full document goes to ``out`` (the Job's log keeps it whole); the
    termination-message file gets the size-limited one.
    """
    try:
        request = parse_request(
            env,
            action=action,
            parameters=parameters,
            dry_run=dry_run,
            timeout=timeout,
            execution=execution,
            termination_message_path=termination_message_path,
        )
    except InputError as error:
        path = termination_path(env, termination_message_path)
        name = action if action is not None else env.get("KUBERNAUT_ACTION", "")
        _write_input_error(path, error, name, _dry_run_or_false(env, dry_run))
        print(f"kubernaut action run: error: {error}", file=err)
        return 2
    code, document = run(request, connect_client)
    print(document, file=out)
    return code


def _dry_run_or_false(env: Mapping[str, str], flag: bool | None) -> bool:
    if flag is not None:
        return flag
    try:
        return parse_dry_run(env.get("KUBERNAUT_DRY_RUN"))
    except InputError:
        return False


def _write_input_error(path: Path, error: InputError, action: str, dry_run: bool) -> None:
    report = ActionReport(str(error), success=False)
    _write(path, render(result_document(action, dry_run, report, timedelta(0))))


def _write(path: Path, text: str) -> None:
    try:
        # Written in place: the kubelet mounts the termination-message file itself.
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        _LOG.error("cannot write the result to %s: %s", path, err)
