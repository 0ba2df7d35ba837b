"""updateConfigMap: merge ``dataUpdates`` into a ConfigMap's ``data``.

A value of null in ``dataUpdates`` removes the key; that is how the rollback
step removes the keys this update added (their previous value is null).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.parameters import UpdateConfigMapParams
from api.results import UpdateExecutionResult
from reconciler.actions.base import (
    ActionContext,
    ActionReport,
    Change,
    Rollback,
    affected,
    describe,
    retry_on_conflict,
)
from reconciler.actions.client import CONFIGMAPS

__all__ = ["ConfigMapPlan", "plan_update", "run_update_config_map"]


@dataclass(frozen=True, slots=True)
class ConfigMapPlan:
    changed: dict[str, str | None]
    """The keys whose value changes, with their new value (None: removed)."""
    previous: dict[str, str | None]
    """The same keys with their current value (None: absent), i.e. the rollback's updates."""


def plan_update(
    current_data: Mapping[str, str] | None, updates: Mapping[str, str | None]
) -> ConfigMapPlan:
    """Which keys actually change and what they were; unchanged keys are left out."""
    data = current_data or {}
    changed = {key: value for key, value in sorted(updates.items()) if data.get(key) != value}
    return ConfigMapPlan(changed, {key: data.get(key) for key in changed})


def run_update_config_map(context: ActionContext, params: UpdateConfigMapParams) -> ActionReport:
    client, namespace, name = context.client, params.namespace, params.name
    updates: Mapping[str, str | None] = params.data_updates

    def attempt() -> ConfigMapPlan:
        config_map = client.get(CONFIGMAPS, namespace, name)
        plan = plan_update(config_map.get("data"), updates)
        if plan.changed:
            patch = {
                "metadata": {"resourceVersion": config_map["metadata"]["resourceVersion"]},
                "data": plan.changed,
            }
            client.patch(CONFIGMAPS, namespace, name, patch, dry_run=context.dry_run)
        return plan

    plan = retry_on_conflict(attempt)
    keys = ", ".join(plan.changed)
    typed = UpdateExecutionResult(
        resource_type=CONFIGMAPS.kind,
        resource_name=name,
        namespace=namespace,
        update_type="config",
        previous_value=_summary(plan.previous) if plan.changed else None,
        new_value=_summary(plan.changed) if plan.changed else None,
    )
    if not plan.changed:
        return ActionReport(f"configmap {namespace}/{name} already has these values", typed=typed)
    resource = describe(CONFIGMAPS, namespace, name)
    return ActionReport(
        f"updated configmap {namespace}/{name}: {keys}",
        typed=typed,
        affected=[affected(CONFIGMAPS, namespace, name, "updated")],
        changes=[
            Change(resource, f"data[{key}]", plan.previous[key], value)
            for key, value in plan.changed.items()
        ],
        rollback=_rollback(namespace, name, plan.previous),
    )


def _rollback(namespace: str, name: str, previous: dict[str, str | None]) -> Rollback:
    # Built by hand: null values (remove the key) are part of this block's meaning.
    parameters: dict[str, Any] = {"namespace": namespace, "name": name, "dataUpdates": previous}
    return Rollback("updateConfigMap", parameters)


def _summary(values: Mapping[str, str | None]) -> str:
    return ", ".join(
        f"{key}={'(absent)' if value is None else value}" for key, value in values.items()
    )
