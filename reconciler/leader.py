"""Leader election on a coordination.k8s.io Lease, with the `kubernetes` package's LeaseLock.

Only the leader reconciles. :class:`LeaderElector` runs the election in a
daemon thread and exposes :attr:`LeaderElector.leading`, an Event the
workers check before taking work: when the lease is lost the event is
cleared at once and ``on_lost`` runs (the command exits the process, as
controller-runtime does, so that a restarted process starts from a clean
cache).
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from kubernetes import client as k8s
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseSettings:
    name: str = "kubernaut-reconciler"
    namespace: str = "kubernaut-system"
    # Seconds, as client-go's defaults: 15 / 10 / 2.
    lease_duration: int = 15
    renew_deadline: int = 10
    retry_period: int = 2


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class LeaderElector:
    def __init__(
        self,
        api_client: k8s.ApiClient,
        settings: LeaseSettings,
        *,
        identity: str | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.identity = identity or default_identity()
        self.settings = settings
        self.leading = threading.Event()
        self.lost = threading.Event()
        self._on_lost = on_lost
        lock = LeaseLock(settings.name, settings.namespace, self.identity)
        lock.api_instance = k8s.CoordinationV1Api(api_client)
        self._config = electionconfig.Config(
            lock,
            settings.lease_duration,
            settings.renew_deadline,
            settings.retry_period,
            self._started,
            self._stopped,
        )
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)

    def _started(self) -> None:
        _log.info("became leader", extra={"identity": self.identity})
        self.leading.set()

    def _stopped(self) -> None:
        was_leading = self.leading.is_set()
        self.leading.clear()
        self.lost.set()
        _log.warning("leader lease lost", extra={"identity": self.identity})
        if was_leading and self._on_lost is not None:
            self._on_lost()

    def _run(self) -> None:
        try:
            leaderelection.LeaderElection(self._config).run()
        except Exception:
            _log.exception("leader election failed")
        finally:
            if not self.lost.is_set():
                self._stopped()

    def start(self) -> None:
        self._thread.start()
