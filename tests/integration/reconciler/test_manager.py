"""The controller runtime against devcluster through the real kubernetes client.

A small controller walks NotificationRequests through Pending -> Sending ->
Sent, one phase move per reconcile, so every object needs several reconciles
driven by its own watch events. The tests then make the API hostile: writes
that race with the controller (409 on every stale status write), watch
streams dropped mid-run, a watch history so short that resuming answers 410
Gone, and a follower that must not reconcile while another process leads.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config
from prometheus_client import CollectorRegistry

from devcluster.runner import DevCluster
from reconciler.controller import ClusterView
from reconciler.effects import Effect
from reconciler.informer import InformerSettings
from reconciler.kube import ApiError, KubeClient, Resource
from reconciler.leader import LeaderElector, LeaseSettings
from reconciler.manager import Manager, ManagerSettings
from reconciler.metrics import ReconcilerMetrics
from reconciler.transitions import current_phase, move_to

pytestmark = pytest.mark.integration

JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parents[3]
NOTIFICATIONS = Resource("kubernaut.ai", "v1alpha1", "notificationrequests", "NotificationRequest")
CRDS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False)
NEXT = {None: "Pending", "Pending": "Sending", "Sending": "Sent"}


class StepwiseController:
    """Moves one phase per reconcile until Sent; counts its reconciles."""

    name = "stepwise"
    resource = NOTIFICATIONS
    owns: Sequence[Resource] = ()
    reads: Sequence[Resource] = ()

    def __init__(self) -> None:
        self.reconciles = 0
        self._lock = threading.Lock()

    def observe(self, obj: JSON, view: ClusterView) -> None:
        with self._lock:
            self.reconciles += 1

    def decide(self, obj: JSON, observed: None, now: datetime) -> list[Effect]:
        phase = current_phase(obj)
        if phase not in NEXT:
            return []
        return move_to(obj, NEXT[phase], reason="Step", now=now)


class Events:
    def record(self, obj: JSON, event_type: Any, reason: str, message: str) -> None:
        return


def _notification(name: str) -> JSON:
    template = yaml.safe_load((ROOT / "examples/valid/notificationrequest.yaml").read_text())
    body: JSON = copy.deepcopy(template)
    body["metadata"] = {"name": name, "namespace": "ops"}
    return body


def _start(kubeconfig: Path, watch_history: int) -> tuple[DevCluster, KubeClient]:
    cluster = DevCluster.start(
        kubeconfig=kubeconfig, bookmark_interval=0.2, watch_history=watch_history, webhooks=False
    )
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    kube = KubeClient(api)
    crd = yaml.safe_load(
        (ROOT / "charts/kubernaut/crds/notificationrequests.kubernaut.ai.yaml").read_text()
    )
    kube.create(CRDS, None, crd)
    kube.create(
        NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ops"}}
    )
    return cluster, kube


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[DevCluster, KubeClient]]:
    running, kube = _start(tmp_path / "kubeconfig", watch_history=10_000)
    yield running, kube
    running.stop()


def _manager(
    kube: KubeClient, controller: StepwiseController, leading: threading.Event | None = None
) -> Manager:
    settings = ManagerSettings(
        workers=2,
        informer=InformerSettings(watch_timeout_seconds=5, read_timeout=3.0),
        sync_timeout=10,
    )
    return Manager(
        kube,
        [controller],
        events=Events(),
        metrics=ReconcilerMetrics(CollectorRegistry()),
        settings=settings,
        leading=leading,
    )


def _wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _phases(kube: KubeClient) -> dict[str, str | None]:
    items = kube.list(NOTIFICATIONS, "ops")["items"]
    return {item["metadata"]["name"]: current_phase(item) for item in items}


def _all_sent(kube: KubeClient, count: int) -> Callable[[], bool]:
    def check() -> bool:
        phases = _phases(kube)
        return len(phases) == count and set(phases.values()) == {"Sent"}

    return check


def test_every_object_walks_its_phases_with_a_transition_per_move(
    cluster: tuple[DevCluster, KubeClient],
) -> None:
    _, kube = cluster
    controller = StepwiseController()
    manager = _manager(kube, controller)
    manager.start()
    try:
        for index in range(20):
            kube.create(NOTIFICATIONS, "ops", _notification(f"n{index}"))
        _wait_for(_all_sent(kube, 20))
    finally:
        manager.stop()
    for item in kube.list(NOTIFICATIONS, "ops")["items"]:
        history = [(t["phase"], t["index"]) for t in item["status"]["transitions"]]
        assert history == [("Pending", 0), ("Sending", 1), ("Sent", 2)]


def test_conflicting_writers_never_lose_a_transition(
    cluster: tuple[DevCluster, KubeClient],
) -> None:
    """Kubernetes optimistic concurrency: a stale write gets 409; the runtime re-reads."""
    _, kube = cluster
    for index in range(10):
        kube.create(NOTIFICATIONS, "ops", _notification(f"c{index}"))
    stop = threading.Event()

    def meddle() -> None:
        # Bump every object's resourceVersion as fast as possible: most status
        # writes the controller prepared from its cache are now stale.
        round_ = 0
        while not stop.is_set():
            round_ += 1
            for index in range(10):
                with contextlib.suppress(ApiError):
                    kube.patch(
                        NOTIFICATIONS,
                        "ops",
                        f"c{index}",
                        {"metadata": {"labels": {"round": str(round_)}}},
                    )

    meddler = threading.Thread(target=meddle)
    meddler.start()
    controller = StepwiseController()
    manager = _manager(kube, controller)
    manager.start()
    try:
        _wait_for(_all_sent(kube, 10))
    finally:
        stop.set()
        meddler.join()
        manager.stop()
    conflicts = manager.metrics.reconciles.labels("stepwise", "conflict")._value.get()
    assert conflicts > 0, "the meddler should have caused at least one 409"
    for item in kube.list(NOTIFICATIONS, "ops")["items"]:
        assert [t["phase"] for t in item["status"]["transitions"]] == [
            "Pending",
            "Sending",
            "Sent",
        ]


def test_dropped_watches_lose_no_progress(cluster: tuple[DevCluster, KubeClient]) -> None:
    running, kube = cluster
    controller = StepwiseController()
    manager = _manager(kube, controller)
    manager.start()
    try:
        for index in range(30):
            kube.create(NOTIFICATIONS, "ops", _notification(f"d{index}"))
            if index % 5 == 0:
                running.store.drop_watches()
        _wait_for(_all_sent(kube, 30))
    finally:
        manager.stop()


class _RacingClient(KubeClient):
    """Writes more objects than the server's watch history holds right after the first list."""

    def __init__(self, api: Any, writer: KubeClient) -> None:
        super().__init__(api)
        self._writer = writer
        self.lists = 0

    def list(self, resource: Resource, namespace: str | None = None, **kwargs: Any) -> JSON:
        listing = super().list(resource, namespace, **kwargs)
        self.lists += 1
        if self.lists == 1:
            for index in range(8):
                self._writer.create(NOTIFICATIONS, "ops", _notification(f"g{index}"))
        return listing


