"""The reconciler process: assembles the runtime, the controllers and their dependencies.

``kubernaut reconciler run`` builds one :class:`Reconciler` from
:class:`ReconcilerOptions` and runs it until SIGTERM/SIGINT or until the
leader lease is lost:

* the kubernetes client (in-cluster config, else the kubeconfig);
* the policy engine on ``--policies`` (hot-reloaded) for preconditions,
  classification and the approval requirement;
* the audit trail: PostgreSQL at ``--audit-dsn``, else an embedded server,
  behind the batching writer; the trail of every object is rebuilt from its
  status at start-up and for objects whose events had to be dropped;
* the six controllers in one :class:`~reconciler.manager.Manager`;
* health (``/healthz``, ``/readyz``) and token-protected ``/metrics``.

Shutdown stops taking work, lets in-flight reconciles finish, then flushes the
Events and the audit trail.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from prometheus_client import REGISTRY

from reconciler.analysers.base import Analyser
from reconciler.analysers.catalog import CatalogAnalyser
from reconciler.analysers.http_analyser import HttpAnalyser
from reconciler.audit.runtime import AuditConfig, open_store
from reconciler.audit.writer import AuditWriter
from reconciler.audit_recorder import WriterAuditRecorder
from reconciler.controller import Controller
from reconciler.controllers.aianalysis import AIAnalysisController
from reconciler.controllers.ke_job import JobSettings
from reconciler.controllers.kubernetesexecution import (
    KubernetesExecutionController,
    KubernetesExecutionSettings,
)
from reconciler.controllers.notificationrequest import NotificationRequestController
from reconciler.controllers.remediationrequest import (
    RemediationRequestController,
    RemediationSettings,
)
from reconciler.controllers.signalprocessing import SignalProcessingController
from reconciler.controllers.workflowexecution import WorkflowExecutionController
from reconciler.events import EventRecorder
from reconciler.kube import KubeClient
from reconciler.leader import LeaderElector, LeaseSettings
from reconciler.manager import Manager, ManagerSettings
from reconciler.metrics import ReconcilerMetrics
from reconciler.serving import HealthServer, MetricsServer, TokenAuthorizer
from webhook.policy import EmbeddedPolicyEngine, PolicyWatcher

_log = logging.getLogger(__name__)

# How often the trail of objects whose audit events were dropped is rebuilt.
AUDIT_REBUILD_INTERVAL = 30.0


@dataclass(frozen=True)
class ReconcilerOptions:
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()
    workers: int = 2
    leader_elect: bool = False
    lease: LeaseSettings = field(default_factory=LeaseSettings)
    policies: Path = Path("policies")
    catalog: Path | None = None
    analyser_url: str | None = None
    audit: bool = True
    audit_dsn: str | None = None
    audit_data_dir: str | None = None
    action_image: str = "kubernaut:latest"
    retention: timedelta = timedelta(hours=24)
    bind_address: str = "0.0.0.0"  # noqa: S104 - probes and scrapes come from outside the pod
    health_port: int = 8080
    metrics_port: int = 9090
    metrics_auth: bool = True

    @property
    def catalog_path(self) -> Path:
        return self.catalog or self.policies / "data" / "workflow_catalog.json"


def api_client(options: ReconcilerOptions) -> k8s.ApiClient:
    """In-cluster configuration when running in a pod, else the kubeconfig."""
    if options.kubeconfig is None:
        try:
            k8s_config.load_incluster_config()  # type: ignore[no-untyped-call]
            return k8s.ApiClient()
        except k8s_config.ConfigException:
            pass
    return k8s_config.new_client_from_config(  # type: ignore[no-untyped-call,no-any-return]
        config_file=options.kubeconfig, context=options.context
    )


def build_analyser(options: ReconcilerOptions) -> Analyser:
    if options.analyser_url:
        return HttpAnalyser(options.analyser_url)
    return CatalogAnalyser.from_file(options.catalog_path)


def build_controllers(
    options: ReconcilerOptions,
    engine: EmbeddedPolicyEngine,
    audit: WriterAuditRecorder | None,
) -> list[Controller[Any]]:
    execution_settings = KubernetesExecutionSettings(job=JobSettings(image=options.action_image))
    return [
        RemediationRequestController(
            audit=audit, settings=RemediationSettings(retention=options.retention)
        ),
        SignalProcessingController(engine, audit=audit),
        AIAnalysisController(build_analyser(options), engine, audit=audit),
        WorkflowExecutionController(audit=audit),
        KubernetesExecutionController(engine, audit=audit, settings=execution_settings),
        NotificationRequestController(audit=audit),
    ]


class Reconciler:
    """One running reconciler process; :meth:`run` blocks until it is told to stop."""

    def __init__(self, options: ReconcilerOptions) -> None:
        self.options = options
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def run(self, *, install_signal_handlers: bool = True) -> int:
        options = self.options
        if install_signal_handlers:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: self.stop())
        with ExitStack() as stack:
            api = api_client(options)
            stack.callback(api.close)
            kube = KubeClient(api, user_agent="kubernaut-reconciler")
            engine = EmbeddedPolicyEngine(options.policies)
            stack.callback(engine.close)
            watcher = PolicyWatcher(engine)
            watcher.start()
            stack.callback(watcher.stop)
            audit = self._audit(stack) if options.audit else None
            events = EventRecorder(kube)
            stack.callback(events.close)
            metrics = ReconcilerMetrics()
            leader = self._leader(api) if options.leader_elect else None
            manager = Manager(
                kube,
                build_controllers(options, engine, audit),
                events=events,
                audit=audit,
                metrics=metrics,
                settings=ManagerSettings(workers=options.workers, namespaces=options.namespaces),
                leading=leader.leading if leader is not None else None,
            )
            self._serve(stack, kube, manager, engine, leader)
            if leader is not None:
                leader.start()
            manager.start()
            stack.callback(manager.stop)
            _log.info("reconciler started", extra={"workers": options.workers})
            if audit is not None:
                audit.rebuild_from(manager.objects(), only_dropped=False)
            while not self.stopping.wait(AUDIT_REBUILD_INTERVAL):
                if leader is not None and leader.lost.is_set():
                    _log.error("leader lease lost: exiting so a fresh process starts cleanly")
                    return 1
                if audit is not None:
                    audit.rebuild_from(manager.objects(), only_dropped=True)
            _log.info("stopping: finishing in-flight reconciles, flushing the audit trail")
        return 0

    def _audit(self, stack: ExitStack) -> WriterAuditRecorder:
        options = self.options
        config = AuditConfig.resolve(options.audit_dsn, options.audit_data_dir, os.environ)
        store = stack.enter_context(open_store(config))
        writer = AuditWriter(store)
        stack.callback(writer.close)
        return WriterAuditRecorder(writer)

    def _leader(self, api: k8s.ApiClient) -> LeaderElector:
        return LeaderElector(api, self.options.lease, on_lost=self.stop)

    def _serve(
        self,
        stack: ExitStack,
        kube: KubeClient,
        manager: Manager,
        engine: EmbeddedPolicyEngine,
        leader: LeaderElector | None,
    ) -> None:
        options = self.options

        def informers() -> tuple[bool, str]:
            return manager.synced, "caches synced" if manager.synced else "caches syncing"

        def policies() -> tuple[bool, str]:
            status = engine.status()
            return status.ready, status.detail

        def leadership() -> tuple[bool, str]:
            # A follower is ready (it serves as a hot standby), but says so.
            if leader is None:
                return True, "leader election off"
            return True, "leading" if leader.leading.is_set() else "standby"

        health = HealthServer(
            options.bind_address,
            options.health_port,
            {"informers": informers, "policies": policies, "leader": leadership},
        )
        health.start()
        stack.callback(health.stop)
        authorizer = TokenAuthorizer(kube) if options.metrics_auth else None
        metrics = MetricsServer(options.bind_address, options.metrics_port, REGISTRY, authorizer)
        metrics.start()
        stack.callback(metrics.stop)
