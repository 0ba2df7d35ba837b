"""``kubernaut dev-cluster``: controllers on by default, ``--no-controllers``, restarts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from devcluster.runner import free_port

pytestmark = pytest.mark.integration


class _Server:
    def __init__(self, tmp_path: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubernaut",
                "dev-cluster",
                "--port",
                str(self.port),
                "--log-level",
                "info",
                *extra,
            ],
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        assert self.process.stderr is not None
        for line in self.process.stderr:  # started (controllers included) once this is logged
            if b'"devcluster serving"' in line:
                return
        raise AssertionError("dev-cluster did not start")

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=10).json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return httpx.post(self.url + path, json=body, timeout=10).json()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=20) == 0


def _wait(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


JOB = "/apis/batch/v1/namespaces/default/jobs"
PODS = "/api/v1/namespaces/default/pods"


def _job(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
    }


def _complete(server: _Server, name: str) -> bool:
    conditions = server.get(f"{JOB}/{name}").get("status", {}).get("conditions") or []
    return any(c["type"] == "Complete" for c in conditions)


def _pods_of(server: _Server, name: str) -> list[str]:
    items = server.get(f"{PODS}?labelSelector=job-name%3D{name}")["items"]
    return [pod["metadata"]["name"] for pod in items]


def test_no_controllers_really_switches_them_off(tmp_path: Path) -> None:
    server = _Server(tmp_path, "--no-controllers")
    try:
        assert server.get("/api/v1/nodes")["items"] == []
    finally:
        server.stop()


def test_a_restarted_devcluster_does_not_rerun_finished_jobs(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    server = _Server(tmp_path, "--state", str(state))
    try:
        assert [n["metadata"]["name"] for n in server.get("/api/v1/nodes")["items"]] == [
            "devcluster-node"
        ]
        server.post(JOB, _job("once"))
        _wait(lambda: _complete(server, "once"), "job once completes")
    finally:
        server.stop()
    first_pods = json.loads(state.read_text())["objects"]
    assert sum(1 for o in first_pods if o["kind"] == "Pod") == 1
    server = _Server(tmp_path, "--state", str(state))
    try:
        server.post(JOB, _job("after"))
        _wait(lambda: _complete(server, "after"), "job after completes")
        assert len(_pods_of(server, "once")) == 1
    finally:
        server.stop()
