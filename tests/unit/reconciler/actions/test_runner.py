"""Reading the request (environment and flags), dispatching, and the exit codes."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from api.parameters import ACTIONS, ScaleDeploymentParams
from reconciler.actions.client import ActionClient, ClusterConfigError
from reconciler.actions.runner import (
    DEFAULT_TERMINATION_MESSAGE_PATH,
    DEFAULT_TIMEOUT,
    InputError,
    RunRequest,
    execute,
    main,
    parse_dry_run,
    parse_request,
    termination_path,
)
from reconciler.kube import ApiError

SCALE = '{"namespace": "shop", "deployment": "web", "replicas": 3}'


def _env(**values: str) -> dict[str, str]:
    return {"KUBERNAUT_ACTION": "scaleDeployment", "KUBERNAUT_PARAMETERS": SCALE, **values}


def test_request_from_the_environment() -> None:
    request = parse_request(
        _env(
            KUBERNAUT_DRY_RUN="true",
            KUBERNAUT_TIMEOUT="90s",
            KUBERNAUT_TERMINATION_MESSAGE_PATH="/tmp/result",
            KUBERNAUT_EXECUTION="shop/ke-1",
        )
    )
    assert request == RunRequest(
        action="scaleDeployment",
        parameters=ScaleDeploymentParams(namespace="shop", deployment="web", replicas=3),
        dry_run=True,
        timeout=timedelta(seconds=90),
        termination_path=Path("/tmp/result"),
        execution="shop/ke-1",
    )


def test_defaults() -> None:
    request = parse_request(_env())
    assert request.dry_run is False
    assert request.timeout == DEFAULT_TIMEOUT
    assert request.termination_path == DEFAULT_TERMINATION_MESSAGE_PATH
    assert request.execution is None


def test_flags_override_the_environment() -> None:
    request = parse_request(
        _env(KUBERNAUT_DRY_RUN="false"),
        action="cordonNode",
        parameters='{"nodeName": "worker-1"}',
        dry_run=True,
        timeout="2m",
        termination_message_path="/tmp/other",
    )
    assert request.action == "cordonNode"
    assert request.dry_run is True
    assert request.timeout == timedelta(minutes=2)
    assert request.termination_path == Path("/tmp/other")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no action: set KUBERNAUT_ACTION"),
        (
            {"KUBERNAUT_ACTION": "explode"},
            "unknown action 'explode': expected one of scaleDeployment",
        ),
        ({"KUBERNAUT_ACTION": "scaleDeployment"}, "no parameters: set KUBERNAUT_PARAMETERS"),
        (_env(KUBERNAUT_PARAMETERS="{oops"), "KUBERNAUT_PARAMETERS is not valid JSON"),
        (
            _env(KUBERNAUT_PARAMETERS="[1]"),
            "must be a JSON object (the scaleDeployment block), got list",
        ),
        (
            _env(
                KUBERNAUT_PARAMETERS='{"namespace": "shop", "deployment": "web", "replicas": "3"}'
            ),
            "invalid scaleDeployment parameters: replicas: Input should be a valid integer",
        ),
        (
            _env(KUBERNAUT_PARAMETERS='{"namespace": "shop", "deployment": "web"}'),
            "replicas: Field required",
        ),
        (
            _env(
                KUBERNAUT_PARAMETERS='{"namespace": "shop", "deployment": "web", "replicas": 1,'
                ' "x": 1}'
            ),
            "x: unknown field",
        ),
        (
            _env(KUBERNAUT_PARAMETERS='{"namespace": "shop", "deployment": "web", "replicas": -1}'),
            "replicas: Input should be greater than or equal to 0",
        ),
        (_env(KUBERNAUT_DRY_RUN="maybe"), "KUBERNAUT_DRY_RUN: expected true or false, got 'maybe'"),
        (_env(KUBERNAUT_TIMEOUT="soon"), "KUBERNAUT_TIMEOUT: invalid duration 'soon'"),
    ],
)
def test_bad_input_is_explained(env: dict[str, str], message: str) -> None:
    with pytest.raises(InputError) as error:
        parse_request(env)
    assert message in str(error.value)


def test_snake_case_parameter_names_are_not_wire_names() -> None:
    with pytest.raises(InputError, match="allow_scale_to_zero: unknown field"):
        parse_request(_env(KUBERNAUT_PARAMETERS=SCALE[:-1] + ', "allow_scale_to_zero": true}'))


def test_restart_pod_needs_exactly_one_target() -> None:
    with pytest.raises(InputError, match="exactly one of podName and selector must be set"):
        parse_request(
            {"KUBERNAUT_ACTION": "restartPod", "KUBERNAUT_PARAMETERS": '{"namespace": "a"}'}
        )


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("", False), (None, False)],
)
def test_dry_run_values(text: str | None, value: bool) -> None:
    assert parse_dry_run(text) is value


def test_termination_path_precedence() -> None:
    env = {"KUBERNAUT_TERMINATION_MESSAGE_PATH": "/env"}
    assert termination_path(env, "/flag") == Path("/flag")
    assert termination_path(env) == Path("/env")
    assert termination_path({}) == DEFAULT_TERMINATION_MESSAGE_PATH


def test_every_action_has_a_runner() -> None:
    for action in ACTIONS:
        with pytest.raises(InputError) as error:
            parse_request({"KUBERNAUT_ACTION": action, "KUBERNAUT_PARAMETERS": "{}"})
        assert str(error.value).startswith(f"invalid {action} parameters: ")


def test_bad_input_writes_the_result_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "termination-log"
    out, err = io.StringIO(), io.StringIO()
    env = _env(KUBERNAUT_PARAMETERS="{}", KUBERNAUT_DRY_RUN="true")
    code = main(env, termination_message_path=str(path), out=out, err=err)
    assert code == 2
    document = json.loads(path.read_text())
    assert document["outcome"] == "failed"
    assert document["action"] == "scaleDeployment"
    assert document["dryRun"] is True
    assert "namespace: Field required" in document["result"]["message"]
    assert err.getvalue().startswith("kubernaut action run: error: invalid scaleDeployment")
    assert "Traceback" not in err.getvalue()


def test_no_cluster_configuration_exits_2_with_a_result(tmp_path: Path) -> None:
    path = tmp_path / "termination-log"

    def no_cluster() -> ActionClient:
        raise ClusterConfigError("no cluster configuration: not running in a pod")

    out = io.StringIO()
    code = main(_env(), connect_client=no_cluster, termination_message_path=str(path), out=out)
    assert code == 2
    document = json.loads(path.read_text())
    assert document["result"]["message"] == "no cluster configuration: not running in a pod"
    assert json.loads(out.getvalue()) == document


class _Failing:
    def __init__(self, error: ApiError) -> None:
        self.error = error

    def get(self, *args: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            ApiError(404, "NotFound", 'deployments.apps "web" not found'),
            'not found: deployments.apps "web" not found',
        ),
        (
            ApiError(403, "Forbidden", "cannot get deployments"),
            "not allowed: cannot get deployments (check the action's ServiceAccount RBAC)",
        ),
        (
            ApiError(0, "TransportError", "connection refused"),
            "cannot reach the API server: connection refused",
        ),
        (ApiError(500, "InternalError", "boom"), "500 InternalError: boom"),
    ],
)
def test_api_errors_become_failed_reports(error: ApiError, message: str) -> None:
    request = parse_request(_env())
    report = execute(request, cast(ActionClient, _Failing(error)))
    assert report.success is False
    assert report.message == message


def test_action_errors_become_failed_reports() -> None:
    request = parse_request(
        _env(KUBERNAUT_PARAMETERS='{"namespace": "shop", "deployment": "web", "replicas": 0}')
    )
    report = execute(request, cast(ActionClient, _Failing(ApiError(500, "X", "unused"))))
    assert report.success is False
    assert report.message == "scaling to 0 replicas needs allowScaleToZero: true"


class _Broken:
    def get(self, *args: Any) -> Any:
        return {"metadata": {}}  # no resourceVersion: the action trips over it


def test_an_unexpected_crash_still_gives_a_failed_report() -> None:
    report = execute(parse_request(_env()), cast(ActionClient, _Broken()))
    assert report.success is False
    assert report.message == "internal error: KeyError: 'resourceVersion'"
