"""Bundle loading, data merge, digest, atomic reload and the directory watcher."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from webhook.policy import (
    BundleLoadError,
    EmbeddedPolicyEngine,
    PolicyEvaluationError,
    PolicyWatcher,
    load_bundle,
)

POLICIES = Path(__file__).resolve().parents[3] / "policies"

ALLOW_V1 = 'package demo\n\nversion := "one"\n\ndeny contains "no" if input.bad\n'
ALLOW_V2 = 'package demo\n\nversion := "two"\n\ndeny contains "no" if input.bad\n'


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _failures() -> float:
    return REGISTRY.get_sample_value("kubernaut_policy_reload_failures_total") or 0.0


def test_shipped_bundle_loads_without_tests() -> None:
    bundle = load_bundle(POLICIES)
    assert "admission/admission.rego" in bundle.files
    assert "data/admission.json" in bundle.files
    assert not any(path.endswith("_test.rego") for path in bundle.files)
    assert bundle.config["maxReplicas"] == 50
    assert bundle.config["approval"]["approverGroups"] == ["kubernaut-approvers"]
    with_tests = load_bundle(POLICIES, include_tests=True)
    assert "admission/admission_test.rego" in with_tests.files
    assert with_tests.sha256 != bundle.sha256


def test_digest_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    _write(tmp_path / "a", "p.rego", ALLOW_V1)
    _write(tmp_path / "a", "data/x.json", '{"k": 1}')
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    first = load_bundle(tmp_path / "a")
    assert first.sha256 == load_bundle(tmp_path / "b").sha256
    _write(tmp_path / "b", "data/x.json", '{"k": 2}')
    assert load_bundle(tmp_path / "b").sha256 != first.sha256


def test_data_files_are_deep_merged(tmp_path: Path) -> None:
    _write(tmp_path, "p.rego", ALLOW_V1)
    _write(tmp_path, "data/a.json", '{"approval": {"groups": ["x"]}, "maxSteps": 3}')
    _write(tmp_path, "data/b.yaml", "approval:\n  threshold: 0.5\n")
    bundle = load_bundle(tmp_path)
    assert bundle.config == {"approval": {"groups": ["x"], "threshold": 0.5}, "maxSteps": 3}


def test_conflicting_data_is_a_load_error(tmp_path: Path) -> None:
    _write(tmp_path, "p.rego", ALLOW_V1)
    _write(tmp_path, "data/a.json", '{"approval": {"threshold": 0.8}}')
    _write(tmp_path, "data/b.json", '{"approval": {"threshold": 0.9}}')
    with pytest.raises(
        BundleLoadError,
        match=r"approval\.threshold is defined in both data/a\.json and data/b\.json",
    ):
        load_bundle(tmp_path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("data/a.json", "[1, 2]", "must hold an object, not list"),
        ("data/a.json", '{"a": ', r"data/a\.json:1:7: invalid JSON"),
        ("data/a.yaml", "a: [", r"data/a\.yaml: invalid YAML"),
    ],
)
def test_bad_data_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    _write(tmp_path, "p.rego", ALLOW_V1)
    _write(tmp_path, name, text)
    with pytest.raises(BundleLoadError, match=message):
        load_bundle(tmp_path)


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleLoadError, match="does not exist"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(BundleLoadError, match=r"holds no \.rego module"):
        load_bundle(tmp_path)


def test_configmap_layout_skips_hidden_directories(tmp_path: Path) -> None:
    real = tmp_path / "..2026_11_29_07_00_00.1"
    _write(real, "p.rego", ALLOW_V1)
    (tmp_path / "..data").symlink_to(real.name)
    (tmp_path / "p.rego").symlink_to("..data/p.rego")
    bundle = load_bundle(tmp_path)
    assert bundle.files == ("p.rego",)


def test_syntax_error_is_reported_with_location(tmp_path: Path) -> None:
    _write(tmp_path, "p.rego", "package demo\n\nx if {\n")
    with pytest.raises(BundleLoadError, match=r"p\.rego:4:1"):
        EmbeddedPolicyEngine(tmp_path)


def test_engine_without_bundle_is_not_ready(tmp_path: Path) -> None:
    engine = EmbeddedPolicyEngine(tmp_path, require_bundle=False)
    status = engine.status()
    assert not status.ready
    assert status.last_error is not None
    assert "no .rego module" in status.last_error


def test_reload_swaps_the_bundle(tmp_path: Path) -> None:
    _write(tmp_path, "p.rego", ALLOW_V1)
    engine = EmbeddedPolicyEngine(tmp_path)
    first = engine.status().bundle_sha256
    assert engine.evaluate("data.demo.version", {}) == "one"
    assert engine.reload() is False  # unchanged content: nothing to swap
    _write(tmp_path, "p.rego", ALLOW_V2)
    assert engine.reload() is True
    assert engine.evaluate("data.demo.version", {}) == "two"
    status = engine.status()
    assert status.bundle_sha256 != first
    assert status.bundle_sha256 is not None
    labels = {"sha256": status.bundle_sha256, "mode": engine.mode}
    assert REGISTRY.get_sample_value("kubernaut_policy_bundle_info", labels) == 1.0


def test_broken_bundle_never_replaces_the_serving_one(tmp_path: Path) -> None:
    _write(tmp_path, "p.rego", ALLOW_V1)
    engine = EmbeddedPolicyEngine(tmp_path)
    serving = engine.status().bundle_sha256
    before = _failures()
    _write(tmp_path, "p.rego", "package demo\n\nversion := \n")
    assert engine.reload() is False
    assert _failures() == before + 1
    assert engine.evaluate("data.demo.version", {}) == "one"
    status = engine.status()
    assert status.ready
    assert status.bundle_sha256 == serving
    assert status.last_error is not None
    assert "p.rego:4:1" in status.last_error
    assert "latest reload failed" in status.detail
    _write(tmp_path, "p.rego", ALLOW_V2)
    assert engine.reload() is True
    assert engine.last_error is None


def test_conflicting_data_on_reload_keeps_serving(tmp_path: Path) -> None:
    _write(tmp_path, "p.rego", ALLOW_V1)
    _write(tmp_path, "data/a.json", '{"k": 1}')
    engine = EmbeddedPolicyEngine(tmp_path)
    _write(tmp_path, "data/b.json", '{"k": 2}')
    assert engine.reload() is False
    assert engine.last_error is not None
    assert "conflicting data" in engine.last_error
    assert engine.evaluate("data.kubernaut.config.k", {}) == 1


def test_watcher_reloads_on_change(tmp_path: Path) -> None:
    _write(tmp_path, "p.rego", ALLOW_V1)
    engine = EmbeddedPolicyEngine(tmp_path)
    watcher = PolicyWatcher(engine, interval=1.0)
    assert watcher.check() is False
    _write(tmp_path, "p.rego", ALLOW_V2 + "\n")
    assert watcher.check() is True
    assert engine.evaluate("data.demo.version", {}) == "two"
    assert watcher.check() is False


def test_watcher_follows_configmap_symlink_swap(tmp_path: Path) -> None:
    first = tmp_path / "..v1"
    second = tmp_path / "..v2"
    _write(first, "p.rego", ALLOW_V1)
    _write(second, "p.rego", ALLOW_V2)
    original = (first / "p.rego").stat()
    os.utime(second / "p.rego", ns=(original.st_atime_ns, original.st_mtime_ns))  # same size too
    (tmp_path / "..data").symlink_to("..v1")
    (tmp_path / "p.rego").symlink_to("..data/p.rego")
    engine = EmbeddedPolicyEngine(tmp_path)
    watcher = PolicyWatcher(engine, interval=1.0)
    (tmp_path / "..data_tmp").symlink_to("..v2")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
    assert watcher.check() is True
    assert engine.evaluate("data.demo.version", {}) == "two"


def test_watcher_thread_starts_and_stops(tmp_path: Path) -> None:
    _write(tmp_path, "p.rego", ALLOW_V1)
    engine = EmbeddedPolicyEngine(tmp_path)
    watcher = PolicyWatcher(engine, interval=0.05)
    watcher.start()
    with pytest.raises(RuntimeError, match="already running"):
        watcher.start()
    _write(tmp_path, "p.rego", ALLOW_V2 + "\n\n")
    for _ in range(200):  # bounded wait for the watcher thread
        if engine.evaluate("data.demo.version", {}) == "two":
            break
        time.sleep(0.05)
    watcher.stop()
    assert engine.evaluate("data.demo.version", {}) == "two"


def test_runtime_error_is_a_policy_evaluation_error(tmp_path: Path) -> None:
    _write(tmp_path, "p.rego", "package demo\n\nratio := 10 / input.n\n")
    engine = EmbeddedPolicyEngine(tmp_path)
    with pytest.raises(
        PolicyEvaluationError, match=r"data\.demo\.ratio: p\.rego:3:\d+: divide by zero"
    ):
        engine.evaluate("data.demo.ratio", {"n": 0})
    assert engine.evaluate("data.demo.ratio", {"n": 5}) == 2