def test_an_expired_resource_version_makes_the_informer_list_again(tmp_path: Path) -> None:
    """A watch from a resourceVersion older than the server's history answers 410 Gone."""
    running, kube = _start(tmp_path / "kubeconfig", watch_history=3)
    assert running.kubeconfig is not None
    try:
        api = config.new_client_from_config(config_file=str(running.kubeconfig))  # type: ignore[no-untyped-call]
        racing = _RacingClient(api, kube)
        controller = StepwiseController()
        manager = _manager(racing, controller)
        manager.start()
        informer = manager._informers[NOTIFICATIONS][0]
        try:
            _wait_for(_all_sent(kube, 8))
        finally:
            manager.stop()
        assert informer.relists >= 2, "the 410 must have led to a second list"
    finally:
        running.stop()


def test_only_the_leader_reconciles(cluster: tuple[DevCluster, KubeClient], tmp_path: Path) -> None:
    running, kube = cluster
    assert running.kubeconfig is not None
    lease = LeaseSettings(
        name="test-lease", namespace="ops", lease_duration=3, renew_deadline=2, retry_period=1
    )

    def elector(identity: str) -> LeaderElector:
        api = config.new_client_from_config(config_file=str(running.kubeconfig))  # type: ignore[no-untyped-call]
        candidate = LeaderElector(api, lease, identity=identity)
        candidate.start()
        return candidate

    leader = elector("first")
    _wait_for(leader.leading.is_set, timeout=15)
    follower = elector("second")
    leading_controller, following_controller = StepwiseController(), StepwiseController()
    leading_manager = _manager(kube, leading_controller, leader.leading)
    following_manager = _manager(kube, following_controller, follower.leading)
    following_manager.start()
    leading_manager.start()
    try:
        for index in range(5):
            kube.create(NOTIFICATIONS, "ops", _notification(f"l{index}"))
        _wait_for(_all_sent(kube, 5))
        time.sleep(1.5)  # a renewal period: the lease stays with the first candidate
    finally:
        leading_manager.stop()
        following_manager.stop()
    assert not follower.leading.is_set()
    assert following_controller.reconciles == 0
    assert leading_controller.reconciles >= 15
    lease_object = k8s.CoordinationV1Api(
        config.new_client_from_config(config_file=str(running.kubeconfig))  # type: ignore[no-untyped-call]
    ).read_namespaced_lease("test-lease", "ops")
    assert lease_object.spec is not None
    assert lease_object.spec.holder_identity == "first"
