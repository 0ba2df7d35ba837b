"""Simulated controllers of the stand-in (Deployments with their ReplicaSets and pods, Jobs).

``DevCluster.start(controllers=ControllerOptions())`` runs them; each can be
switched off. They are in-process loops on the store's watch API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devcluster.auth import AuthConfig
from devcluster.controllers.deployments import DeploymentController
from devcluster.controllers.jobs import JobController, JobOptions
from devcluster.store import Store


@dataclass(frozen=True)
class ControllerOptions:
    deployments: bool = True
    jobs: bool = True
    crashloop_interval: float = 5.0
    job: JobOptions = field(default_factory=JobOptions)


class Controllers:
    """The running controllers; :meth:`stop` ends them all."""

    def __init__(
        self, store: Store, server_url: str, auth: AuthConfig, options: ControllerOptions
    ) -> None:
        self._running: list[DeploymentController | JobController] = []
        if options.deployments:
            self._running.append(
                DeploymentController(store, crashloop_interval=options.crashloop_interval)
            )
        if options.jobs:
            self._running.append(JobController(store, server_url, auth, options.job))

    def start(self) -> None:
        for controller in self._running:
            controller.start()

    def stop(self) -> None:
        for controller in reversed(self._running):
            controller.stop()


__all__ = ["ControllerOptions", "Controllers", "JobOptions"]
