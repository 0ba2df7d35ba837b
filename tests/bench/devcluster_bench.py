"""Throughput of devcluster over HTTP, measured from another process; prints numbers.

Starts ``kubernaut dev-cluster`` as a subprocess, then drives it with threads of
``http.client`` keep-alive connections: GETs/s, writes/s (create + merge patch),
watch fan-out to 10 watchers, the server's RSS holding 20,000 objects, and
last writes/s through a validating admission webhook (a trivial TLS webhook in
this process that allows everything: the cost is devcluster's admission path).
Run: ``.venv/bin/python tests/bench/devcluster_bench.py``.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from certs.files import ensure
from devcluster.runner import free_port

HEADERS = {"Authorization": "Bearer dev-admin", "Content-Type": "application/json"}
THREADS = 8


def _connection(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: object | None = None,
    content_type: str = "application/json",
) -> int:
    payload = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=payload, headers={**HEADERS, "Content-Type": content_type})
    response = conn.getresponse()
    response.read()
    return response.status


def _parallel(
    port: int, per_thread: int, work: Callable[[http.client.HTTPConnection, int, int], int]
) -> tuple[float, int]:
    failures = [0] * THREADS

    def run(thread: int) -> None:
        conn = _connection(port)
        for index in range(per_thread):
            if work(conn, thread, index) >= 400:
                failures[thread] += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return THREADS * per_thread / elapsed, sum(failures)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _watch_fanout(port: int, watchers: int, events: int) -> tuple[float, bool]:
    conn = _connection(port)
    _request(conn, "POST", "/api/v1/namespaces", {"metadata": {"name": "watched"}})
    conn.request("GET", "/api/v1/namespaces/watched/configmaps", headers=HEADERS)
    rv = json.loads(conn.getresponse().read())["metadata"]["resourceVersion"]
    received = [0] * watchers
    done = [0.0] * watchers
    ready = threading.Barrier(watchers + 1)

    def watch(index: int) -> None:
        wconn = _connection(port)
        wconn.request(
            "GET",
            f"/api/v1/namespaces/watched/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=60",
            headers=HEADERS,
        )
        response = wconn.getresponse()
        ready.wait()
        while received[index] < events:
            line = response.fp.readline()
            if not line:
                break
            if line.strip():
                received[index] += 1
        done[index] = time.perf_counter()
        wconn.close()

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(watchers)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    for index in range(events):
        _request(
            conn,
            "POST",
            "/api/v1/namespaces/watched/configmaps",
            {"metadata": {"name": f"w{index}"}},
        )
    writes_done = time.perf_counter()
    for t in threads:
        t.join(timeout=60)
    lag = max(done) - writes_done
    return lag, all(count == events for count in received) and started > 0


class _AllowAll(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the API server's webhook client expects

    def setup(self) -> None:
        # Headers and body go out in two writes: without this the body waits for the
        # client's delayed ACK (as uvicorn, which the real webhook uses, also avoids).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": review["request"]["uid"], "allowed": True},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


def _admitted_writes(port: int) -> tuple[float, int]:
    """Creates/s of configmaps that a validating webhook must allow first."""
    with tempfile.TemporaryDirectory(prefix="devcluster-bench-") as tmp:
        paths = ensure(Path(tmp), service="hook", namespace="default")
        hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AllowAll)
        hook.daemon_threads = True
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(paths.tls_cert, paths.tls_key)
        hook.socket = tls.wrap_socket(hook.socket, server_side=True)
        threading.Thread(target=hook.serve_forever, daemon=True).start()
        try:
            configuration = {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "bench"},
                "webhooks": [
                    {
                        "name": "allow.bench.example.com",
                        "admissionReviewVersions": ["v1"],
                        "sideEffects": "None",
                        "timeoutSeconds": 5,
                        "objectSelector": {"matchLabels": {"admitted": "yes"}},
                        "clientConfig": {
                            "url": f"https://localhost:{hook.server_address[1]}/validate",
                            "caBundle": base64.b64encode(paths.ca_cert.read_bytes()).decode(),
                        },
                        "rules": [
                            {
                                "apiGroups": [""],
                                "apiVersions": ["v1"],
                                "operations": ["CREATE"],
                                "resources": ["configmaps"],
                            }
                        ],
                    }
                ],
            }
            _request(
                _connection(port),
                "POST",
                "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                configuration,
            )
            return _parallel(
                port,
                200,
                lambda c, t, i: _request(
                    c,
                    "POST",
                    "/api/v1/namespaces/default/configmaps",
                    {"metadata": {"name": f"a-{t}-{i}", "labels": {"admitted": "yes"}}},
                ),
            )
        finally:
            hook.shutdown()
            hook.server_close()


def main() -> int:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubernaut",
            "dev-cluster",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
    )
    try:
        for _ in range(200):
            try:
                if _request(_connection(port), "GET", "/readyz") == 200:
                    break
            except OSError:
                time.sleep(0.05)
        conn = _connection(port)
        _request(
            conn,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"metadata": {"name": "target"}, "data": {"k": "v"}},
        )
        gets, get_failures = _parallel(
            port,
            1500,
            lambda c, _t, _i: _request(c, "GET", "/api/v1/namespaces/default/configmaps/target"),
        )
        print(
            f"GET /configmaps/NAME: {gets:,.0f} requests/s ({THREADS} threads, {get_failures} "
            "failures)"
        )
        creates, create_failures = _parallel(
            port,
            400,
            lambda c, t, i: _request(
                c,
                "POST",
                "/api/v1/namespaces/default/configmaps",
                {"metadata": {"name": f"b-{t}-{i}"}, "data": {"i": str(i)}},
            ),
        )
        print(f"POST create: {creates:,.0f} writes/s ({create_failures} failures)")
        patches, patch_failures = _parallel(
            port,
            400,
            lambda c, t, i: _request(
                c,
                "PATCH",
                f"/api/v1/namespaces/default/configmaps/b-{t}-{i}",
                {"data": {"p": "1"}},
                "application/merge-patch+json",
            ),
        )
        print(f"PATCH merge: {patches:,.0f} writes/s ({patch_failures} failures)")
        lag, complete = _watch_fanout(port, 10, 500)
        print(
            f"watch fan-out: 10 watchers x 500 events, all delivered={complete}, last event "
            f"seen {max(0.0, lag) * 1000:.0f} ms after the last write returned"
        )
        remaining = 20_000 - 1 - THREADS * 400 - 500
        fill, fill_failures = _parallel(
            port,
            remaining // THREADS,
            lambda c, t, i: _request(
                c,
                "POST",
                "/api/v1/namespaces/default/configmaps",
                {
                    "metadata": {"name": f"m-{t}-{i}", "labels": {"app": "bench"}},
                    "data": {"key": "value" * 4},
                },
            ),
        )
        print(
            f"filled to ~20,000 objects at {fill:,.0f} writes/s ({fill_failures} failures); "
            f"server RSS {_rss_mib(server.pid):.0f} MiB"
        )
        conn = _connection(port)
        started = time.perf_counter()
        conn.request("GET", "/api/v1/configmaps", headers=HEADERS)
        body = conn.getresponse().read()
        print(
            f"LIST all 20,000 configmaps: {len(json.loads(body)['items'])} items in "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )
        admitted, admitted_failures = _admitted_writes(port)
        print(
            f"POST create through a validating webhook: {admitted:,.0f} writes/s "
            f"({admitted_failures} failures)"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
