"""The crash-loop simulation's pure rules: which pods crash, and when a restart clears it."""

from __future__ import annotations

from typing import Any

from devcluster.controllers import rollout
from devcluster.store import Store
from devcluster.tables import table

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:05:00Z"


def template(**annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "web"}, "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "web:1"}]},
    }


def replicaset(name: str, tmpl: dict[str, Any], *, cleared: bool = False) -> dict[str, Any]:
    annotations = {rollout.REVISION: "1"}
    if cleared:
        annotations[rollout.CRASHLOOP_CLEARED] = "true"
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"replicas": 2, "template": tmpl},
    }


def pod(rs_name: str, index: int, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"name": rollout.pod_name(rs_name, index), "annotations": annotations},
        "spec": {"nodeName": "n", "containers": [{"name": "app", "image": "web:1"}]},
    }


CRASH = {rollout.SIMULATE: rollout.CRASHLOOP}


def test_every_pod_crashes_without_a_limit() -> None:
    rs = replicaset("web-abc", template(**CRASH))
    assert rollout.pod_crashes(rs, pod("web-abc", 0, **CRASH))
    assert rollout.pod_crashes(rs, pod("web-abc", 3, **CRASH))


def test_only_the_first_n_pods_crash_with_crashloop_pods() -> None:
    annotations = {**CRASH, rollout.CRASHLOOP_PODS: "1"}
    rs = replicaset("web-abc", template(**annotations))
    assert rollout.pod_crashes(rs, pod("web-abc", 0, **annotations))
    assert not rollout.pod_crashes(rs, pod("web-abc", 1, **annotations))


def test_a_malformed_limit_means_every_pod() -> None:
    annotations = {**CRASH, rollout.CRASHLOOP_PODS: "some"}
    rs = replicaset("web-abc", template(**annotations))
    assert rollout.pod_crashes(rs, pod("web-abc", 5, **annotations))


def test_pods_without_the_simulation_or_of_a_cleared_replicaset_run() -> None:
    assert not rollout.pod_crashes(replicaset("web-abc", template()), pod("web-abc", 0))
    cleared = replicaset("web-abc", template(**CRASH), cleared=True)
    assert not rollout.pod_crashes(cleared, pod("web-abc", 0, **CRASH))


def test_pod_status_follows_the_given_crash_verdict_over_the_annotation() -> None:
    crashing_pod = pod("web-abc", 0, **CRASH)
    assert rollout.pod_ready({"status": rollout.pod_status(crashing_pod, NOW, crashing=False)})
    assert not rollout.pod_ready({"status": rollout.pod_status(crashing_pod, NOW)})
    assert not rollout.pod_ready(
        {"status": rollout.pod_status(pod("web-abc", 0), NOW, crashing=True)}
    )


def test_a_restart_of_a_crash_looping_template_clears_the_loop() -> None:
    before = replicaset("web-abc", template(**CRASH))
    restarted = template(**CRASH, **{rollout.RESTARTED_AT: LATER})
    assert rollout.clears_crashloop(restarted, before)


def test_a_second_restart_also_clears_it() -> None:
    before = replicaset("web-abc", template(**CRASH, **{rollout.RESTARTED_AT: NOW}))
    assert rollout.clears_crashloop(template(**CRASH, **{rollout.RESTARTED_AT: LATER}), before)


def test_other_template_changes_keep_the_loop_unless_already_cleared() -> None:
    changed = template(**CRASH)
    changed["spec"]["containers"][0]["image"] = "web:2"
    assert not rollout.clears_crashloop(changed, replicaset("web-abc", template(**CRASH)))
    cleared = replicaset("web-abc", template(**CRASH), cleared=True)
    assert rollout.clears_crashloop(changed, cleared)


def test_the_simulation_starts_when_it_newly_appears_or_on_the_first_replicaset() -> None:
    restarted = template(**CRASH, **{rollout.RESTARTED_AT: LATER})
    assert not rollout.clears_crashloop(restarted, None)
    assert not rollout.clears_crashloop(restarted, replicaset("web-abc", template()))
    assert not rollout.clears_crashloop(template(), replicaset("web-abc", template(**CRASH)))


def test_new_replicaset_carries_the_cleared_mark_only_when_asked() -> None:
    deployment = {
        "metadata": {"name": "web", "namespace": "shop", "uid": "d-1"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(),
        },
    }
    plain = rollout.new_replicaset(deployment, "abc", 1)
    marked = rollout.new_replicaset(deployment, "abc", 2, crashloop_cleared=True)
    assert rollout.CRASHLOOP_CLEARED not in plain["metadata"]["annotations"]
    assert marked["metadata"]["annotations"][rollout.CRASHLOOP_CLEARED] == "true"


def test_kubectl_get_pods_shows_crashloopbackoff_as_the_status() -> None:
    pods = Store().registry.lookup("", "v1", "pods")
    assert pods is not None
    crashing = pod("web-abc", 0, **CRASH)
    crashing["status"] = rollout.pod_status(crashing, NOW)
    running = pod("web-abc", 1)
    running["status"] = rollout.pod_status(running, NOW)
    printed = table(pods, [crashing, running], resource_version="1")
    status = [d["name"] for d in printed["columnDefinitions"]].index("Status")
    assert [row["cells"][status] for row in printed["rows"]] == ["CrashLoopBackOff", "Running"]
