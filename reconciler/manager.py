"""Runs controllers: informers feed work queues, workers observe, decide and execute.

* One informer per (kind, namespace) shared by every controller that needs
  the kind; the caches are started and synced before any worker runs.
* Events on a controller's own kind enqueue the object; events on a kind it
  owns enqueue the controlling owner (ownerReference with ``controller: true``).
* Each controller has its own :class:`~reconciler.workqueue.WorkQueue` and
  ``workers`` threads; a key is never reconciled by two workers at once.
* A 409 on a write re-reads the object and decides again (a few times, then
  backoff); any other error requeues the key with its exponential backoff.
* With leader election, workers take work only while this process leads.
* :meth:`Manager.stop` stops taking work, lets in-flight reconciles finish and
  then stops the informers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from reconciler.cache import ObjectKey, controller_owner, key_of
from reconciler.controller import ClusterView, Controller
from reconciler.executor import (
    AuditRecorder,
    ChildRejectedError,
    ConflictError,
    EventSink,
    Executor,
    Outcome,
)
from reconciler.informer import EventType, Informer, InformerSettings
from reconciler.kube import ApiError, KubeClient, Resource
from reconciler.metrics import ReconcilerMetrics
from reconciler.workqueue import Backoff, ShutDownError, WorkQueue

JSON = dict[str, Any]
_log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class ManagerSettings:
    workers: int = 2
    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty means all namespaces."""
    resync_period: float = 300.0
    informer: InformerSettings = field(default_factory=InformerSettings)
    backoff: Backoff = field(default_factory=Backoff)
    sync_timeout: float = 60.0


class _Runner:
    """One controller's queue, executor and worker threads."""

    def __init__(self, controller: Controller[Any], executor: Executor, backoff: Backoff) -> None:
        self.controller = controller
        self.executor = executor
        self.queue: WorkQueue[ObjectKey] = WorkQueue(backoff)
        self.threads: list[threading.Thread] = []


