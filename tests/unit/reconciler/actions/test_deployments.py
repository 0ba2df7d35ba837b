"""Deployment actions: rollback choice, image patch, selectors, and the executors on a fake."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest

from api.parameters import (
    RestartDeploymentParams,
    RollbackDeploymentParams,
    ScaleDeploymentParams,
    UpdateImageParams,
)
from api.results import RestartExecutionResult, ScaleExecutionResult, UpdateExecutionResult
from reconciler.actions.base import ActionError, Rollback
from reconciler.actions.client import DEPLOYMENTS
from reconciler.actions.deployments import (
    RESTARTED_AT_ANNOTATION,
    image_patch,
    plan_rollback,
    run_restart,
    run_rollback,
    run_scale,
    run_update_image,
)
from reconciler.actions.selectors import selector_string
from reconciler.kube import ApiError

UID = "dep-uid"


def _deployment(
    revision: int | None = 3, image: str = "web:3", replicas: int = 2
) -> dict[str, Any]:
    annotations = {"deployment.kubernetes.io/revision": str(revision)} if revision else {}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": UID,
            "resourceVersion": "7",
            "annotations": annotations,
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": _template(image),
        },
    }


def _template(image: str, hash_label: str | None = None) -> dict[str, Any]:
    labels = {"app": "web"}
    if hash_label:
        labels["pod-template-hash"] = hash_label
    return {
        "metadata": {"labels": labels},
        "spec": {
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [
                {"name": "sidecar", "image": "proxy:1"},
                {"name": "app", "image": image},
            ],
        },
    }


def _replicaset(
    revision: int, image: str, owner: str = UID, controller: bool = True
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"web-{revision}",
            "namespace": "shop",
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [
                {"kind": "Deployment", "name": "web", "uid": owner, "controller": controller}
            ],
        },
        "spec": {"template": _template(image, f"hash{revision}")},
    }


# ------------------------------------------------------------------ rollback plan


def test_rollback_goes_to_the_newest_older_revision() -> None:
    replicasets = [_replicaset(1, "web:1"), _replicaset(3, "web:3"), _replicaset(2, "web:2")]
    plan = plan_rollback(_deployment(), replicasets, None)
    assert (plan.current_revision, plan.target_revision) == (3, 2)
    assert plan.template == _template("web:2")
    assert "pod-template-hash" not in plan.template["metadata"]["labels"]


def test_rollback_revision_zero_means_previous() -> None:
    plan = plan_rollback(_deployment(), [_replicaset(1, "web:1"), _replicaset(3, "web:3")], 0)
    assert plan.target_revision == 1


def test_rollback_to_a_given_revision() -> None:
    replicasets = [_replicaset(n, f"web:{n}") for n in (1, 2, 3)]
    plan = plan_rollback(_deployment(), replicasets, 1)
    assert plan.target_revision == 1
    assert plan.template["spec"]["containers"][1]["image"] == "web:1"


def test_rollback_ignores_replicasets_of_other_owners() -> None:
    replicasets = [
        _replicaset(2, "other:2", owner="someone-else"),
        _replicaset(1, "web:1"),
        _replicaset(2, "web:2", controller=False),
        _replicaset(3, "web:3"),
    ]
    assert plan_rollback(_deployment(), replicasets, None).target_revision == 1


def test_rollback_without_annotation_uses_the_newest_replicaset_as_current() -> None:
    plan = plan_rollback(
        _deployment(revision=None), [_replicaset(4, "a"), _replicaset(5, "b")], None
    )
    assert (plan.current_revision, plan.target_revision) == (5, 4)


@pytest.mark.parametrize(
    ("replicasets", "revision", "message"),
    [
        (
            [_replicaset(3, "web:3")],
            None,
            "deployment shop/web has no revision before 3 to roll back to",
        ),
        (
            [_replicaset(1, "a"), _replicaset(3, "b")],
            2,
            "has no revision 2 (known revisions: 1, 3)",
        ),
        ([_replicaset(3, "b")], 3, "deployment shop/web is already at revision 3"),
    ],
)
def test_rollback_refusals(
    replicasets: list[dict[str, Any]], revision: int | None, message: str
) -> None:
    with pytest.raises(ActionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_rollback(_deployment(), replicasets, revision)


def test_rollback_without_history() -> None:
    with pytest.raises(ActionError, match="has no rollout history"):
        plan_rollback(_deployment(revision=None), [], None)


# --------------------------------------------------------------------- image patch


def test_image_patch_targets_the_named_container_and_tests_it() -> None:
    deployment = _deployment()
    ops, previous = image_patch(deployment, "app", "web:4")
    assert previous == "web:3"
    assert ops == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
        {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "app"},
        {"op": "add", "path": "/spec/template/spec/containers/1/image", "value": "web:4"},
    ]
    patched = jsonpatch.apply_patch(deployment, ops)
    assert [c["image"] for c in patched["spec"]["template"]["spec"]["containers"]] == [
        "proxy:1",
        "web:4",
    ]


def test_image_patch_of_an_init_container() -> None:
    ops, previous = image_patch(_deployment(), "init", "busybox:2")
    assert previous == "busybox"
    assert ops[-1]["path"] == "/spec/template/spec/initContainers/0/image"


def test_image_patch_fails_on_a_moved_container() -> None:
    deployment = _deployment()
    ops, _ = image_patch(deployment, "app", "web:4")
    moved = copy.deepcopy(deployment)
    moved["spec"]["template"]["spec"]["containers"].reverse()
    with pytest.raises(jsonpatch.JsonPatchTestFailed):
        jsonpatch.apply_patch(moved, ops)


def test_unknown_container_names_the_containers_there_are() -> None:
    with pytest.raises(ActionError) as error:
        image_patch(_deployment(), "db", "postgres:17")
    assert str(error.value) == (
        "deployment shop/web has no container 'db' (containers: sidecar, app, init)"
    )


# ----------------------------------------------------------------------- selectors


def test_selector_string() -> None:
    selector = {
        "matchLabels": {"tier": "front", "app": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "staging"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["a"]},
            {"key": "team", "operator": "Exists"},
        ],
    }
    assert selector_string(selector) == (
        "app=web,tier=front,env in (prod,staging),!canary,zone notin (a),team"
    )


def test_empty_selector_is_refused() -> None:
    with pytest.raises(ActionError, match="would match every pod"):
        selector_string({})


# ----------------------------------------------------------------------- executors


def test_scale_reports_previous_replicas_and_rollback(fake: Any, context: Any) -> None:
    fake.add("deployments", _deployment(replicas=2))
    report = run_scale(
        context(), ScaleDeploymentParams(namespace="shop", deployment="web", replicas=5)
    )
    assert report.typed == ScaleExecutionResult(
        previous_replicas=2, new_replicas=5, namespace="shop", deployment="web"
    )
    assert report.rollback == Rollback(
        "scaleDeployment",
        {"namespace": "shop", "deployment": "web", "replicas": 2, "allowScaleToZero": False},
    )
    (call,) = fake.writes()
    assert call[0:3] == ("patch", "deployments", "web")
    assert call[3]["spec"] == {"replicas": 5}
    assert call[5:] == ("scale", False)


def test_scale_to_the_current_count_changes_nothing(fake: Any, context: Any) -> None:
    fake.add("deployments", _deployment(replicas=3))
    report = run_scale(
        context(), ScaleDeploymentParams(namespace="shop", deployment="web", replicas=3)
    )
    assert report.success is True
    assert report.changes == []
    assert report.rollback is None
    assert fake.writes() == []


def test_scale_to_zero_needs_permission(fake: Any, context: Any) -> None:
    fake.add("deployments", _deployment(replicas=3))
    with pytest.raises(ActionError, match="allowScaleToZero"):
        run_scale(context(), ScaleDeploymentParams(namespace="shop", deployment="web", replicas=0))
    params = ScaleDeploymentParams(
        namespace="shop", deployment="web", replicas=0, allow_scale_to_zero=True
    )
    assert run_scale(context(), params).changes[0].after == 0


def test_scale_rereads_on_conflict(fake: Any, context: Any) -> None:
    fake.add("deployments", _deployment(replicas=2))
    original_patch = fake.patch
    conflicts = [ApiError(409, "Conflict", "the object has been modified")]

    def patch_once_conflicting(*args: Any, **kwargs: Any) -> Any:
        if conflicts:
            fake.add("deployments", _deployment(replicas=4))
            raise conflicts.pop()
        return original_patch(*args, **kwargs)

    fake.patch = patch_once_conflicting
    report = run_scale(
        context(), ScaleDeploymentParams(namespace="shop", deployment="web", replicas=5)
    )
    assert report.changes[0].before == 4


def test_dry_run_writes_with_dry_run(fake: Any, context: Any) -> None:
    fake.add("deployments", _deployment(replicas=2))
    run_scale(
        context(dry_run=True), ScaleDeploymentParams(namespace="shop", deployment="web", replicas=5)
    )
    assert fake.writes()[0][-1] is True
    assert fake.get(DEPLOYMENTS, "shop", "web")["spec"]["replicas"] == 2


def test_restart_sets_the_annotation_and_counts_pods(fake: Any, context: Any) -> None:
    fake.add("deployments", _deployment())
    for name in ("web-b", "web-a"):
        fake.add(
            "pods", {"metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"}}}
        )
    report = run_restart(context(), RestartDeploymentParams(namespace="shop", deployment="web"))
    annotations = fake.get(DEPLOYMENTS, "shop", "web")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert RESTARTED_AT_ANNOTATION in annotations
    assert report.typed == RestartExecutionResult(
        namespace="shop", pods_restarted=2, restarted_pods=["web-a", "web-b"]
    )
    assert report.rollback is None
    assert ("list", "pods", "shop", {"label_selector": "app=web"}) in fake.calls


def test_restart_of_a_paused_deployment_is_refused(fake: Any, context: Any) -> None:
    deployment = _deployment()
    deployment["spec"]["paused"] = True
    fake.add("deployments", deployment)
    with pytest.raises(ActionError, match="is paused"):
        run_restart(context(), RestartDeploymentParams(namespace="shop", deployment="web"))


def test_rollback_replaces_the_template(fake: Any, context: Any) -> None:
    fake.add("deployments", _deployment())
    for revision in (1, 2, 3):
        fake.add("replicasets", _replicaset(revision, f"web:{revision}"))
    report = run_rollback(context(), RollbackDeploymentParams(namespace="shop", deployment="web"))
    assert fake.get(DEPLOYMENTS, "shop", "web")["spec"]["template"] == _template("web:2")
    assert report.rollback == Rollback(
        "rollbackDeployment", {"namespace": "shop", "deployment": "web", "revision": 3}
    )
    assert isinstance(report.typed, UpdateExecutionResult)
    assert (report.typed.previous_value, report.typed.new_value) == ("revision 3", "revision 2")


def test_update_image_and_its_rollback(fake: Any, context: Any) -> None:
    fake.add("deployments", _deployment())
    params = UpdateImageParams(
        namespace="shop", deployment="web", container="app", new_image="web:4"
    )
    report = run_update_image(context(), params)
    containers = fake.get(DEPLOYMENTS, "shop", "web")["spec"]["template"]["spec"]["containers"]
    assert containers[1]["image"] == "web:4"
    assert report.rollback == Rollback(
        "updateImage",
        {"namespace": "shop", "deployment": "web", "container": "app", "newImage": "web:3"},
    )
    again = run_update_image(context(), params)
    assert again.changes == []
    assert again.rollback is None
