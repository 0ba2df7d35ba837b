"""custom: run an action provided by an installed package.

A package provides an action type by declaring an entry point in the group
:data:`ENTRY_POINT_GROUP`, named after the type::

    [project.entry-points."kubernaut.actions"]
    flushCache = "mycompany.kubernaut_actions:flush_cache"

The callable is called as ``action(client, config, dry_run)`` with the
runner's :class:`~reconciler.actions.client.ActionClient` (it must honour
``dry_run``: pass ``dry_run=True`` to every write), the step's ``config``
(a string map) and the dry-run flag. It returns a mapping of strings (the
result's ``customResult.output``) or None; an exception is the action's
failure, its message the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import Any, Final, Protocol

from api.parameters import CustomActionParams
from api.results import CustomExecutionResult
from reconciler.actions.base import ActionContext, ActionError, ActionReport

__all__ = ["ENTRY_POINT_GROUP", "EntryPointLookup", "find_action", "output_of", "run_custom"]

ENTRY_POINT_GROUP: Final = "kubernaut.actions"
CustomAction = Callable[..., object]


class _EntryPoint(Protocol):
    name: str

    def load(self) -> Any: ...


EntryPointLookup = Callable[[str], Iterable[_EntryPoint]]
"""Entry points of a group; :func:`importlib.metadata.entry_points` by default."""


def _installed(group: str) -> Iterable[_EntryPoint]:
    return metadata.entry_points(group=group)


def find_action(action_type: str, lookup: EntryPointLookup = _installed) -> CustomAction:
    """The callable registered for ``action_type``; :class:`ActionError` when there is none."""
    candidates = list(lookup(ENTRY_POINT_GROUP))
    matches = [entry for entry in candidates if entry.name == action_type]
    if not matches:
        known = ", ".join(sorted(entry.name for entry in candidates)) or "none installed"
        raise ActionError(
            f"unknown custom action type {action_type!r}: no entry point of that name in the"
            f" {ENTRY_POINT_GROUP!r} group (available: {known})"
        )
    try:
        loaded = matches[0].load()
    except Exception as err:  # a broken plugin is the action's failure, never a traceback
        raise ActionError(f"custom action type {action_type!r} could not be loaded: {err}") from err
    if not callable(loaded):
        raise ActionError(f"custom action type {action_type!r} is not callable")
    action: CustomAction = loaded
    return action


def output_of(action_type: str, returned: object) -> dict[str, str] | None:
    """Check what the custom action returned: a mapping of strings, or None."""
    if returned is None:
        return None
    if isinstance(returned, Mapping) and all(
        isinstance(key, str) and isinstance(value, str) for key, value in returned.items()
    ):
        return dict(returned)
    raise ActionError(
        f"custom action type {action_type!r} returned {type(returned).__name__},"
        " expected a mapping of strings to strings or None"
    )


def run_custom(
    context: ActionContext, params: CustomActionParams, lookup: EntryPointLookup = _installed
) -> ActionReport:
    action = find_action(params.action_type, lookup)
    try:
        returned = action(context.client, dict(params.config or {}), context.dry_run)
    except Exception as err:  # the plugin's failure is reported, with its message
        raise ActionError(f"custom action {params.action_type!r} failed: {err}") from err
    output = output_of(params.action_type, returned)
    return ActionReport(
        f"ran custom action {params.action_type!r}",
        typed=CustomExecutionResult(action_type=params.action_type, output=output),
    )
