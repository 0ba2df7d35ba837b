"""Step actions and their typed parameter blocks (the wire contract's table).

``parameters`` is an object with exactly one key, equal to the step's
``action``: ``{"scaleDeployment": {"namespace": "shop", "deployment": "web",
"replicas": 5}}``. :class:`StepParameters` enforces "exactly one block";
:func:`check_parameters_match` enforces "the block matches the action" and is
called by every model that pairs an action with parameters.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, cast, get_args

from pydantic import Field, model_validator

from api.base import WireModel
from api.durations import Duration
from api.meta import Name

__all__ = [
    "ACTIONS",
    "Action",
    "CollectLogsParams",
    "CordonNodeParams",
    "CustomActionParams",
    "DeletePodParams",
    "DrainNodeParams",
    "RestartDeploymentParams",
    "RestartPodParams",
    "RollbackDeploymentParams",
    "ScaleDeploymentParams",
    "StepParameters",
    "UncordonNodeParams",
    "UpdateConfigMapParams",
    "UpdateImageParams",
    "check_parameters_match",
]

Action = Literal[
    "scaleDeployment",
    "restartDeployment",
    "rollbackDeployment",
    "updateImage",
    "restartPod",
    "deletePod",
    "updateConfigMap",
    "cordonNode",
    "uncordonNode",
    "drainNode",
    "collectLogs",
    "custom",
]
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)

_Namespace = Annotated[str, Field(min_length=1, max_length=63)]


class ScaleDeploymentParams(WireModel):
    namespace: _Namespace
    deployment: Name
    replicas: Annotated[int, Field(ge=0)]
    allow_scale_to_zero: bool = False
    """Scaling to zero replicas is refused unless this is true."""


class RestartDeploymentParams(WireModel):
    namespace: _Namespace
    deployment: Name
    grace_period: Duration | None = None


class RollbackDeploymentParams(WireModel):
    namespace: _Namespace
    deployment: Name
    revision: Annotated[int, Field(ge=0)] | None = None
    """Revision to roll back to; 0 or absent means the previous one."""


class UpdateImageParams(WireModel):
    namespace: _Namespace
    deployment: Name
    container: Annotated[str, Field(min_length=1)]
    new_image: Annotated[str, Field(min_length=1)]


class RestartPodParams(
    WireModel,
    json_schema_extra={
        "x-kubernetes-validations": [
            {
                "rule": "has(self.podName) != has(self.selector)",
                "message": "exactly one of podName and selector must be set",
            }
        ]
    },
):
    """Restart one pod by name, or every pod matching a label selector."""

    namespace: _Namespace
    pod_name: Name | None = None
    selector: Annotated[str, Field(min_length=1)] | None = None
    grace_period: Duration | None = None

    @model_validator(mode="after")
    def _one_target(self) -> RestartPodParams:
        if (self.pod_name is None) == (self.selector is None):
            raise ValueError("exactly one of podName and selector must be set")
        return self


class DeletePodParams(WireModel):
    namespace: _Namespace
    pod_name: Name
    grace_period: Duration | None = None


class UpdateConfigMapParams(WireModel):
    namespace: _Namespace
    name: Name
    data_updates: Annotated[dict[str, str | None], Field(min_length=1)]
    """Keys to set; a null value removes the key (what a recorded rollback uses)."""


class CordonNodeParams(WireModel):
    node_name: Name


class UncordonNodeParams(WireModel):
    node_name: Name


class DrainNodeParams(WireModel):
    node_name: Name
    grace_period: Duration | None = None
    ignore_daemon_sets: bool = True
    delete_local_data: bool = False
    timeout: Duration | None = None


class CollectLogsParams(WireModel):
    namespace: _Namespace
    pod_name: Name | None = None
    selector: Annotated[str, Field(min_length=1)] | None = None
    container: str | None = None
    tail_lines: Annotated[int, Field(ge=1)] | None = None
    since_seconds: Annotated[int, Field(ge=1)] | None = None


class CustomActionParams(WireModel):
    action_type: Annotated[str, Field(min_length=1)]
    config: dict[str, str] | None = None


class StepParameters(
    WireModel,
    json_schema_extra={"minProperties": 1, "maxProperties": 1},
):
    """Exactly one block, named after the step's action."""

    scale_deployment: ScaleDeploymentParams | None = None
    restart_deployment: RestartDeploymentParams | None = None
    rollback_deployment: RollbackDeploymentParams | None = None
    update_image: UpdateImageParams | None = None
    restart_pod: RestartPodParams | None = None
    delete_pod: DeletePodParams | None = None
    update_config_map: UpdateConfigMapParams | None = None
    cordon_node: CordonNodeParams | None = None
    uncordon_node: UncordonNodeParams | None = None
    drain_node: DrainNodeParams | None = None
    collect_logs: CollectLogsParams | None = None
    custom: CustomActionParams | None = None

    @property
    def blocks(self) -> list[Action]:
        """The actions whose blocks are populated (one, once validated), in ACTIONS order."""
        # Every field is a block, declared in ACTIONS order (checked below).
        return [_ACTION_OF[name] for name, block in self.__dict__.items() if block is not None]

    @property
    def action(self) -> Action:
        """The action whose block is populated."""
        (action,) = self.blocks
        return action

    @property
    def block(self) -> WireModel:
        """The populated block."""
        block = getattr(self, _FIELD_OF[self.action])
        assert isinstance(block, WireModel)
        return block

    @model_validator(mode="after")
    def _exactly_one_block(self) -> StepParameters:
        blocks = self.blocks
        if not blocks:
            raise ValueError(f"exactly one parameter block is required, one of: {_choices()}")
        if len(blocks) > 1:
            raise ValueError(
                f"exactly one parameter block is allowed, got {len(blocks)}: {', '.join(blocks)}"
            )
        return self


def check_parameters_match(action: str | None, parameters: StepParameters) -> StepParameters:
    """Raise ValueError unless the populated block is the one named by ``action``.

    ``action`` is None when the action itself failed validation; its own error
    is reported then and the pairing is not checked.
    """
    if action is None or _populated(parameters, action):
        return parameters  # validated parameters hold exactly one block: this one
    if parameters.action != action:
        raise ValueError(
            f"parameters block {parameters.action!r} does not match action {action!r}: "
            f"expected a {action!r} block"
        )
    return parameters


def _populated(parameters: StepParameters, action: str) -> bool:
    """Whether the block named ``action`` is populated (cheaper than ``parameters.action``)."""
    name = _FIELD_OF.get(cast(Action, action))
    return name is not None and getattr(parameters, name) is not None


def _choices() -> str:
    return ", ".join(ACTIONS)


# Python attribute name of each action's block (the wire name is the action), and back.
_FIELD_OF: Final[dict[Action, str]] = {
    action: next(
        name for name, field in StepParameters.model_fields.items() if field.alias == action
    )
    for action in ACTIONS
}
_ACTION_OF: Final[dict[str, Action]] = {name: action for action, name in _FIELD_OF.items()}
assert list(StepParameters.model_fields) == list(_ACTION_OF), "declare blocks in ACTIONS order"
