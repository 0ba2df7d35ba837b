"""A real ``kubernaut webhook serve`` process on loopback, with development certificates."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from certs.files import CertificatePaths, generate

ROOT = Path(__file__).resolve().parents[3]
_START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class WebhookProcess:
    def __init__(self, certs: CertificatePaths, policies: Path, log: Path) -> None:
        self.certs = certs
        self.policies = policies
        self.port = free_port()
        self.metrics_port = free_port()
        self._log = log
        command = [
            sys.executable,
            "-m",
            "kubernaut",
            "webhook",
            "serve",
            "--cert-dir",
            str(certs.directory),
            "--policies",
            str(policies),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--metrics-port",
            str(self.metrics_port),
            "--log-format",
            "json",
        ]
        environment = {**os.environ, "KUBERNAUT_TEST_WEBHOOK": "1"}
        self._output = log.open("wb")
        self.process = subprocess.Popen(
            command, stdout=self._output, stderr=subprocess.STDOUT, env=environment, cwd=ROOT
        )
        self._wait_until_listening()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certs.ca_cert))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ssl_context(), timeout=10)

    def log(self) -> str:
        return self._log.read_text(errors="replace")

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the webhook exited early:\n{self.log()}")
            try:
                with self.client() as client:
                    if client.get("/healthz").status_code == 200:
                        return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the webhook did not start in time:\n{self.log()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._output.close()
        return int(self.process.returncode)


@pytest.fixture
def start_webhook(tmp_path: Path) -> Iterator[Callable[..., WebhookProcess]]:
    """Start webhooks with fresh certificates and a copy of ``policies/`` (or ``policies``)."""
    started: list[WebhookProcess] = []

    def start(policies: Path | None = None) -> WebhookProcess:
        index = len(started)
        certs = generate(
            tmp_path / f"certs-{index}", service="kubernaut-webhook", namespace="kubernaut-system"
        )
        if policies is None:
            policies = tmp_path / f"policies-{index}"
            shutil.copytree(ROOT / "policies", policies)
        webhook = WebhookProcess(certs, policies, tmp_path / f"webhook-{index}.log")
        started.append(webhook)
        return webhook

    yield start
    for webhook in started:
        webhook.stop()
