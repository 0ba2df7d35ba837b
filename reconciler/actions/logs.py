"""collectLogs: read the log tail of one pod, or of every pod matching a selector.

The result's ``customResult`` (``actionType: collectLogs``) maps
``<pod>/<container>`` to the log text; the termination message keeps the end
of each log when they do not all fit. Without ``tailLines`` and
``sinceSeconds`` the last :data:`DEFAULT_TAIL_LINES` lines are read. The
container is the requested one, else the pod's
``kubectl.kubernetes.io/default-container``, else its first container.
A pod whose log cannot be read (not started yet) is a warning; the action
fails only when no log at all could be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from api.parameters import CollectLogsParams
from api.results import CustomExecutionResult
from reconciler.actions.base import ActionContext, ActionError, ActionReport
from reconciler.actions.client import PODS
from reconciler.kube import JSON, ApiError

__all__ = ["DEFAULT_TAIL_LINES", "choose_container", "run_collect_logs", "tail_and_since"]

DEFAULT_TAIL_LINES: Final = 100
DEFAULT_CONTAINER_ANNOTATION: Final = "kubectl.kubernetes.io/default-container"


def choose_container(pod: Mapping[str, Any], requested: str | None) -> str:
    """The container whose log is read; :class:`ActionError` when ``requested`` is not there."""
    spec = pod.get("spec", {})
    names = [str(c.get("name")) for c in spec.get("containers") or []]
    names += [str(c.get("name")) for c in spec.get("initContainers") or []]
    pod_name = f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']}"
    if requested is not None:
        if requested not in names:
            raise ActionError(
                f"pod {pod_name} has no container {requested!r}"
                f" (containers: {', '.join(names) or 'none'})"
            )
        return requested
    default = (pod["metadata"].get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
    if default in names:
        return str(default)
    if not names:
        raise ActionError(f"pod {pod_name} has no containers")
    return names[0]


def tail_and_since(params: CollectLogsParams) -> tuple[int | None, int | None]:
    """``(tailLines, sinceSeconds)`` to ask for; the default tail when neither is given."""
    if params.tail_lines is None and params.since_seconds is None:
        return DEFAULT_TAIL_LINES, None
    return params.tail_lines, params.since_seconds


def run_collect_logs(context: ActionContext, params: CollectLogsParams) -> ActionReport:
    namespace = params.namespace
    pods = _pods(context, params)
    tail_lines, since_seconds = tail_and_since(params)
    output: dict[str, str] = {}
    warnings: list[str] = []
    for pod in pods:
        name = pod["metadata"]["name"]
        container = choose_container(pod, params.container)
        try:
            text = context.client.read_log(
                namespace,
                name,
                container=container,
                tail_lines=tail_lines,
                since_seconds=since_seconds,
            )
        except ApiError as err:
            if err.status in {0, 401, 403} or err.status >= 500:
                raise
            warnings.append(f"no log for pod {namespace}/{name} container {container}: {err}")
            continue
        output[f"{name}/{container}"] = text
    if not output:
        raise ActionError(f"no log could be read in namespace {namespace}: " + "; ".join(warnings))
    return ActionReport(
        f"collected the logs of {len(output)} container(s) in namespace {namespace}",
        typed=CustomExecutionResult(action_type="collectLogs", output=output),
        warnings=warnings,
    )


def _pods(context: ActionContext, params: CollectLogsParams) -> list[JSON]:
    namespace = params.namespace
    if params.pod_name is not None and params.selector is not None:
        raise ActionError("set only one of podName and selector")
    if params.pod_name is not None:
        return [context.client.get(PODS, namespace, params.pod_name)]
    if params.selector is None:
        raise ActionError("one of podName and selector is required")
    pods: list[JSON] = (
        context.client.list(PODS, namespace, label_selector=params.selector).get("items") or []
    )
    if not pods:
        raise ActionError(f"no pods match {params.selector!r} in namespace {namespace}")
    return sorted(pods, key=lambda pod: str(pod["metadata"]["name"]))
