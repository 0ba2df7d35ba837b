"""``kubernaut dev-cluster``: kubeconfig output and ``--state`` persistence across restarts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from devcluster.runner import free_port

pytestmark = pytest.mark.integration


def _start(port: int, kubeconfig: Path, state: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "kubernaut",
        "dev-cluster",
        "--port",
        str(port),
        "--kubeconfig-out",
        str(kubeconfig),
        "--state",
        str(state),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError("dev-cluster did not become ready")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def test_state_survives_a_restart_and_kubeconfig_points_at_the_server(tmp_path: Path) -> None:
    port = free_port()
    kubeconfig, state = tmp_path / "kubeconfig", tmp_path / "state.json"
    process = _start(port, kubeconfig, state)
    try:
        document = yaml.safe_load(kubeconfig.read_text())
        assert document["clusters"][0]["cluster"]["server"] == f"http://127.0.0.1:{port}"
        assert document["users"][0]["user"]["token"] == "dev-admin"
        assert document["current-context"] == "devcluster"
        headers = {"Authorization": "Bearer dev-admin"}
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/namespaces/default/configmaps",
            headers=headers,
            json={"metadata": {"name": "kept"}, "data": {"a": "b"}},
        )
        assert created.status_code == 201
    finally:
        _stop(process)
    assert state.exists()
    process = _start(port, kubeconfig, state)
    try:
        restored = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/namespaces/default/configmaps/kept",
            headers={"Authorization": "Bearer dev-admin"},
        )
        assert restored.json()["data"] == {"a": "b"}
    finally:
        _stop(process)


def test_unreadable_state_file_is_a_one_line_error(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("[]")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubernaut",
            "dev-cluster",
            "--port",
            str(free_port()),
            "--state",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "is not a devcluster snapshot" in result.stderr
    assert "Traceback" not in result.stderr
