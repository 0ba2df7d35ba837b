"""cordonNode and uncordonNode: set or clear ``spec.unschedulable``.

The rollback is the opposite action, and only when this step changed the node.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.parameters import CordonNodeParams, UncordonNodeParams
from api.results import UpdateExecutionResult
from reconciler.actions.base import (
    ActionContext,
    ActionReport,
    Change,
    affected,
    describe,
    retry_on_conflict,
    rollback_of,
)
from reconciler.actions.client import NODES

__all__ = [
    "Schedulability",
    "run_cordon",
    "run_uncordon",
    "schedulability_change",
    "set_unschedulable",
]


@dataclass(frozen=True, slots=True)
class Schedulability:
    """``spec.unschedulable`` of a node before and after the step."""

    node: str
    before: bool
    after: bool

    @property
    def changed(self) -> bool:
        return self.before != self.after


def set_unschedulable(context: ActionContext, node: str, unschedulable: bool) -> Schedulability:
    """Cordon (True) or uncordon (False) a node; no write when it already is."""

    def attempt() -> bool:
        current = context.client.get(NODES, None, node)
        before = bool(current.get("spec", {}).get("unschedulable", False))
        if before != unschedulable:
            patch = {
                "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                # null removes the field, as kubectl uncordon leaves it.
                "spec": {"unschedulable": True if unschedulable else None},
            }
            context.client.patch(NODES, None, node, patch, dry_run=context.dry_run)
        return before

    return Schedulability(node, retry_on_conflict(attempt), unschedulable)


def run_cordon(context: ActionContext, params: CordonNodeParams) -> ActionReport:
    return _report(set_unschedulable(context, params.node_name, True))


def run_uncordon(context: ActionContext, params: UncordonNodeParams) -> ActionReport:
    return _report(set_unschedulable(context, params.node_name, False))


def schedulability_change(state: Schedulability) -> Change:
    return Change(
        describe(NODES, None, state.node), "spec.unschedulable", state.before, state.after
    )


def _report(state: Schedulability) -> ActionReport:
    verb = "cordoned" if state.after else "uncordoned"
    typed = UpdateExecutionResult(
        resource_type=NODES.kind,
        resource_name=state.node,
        update_type="node",
        previous_value=_word(state.before),
        new_value=_word(state.after),
    )
    if not state.changed:
        return ActionReport(f"node {state.node} is already {verb}", typed=typed)
    rollback = (
        rollback_of("uncordonNode", UncordonNodeParams(node_name=state.node))
        if state.after
        else rollback_of("cordonNode", CordonNodeParams(node_name=state.node))
    )
    return ActionReport(
        f"{verb} node {state.node}",
        typed=typed,
        affected=[affected(NODES, None, state.node, verb)],
        changes=[schedulability_change(state)],
        rollback=rollback,
    )


def _word(unschedulable: bool) -> str:
    return "unschedulable" if unschedulable else "schedulable"