class Manager:
    def __init__(
        self,
        client: KubeClient,
        controllers: Sequence[Controller[Any]],
        *,
        events: EventSink,
        audit: AuditRecorder | None = None,
        metrics: ReconcilerMetrics | None = None,
        settings: ManagerSettings | None = None,
        leading: threading.Event | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.settings = settings or ManagerSettings()
        # Without explicit metrics (tests, embedding) use a private registry, so
        # that several managers in one process never collide on metric names.
        self.metrics = metrics or ReconcilerMetrics(CollectorRegistry())
        self._clock = clock
        self._leading = leading
        self._stop = threading.Event()
        self._informers: dict[Resource, list[Informer]] = {}
        self._informer_threads: list[threading.Thread] = []
        self._runners: list[_Runner] = []
        for controller in controllers:
            executor = Executor(
                client,
                controller.resource,
                events=events,
                audit=audit,
                metrics=self.metrics,
                clock=clock,
            )
            runner = _Runner(controller, executor, self.settings.backoff)
            self._runners.append(runner)
            for resource in (controller.resource, *controller.owns, *controller.reads):
                self._informers_for(resource)
        self.view = ClusterView(
            client,
            {
                resource: [i.cache for i in informers]
                for resource, informers in self._informers.items()
            },
        )
        self._wire_handlers()

    # ----------------------------------------------------------------- wiring

    def _informers_for(self, resource: Resource) -> list[Informer]:
        if resource not in self._informers:
            namespaces: Sequence[str | None] = (
                self.settings.namespaces
                if resource.namespaced and self.settings.namespaces
                else (None,)
            )
            self._informers[resource] = [
                Informer(self.client, resource, namespace, settings=self.settings.informer)
                for namespace in namespaces
            ]
        return self._informers[resource]

    def _wire_handlers(self) -> None:
        for runner in self._runners:
            controller = runner.controller
            for informer in self._informers[controller.resource]:
                informer.add_handler(self._enqueue_self(runner))
            for owned in controller.owns:
                for informer in self._informers[owned]:
                    informer.add_handler(self._enqueue_owner(runner))

    @staticmethod
    def _enqueue_self(runner: _Runner) -> Callable[[EventType, JSON], None]:
        # A controller may name other objects of its kind that an event concerns
        # too (like controller-runtime's map functions): ``related_keys(obj)``.
        related = getattr(runner.controller, "related_keys", None)

        def handle(event_type: EventType, obj: JSON) -> None:
            if event_type != "DELETED":
                runner.queue.add(key_of(obj))
            if related is not None:
                for key in related(obj):
                    runner.queue.add(key)

        return handle

    @staticmethod
    def _enqueue_owner(runner: _Runner) -> Callable[[EventType, JSON], None]:
        kind = runner.controller.resource.kind
        api_version = runner.controller.resource.api_version

        def handle(event_type: EventType, obj: JSON) -> None:
            owner = controller_owner(obj)
            if owner and owner.get("kind") == kind and owner.get("apiVersion") == api_version:
                namespace = (obj.get("metadata") or {}).get("namespace") or ""
                runner.queue.add((namespace, owner["name"]))

        return handle

    # -------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start informers, wait for their first list, then start the workers."""
        for informers in self._informers.values():
            for informer in informers:
                thread = threading.Thread(
                    target=informer.run,
                    args=(self._stop,),
                    name=f"informer-{informer.resource.plural}-{informer.namespace or 'all'}",
                    daemon=True,
                )
                thread.start()
                self._informer_threads.append(thread)
        deadline = time.monotonic() + self.settings.sync_timeout
        for informers in self._informers.values():
            for informer in informers:
                if not informer.synced.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(
                        f"cache of {informer.resource.plural} did not sync within "
                        f"{self.settings.sync_timeout:.0f}s"
                    )
        for runner in self._runners:
            for index in range(self.settings.workers):
                thread = threading.Thread(
                    target=self._work,
                    args=(runner,),
                    name=f"{runner.controller.name}-worker-{index}",
                    daemon=True,
                )
                thread.start()
                runner.threads.append(thread)
        threading.Thread(target=self._resync_loop, name="resync", daemon=True).start()

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for informers in self._informers.values() for i in informers)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking work, let in-flight reconciles finish (up to ``timeout``), stop watching."""
        self._stop.set()
        for runner in self._runners:
            runner.queue.shutdown()
        deadline = time.monotonic() + timeout
        for runner in self._runners:
            for thread in runner.threads:
                thread.join(max(0.0, deadline - time.monotonic()))

    def _resync_loop(self) -> None:
        while not self._stop.wait(self.settings.resync_period):
            for informers in self._informers.values():
                for informer in informers:
                    informer.resync()

    def objects(self) -> list[JSON]:
        """Every cached object of the controllers' own kinds (for rebuilding the audit trail)."""
        return [
            obj
            for runner in self._runners
            for informer in self._informers[runner.controller.resource]
            for obj in informer.cache.list()
        ]

    def queue_depths(self) -> dict[str, int]:
        return {runner.controller.name: len(runner.queue) for runner in self._runners}

    # ---------------------------------------------------------------- workers

    def _work(self, runner: _Runner) -> None:
        name = runner.controller.name
        while not self._stop.is_set():
            if self._leading is not None and not self._leading.wait(timeout=0.5):
                continue
            try:
                key = runner.queue.get()
            except ShutDownError:
                return
            if key is None:
                continue
            try:
                self.metrics.queue_depth.labels(name).set(len(runner.queue))
                if self._leading is not None and not self._leading.is_set():
                    runner.queue.add(key)  # lost the lease meanwhile; leave it for the next leader
                    continue
                self._reconcile(runner, key)
            finally:
                runner.queue.done(key)

    def _reconcile(self, runner: _Runner, key: ObjectKey) -> None:
        controller = runner.controller
        namespace, name = key
        obj = self.view.get(controller.resource, namespace or None, name)
        if obj is None:
            runner.queue.forget(key)
            return
        started = time.perf_counter()
        result = "success"
        try:
            outcome = None
            for _ in range(MAX_CONFLICT_RETRIES):
                observed = controller.observe(obj, self.view)
                effects = controller.decide(obj, observed, self._clock())
                try:
                    outcome = runner.executor.apply(obj, effects)
                    break
                except ChildRejectedError as rejection:
                    outcome = self._child_rejected(runner, obj, rejection)
                    break
                except ConflictError:
                    result = "conflict"
                    fresh = self._reread(controller.resource, namespace, name)
                    if fresh is None:
                        runner.queue.forget(key)
                        return
                    obj = fresh
            if outcome is None:
                runner.queue.add_rate_limited(key)
                return
            runner.queue.forget(key)
            if outcome.requeue_after is not None and not outcome.deleted:
                result = "requeue" if result == "success" else result
                runner.queue.add_after(key, outcome.requeue_after)
        except Exception as err:
            result = "error"
            self.metrics.reconcile_errors.labels(controller.name).inc()
            delay = runner.queue.add_rate_limited(key)
            log = _log.warning if isinstance(err, ApiError) else _log.exception
            log(
                "reconcile failed, retrying in %.3fs: %s",
                delay,
                err,
                extra={"controller": controller.name, "object": f"{namespace}/{name}"},
            )
        finally:
            self.metrics.reconciles.labels(controller.name, result).inc()
            self.metrics.reconcile_seconds.labels(controller.name).observe(
                time.perf_counter() - started
            )

    def _child_rejected(self, runner: _Runner, obj: JSON, rejection: ChildRejectedError) -> Outcome:
        """Let the controller answer a child the API server refused for good (e.g. a policy).

        Retrying such a create can never succeed; a controller with
        ``child_rejected(obj, child, message, now) -> effects`` turns it into a
        failure with the server's message. Without the hook it is an error
        (retried with backoff), as any other.
        """
        handler = getattr(runner.controller, "child_rejected", None)
        if handler is None:
            raise rejection
        fresh = self._reread(runner.controller.resource, *key_of(obj)) or obj
        effects = handler(fresh, rejection.body, rejection.message, self._clock())
        return runner.executor.apply(fresh, effects)

    def _reread(self, resource: Resource, namespace: str, name: str) -> JSON | None:
        try:
            return self.client.get(resource, namespace or None, name)
        except ApiError as err:
            if err.not_found:
                return None
            raise
