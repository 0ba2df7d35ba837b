"""collectLogs container choice and defaults; custom actions from entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from api.parameters import CollectLogsParams, CustomActionParams
from api.results import CustomExecutionResult
from reconciler.actions.base import ActionError
from reconciler.actions.custom import ENTRY_POINT_GROUP, find_action, output_of, run_custom
from reconciler.actions.logs import (
    DEFAULT_TAIL_LINES,
    choose_container,
    run_collect_logs,
    tail_and_since,
)


def _pod(name: str = "web-1", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": {"app": "web"},
            "annotations": annotations or {},
        },
        "spec": {
            "containers": [{"name": "proxy"}, {"name": "app"}],
            "initContainers": [{"name": "init"}],
        },
    }


def test_container_choice() -> None:
    assert choose_container(_pod(), None) == "proxy"
    assert choose_container(_pod(), "init") == "init"
    annotated = _pod(annotations={"kubectl.kubernetes.io/default-container": "app"})
    assert choose_container(annotated, None) == "app"


def test_unknown_container_is_named() -> None:
    with pytest.raises(
        ActionError, match=r"pod shop/web-1 has no container 'db' \(containers: proxy, app, init\)"
    ):
        choose_container(_pod(), "db")


def test_default_tail() -> None:
    assert tail_and_since(CollectLogsParams(namespace="shop", pod_name="p")) == (
        DEFAULT_TAIL_LINES,
        None,
    )
    assert tail_and_since(CollectLogsParams(namespace="shop", pod_name="p", since_seconds=60)) == (
        None,
        60,
    )
    assert tail_and_since(CollectLogsParams(namespace="shop", pod_name="p", tail_lines=5)) == (
        5,
        None,
    )


def test_collect_logs_by_selector_skips_unreadable_pods(fake: Any, context: Any) -> None:
    fake.add("pods", _pod("web-1"))
    fake.add("pods", _pod("web-2"))
    fake.logs[("shop", "web-2")] = "started\nready\n"
    params = CollectLogsParams(namespace="shop", selector="app=web", container="app", tail_lines=2)
    report = run_collect_logs(context(), params)
    assert report.typed == CustomExecutionResult(
        action_type="collectLogs", output={"web-2/app": "started\nready\n"}
    )
    assert report.warnings == [
        "no log for pod shop/web-1 container app: 400 BadRequest:"
        " container of pod web-1 is waiting to start"
    ]
    assert (
        "log",
        "shop",
        "web-2",
        {"container": "app", "tail_lines": 2, "since_seconds": None},
    ) in fake.calls


def test_collect_logs_fails_when_nothing_was_read(fake: Any, context: Any) -> None:
    fake.add("pods", _pod("web-1"))
    with pytest.raises(ActionError, match="no log could be read in namespace shop"):
        run_collect_logs(context(), CollectLogsParams(namespace="shop", pod_name="web-1"))


def test_collect_logs_needs_one_target(context: Any) -> None:
    with pytest.raises(ActionError, match="one of podName and selector is required"):
        run_collect_logs(context(), CollectLogsParams(namespace="shop"))
    with pytest.raises(ActionError, match="set only one of podName and selector"):
        run_collect_logs(
            context(), CollectLogsParams(namespace="shop", pod_name="a", selector="b=c")
        )


def flush_cache(client: Any, config: dict[str, str], dry_run: bool) -> dict[str, str]:
    return {"flushed": config["cache"], "dryRun": str(dry_run).lower()}


def explode(client: Any, config: dict[str, str], dry_run: bool) -> None:
    raise RuntimeError("cache server unreachable")


def _lookup(*entries: EntryPoint) -> Any:
    def lookup(group: str) -> list[EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return list(entries)

    return lookup


def _entry(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{target}", group=ENTRY_POINT_GROUP)


def test_unknown_custom_action_names_the_group() -> None:
    with pytest.raises(ActionError) as error:
        find_action("reboot", _lookup(_entry("flushCache", "flush_cache")))
    assert str(error.value) == (
        "unknown custom action type 'reboot': no entry point of that name in the"
        " 'kubernaut.actions' group (available: flushCache)"
    )


def test_unloadable_custom_action() -> None:
    broken = EntryPoint(name="x", value="no_such_module_here:run", group=ENTRY_POINT_GROUP)
    with pytest.raises(ActionError, match="custom action type 'x' could not be loaded"):
        find_action("x", _lookup(broken))


def test_custom_action_runs_with_config_and_dry_run(context: Any) -> None:
    params = CustomActionParams(action_type="flushCache", config={"cache": "redis"})
    report = run_custom(context(dry_run=True), params, _lookup(_entry("flushCache", "flush_cache")))
    assert report.typed == CustomExecutionResult(
        action_type="flushCache", output={"flushed": "redis", "dryRun": "true"}
    )


def test_custom_action_failure_is_reported(context: Any) -> None:
    params = CustomActionParams(action_type="explode")
    with pytest.raises(
        ActionError, match="custom action 'explode' failed: cache server unreachable"
    ):
        run_custom(context(), params, _lookup(_entry("explode", "explode")))


def test_custom_output_must_be_strings() -> None:
    assert output_of("x", None) is None
    assert output_of("x", {"a": "b"}) == {"a": "b"}
    with pytest.raises(ActionError, match="returned dict, expected a mapping of strings"):
        output_of("x", {"a": 1})
    with pytest.raises(ActionError, match="returned list"):
        output_of("x", ["a"])
