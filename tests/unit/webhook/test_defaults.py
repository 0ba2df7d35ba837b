"""Defaults fill only absent fields, the patch is exact, and mutation is idempotent."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhook.defaults import apply_policy_defaults, apply_static_defaults
from webhook.patch import PatchBuilder, apply_patch, pointer
from webhook.pipeline import AdmissionPipeline
from webhook.policy import EmbeddedPolicyEngine
from webhook.review import AdmissionRequest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples" / "valid").glob("*.yaml"))
NOW = datetime(2026, 11, 29, 7, 30, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pipeline() -> AdmissionPipeline:
    return AdmissionPipeline(EmbeddedPolicyEngine(ROOT / "policies"), clock=lambda: NOW)


def test_pointer_escapes_slash_and_tilde() -> None:
    assert pointer(("metadata", "annotations", "kubernaut.ai/approved-by")) == (
        "/metadata/annotations/kubernaut.ai~1approved-by"
    )
    assert pointer(("a~b", 0)) == "/a~0b/0"


def test_add_if_absent_never_replaces_and_never_creates_parents() -> None:
    builder = PatchBuilder({"spec": {"a": None, "list": [{"x": 1}]}})
    assert builder.add_if_absent(("spec", "a"), 5) is False  # an explicit null is a value
    assert builder.add_if_absent(("spec", "missing", "b"), 1) is False
    assert builder.add_if_absent(("spec", "list", "0", "y"), 2) is True
    assert builder.add_if_absent(("spec", "list", "1", "y"), 2) is False
    assert builder.add_if_absent(("spec", "list", "01", "y"), 2) is False
    assert builder.operations == [{"op": "add", "path": "/spec/list/0/y", "value": 2}]
    assert builder.document == {"spec": {"a": None, "list": [{"x": 1, "y": 2}]}}


def test_policy_defaults_are_applied_parent_first_and_never_override() -> None:
    builder = PatchBuilder({"spec": {"keep": "mine"}})
    added = apply_policy_defaults(
        builder,
        {
            "/spec/strategy/mode": "fast",
            "/spec/strategy": {"retries": 3},
            "/spec/keep": "theirs",
            "not-a-pointer": 1,
            "/spec/absent/deep": 1,
        },
    )
    assert added == 2
    assert builder.document == {
        "spec": {"keep": "mine", "strategy": {"retries": 3, "mode": "fast"}}
    }


def test_static_defaults_skip_an_object_that_does_not_parse() -> None:
    builder = PatchBuilder({"apiVersion": "kubernaut.ai/v1alpha1", "kind": "Nope", "spec": {}})
    assert apply_static_defaults(builder) == 0
    assert builder.operations == []


def test_the_patch_applied_by_the_api_server_gives_the_mutated_object(
    pipeline: AdmissionPipeline,
) -> None:
    for path in EXAMPLES:
        obj = yaml.safe_load(path.read_text())
        verdict = pipeline.mutate(_request(obj, "alice"))
        assert apply_patch(obj, list(verdict.patch)) == verdict.object, path.name


def _request(obj: dict[str, Any], user: str) -> AdmissionRequest:
    return AdmissionRequest.model_validate(
        {
            "uid": "u",
            "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": obj["kind"]},
            "resource": {"group": "kubernaut.ai", "version": "v1alpha1", "resource": "x"},
            "operation": "CREATE",
            "namespace": obj["metadata"]["namespace"],
            "name": obj["metadata"]["name"],
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
            "object": obj,
        }
    )


def _drop_optional(document: Any, choices: st.DataObject) -> Any:
    """Remove a random selection of fields the schema or the policies default."""
    optional = {
        "criticalStep",
        "maxRetries",
        "timeout",
        "allowScaleToZero",
        "required",
        "executionStrategy",
        "timeouts",
        "dryRun",
        "maxParallel",
        "retryPolicy",
        "annotations",
        "labels",
    }
    if isinstance(document, dict):
        return {
            key: _drop_optional(value, choices)
            for key, value in document.items()
            if key not in optional or not choices.draw(st.booleans())
        }
    if isinstance(document, list):
        return [_drop_optional(item, choices) for item in document]
    return document


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(EXAMPLES),
    environment=st.sampled_from(["production", "staging", "development", ""]),
    user=st.text(min_size=1, max_size=20),
    data=st.data(),
)
def test_mutation_is_idempotent_and_keeps_every_user_value(
    pipeline: AdmissionPipeline, path: Path, environment: str, user: str, data: st.DataObject
) -> None:
    obj = _drop_optional(yaml.safe_load(path.read_text()), data)
    if environment:
        obj["metadata"].setdefault("labels", {})["kubernaut.ai/environment"] = environment
    original = copy.deepcopy(obj)

    first = pipeline.mutate(_request(obj, user))
    assert obj == original, "the request's object is never modified in place"
    assert first.object is not None
    assert apply_patch(obj, list(first.patch)) == first.object
    for operation in first.patch:
        # Defaults only add; the creator stamp is the one value the webhook owns.
        assert operation["op"] == "add" or "created-by" in operation["path"], operation
    _assert_kept(original, first.object, ())
    second = pipeline.mutate(_request(dict(first.object), user))
    assert second.patch == ()
    assert json.loads(json.dumps(first.object)) == first.object


def _assert_kept(original: Any, mutated: Any, path: tuple[Any, ...]) -> None:
    """Every value of ``original`` is in ``mutated`` unchanged (the creator stamp aside)."""
    if path == ("metadata", "annotations", "kubernaut.ai/created-by"):
        return
    if isinstance(original, dict):
        assert isinstance(mutated, dict), path
        for key, value in original.items():
            assert key in mutated, (*path, key)
            _assert_kept(value, mutated[key], (*path, key))
    elif isinstance(original, list):
        assert isinstance(mutated, list), path
        assert len(original) == len(mutated), path
        for index, (before, after) in enumerate(zip(original, mutated, strict=True)):
            _assert_kept(before, after, (*path, index))
    else:
        assert original == mutated, path
        assert type(original) is type(mutated), path
