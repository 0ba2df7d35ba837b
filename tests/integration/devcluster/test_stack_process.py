"""The local stack with devcluster as its own ``kubernaut dev-cluster`` process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from devcluster.controllers import JobOptions
from devcluster.stack import OPERATOR_NAMESPACE, LocalStack, StackOptions

pytestmark = pytest.mark.integration


def _job(name: str) -> dict[str, object]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "run", "image": "x", "command": ["kubernaut"]}],
                }
            },
        },
    }


def _failed(job: dict[str, object]) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []  # type: ignore[attr-defined]
    return any(c.get("type") == "Failed" and c.get("status") == "True" for c in conditions)


def test_a_separate_devcluster_serves_the_stack_with_the_stacks_job_options(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "no-runners"
    empty.mkdir()
    options = StackOptions(
        work_dir=tmp_path / "stack",
        webhook=False,
        reconciler=False,
        audit=False,
        log_level="warning",
        jobs=JobOptions(runner_path=(empty,), default_outcome="fail"),
        devcluster_process=True,
    )
    with LocalStack.start(options) as stack:
        pid = stack.pids()["devcluster"]
        crds = stack.api.list_objects("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert "remediationrequests.kubernaut.ai" in {c["metadata"]["name"] for c in crds}
        namespaces = {n["metadata"]["name"] for n in stack.api.list_objects("", "v1", "namespaces")}
        assert OPERATOR_NAMESPACE in namespaces
        with pytest.raises(RuntimeError, match="devcluster runs as its own process"):
            _ = stack.cluster.store
        # "kubernaut" is only in the interpreter's directory, which simulated Jobs never search.
        stack.apply([_job("simulated")])
        deadline = time.monotonic() + 30
        while not any(_failed(j) for j in stack.api.list_objects("batch", "v1", "jobs", "default")):
            assert time.monotonic() < deadline, "the simulated Job did not fail"
            time.sleep(0.2)
    with pytest.raises(OSError):  # noqa: PT011 - gone: any "no such process" error
        Path(f"/proc/{pid}/status").read_text()


def test_dev_cluster_rejects_bad_controller_settings_in_one_line() -> None:
    for flag, value in (
        ("--job-concurrency", "0"),
        ("--bookmark-interval", "0"),
        ("--crashloop-interval", "-1"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "kubernaut", "dev-cluster", "--port", "0", flag, value],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert flag in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
