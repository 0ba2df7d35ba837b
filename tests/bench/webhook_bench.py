"""Admission webhook benchmark (a script, not a test): prints numbers.

    .venv/bin/python tests/bench/webhook_bench.py pipeline [--duration 5] [--profile]
    .venv/bin/python tests/bench/webhook_bench.py http [--duration 10] [--connections 32]

``pipeline``: the pipeline alone (no HTTP) on one core, a 10-step
WorkflowExecution CREATE review through /validate and /mutate: throughput,
latency percentiles and CPU time per review (steadier than throughput on a
shared machine). ``--profile`` then prints, per endpoint, where the time goes
(cProfile, the functions with the most time of their own).

``http``: a webhook server in a child process (one worker, TLS, keep-alive)
with an extra ``/echo`` route that only reads the body and returns a fixed
review (benchmark instance only), driven from another process: closed loop
with ``wrk`` (32 connections, Lua body script) against /validate and /echo,
then an open loop at half the measured maximum rate (a Python load generator
that sends on a fixed schedule and measures from the scheduled time, so
queueing delay counts), and the worker's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import cProfile
import functools
import json
import os
import pstats
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STEPS = 10


def workflow_review(steps: int = STEPS) -> dict[str, Any]:
    import yaml

    obj = yaml.safe_load((ROOT / "examples/valid/workflowexecution.yaml").read_text())
    template = obj["spec"]["workflowDefinition"]["steps"]
    generated = []
    for number in range(1, steps + 1):
        step = copy.deepcopy(template[(number - 1) % len(template)])
        step["stepNumber"] = number
        step["name"] = f"step-{number}"
        step["dependsOn"] = [number - 1] if number > 1 else []
        if not step["dependsOn"]:
            del step["dependsOn"]
        generated.append(step)
    obj["spec"]["workflowDefinition"]["steps"] = generated
    obj["metadata"]["annotations"] = {"kubernaut.ai/created-by": "alice"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "bench-0000",
            "kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "WorkflowExecution"},
            "resource": {
                "group": "kubernaut.ai",
                "version": "v1alpha1",
                "resource": "workflowexecutions",
            },
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
        },
    }


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    worst = ordered[-1] * 1000
    return f"p50 {at(0.5):.3f} ms, p90 {at(0.9):.3f} ms, p99 {at(0.99):.3f} ms, max {worst:.3f} ms"


# -- pipeline alone -----------------------------------------------------------------


def bench_pipeline(seconds: float, profile: bool) -> None:
    from webhook.handler import handle
    from webhook.pipeline import AdmissionPipeline, Endpoint
    from webhook.policy import EmbeddedPolicyEngine

    pipeline = AdmissionPipeline(EmbeddedPolicyEngine(ROOT / "policies"))
    body = json.dumps(workflow_review()).encode()
    print(f"review body: {len(body)} bytes, {STEPS} steps")
    for endpoint in (Endpoint.VALIDATE, Endpoint.MUTATE):
        answer = handle(pipeline, endpoint, body)
        assert answer.status_code == 200
        allowed = json.loads(answer.body)["response"]["allowed"]
        assert allowed, answer.body
        for _ in range(200):
            handle(pipeline, endpoint, body)
        samples = []
        started = time.perf_counter()
        cpu_started = time.process_time()
        while time.perf_counter() - started < seconds:
            begin = time.perf_counter()
            handle(pipeline, endpoint, body)
            samples.append(time.perf_counter() - begin)
        elapsed = time.perf_counter() - started
        cpu = (time.process_time() - cpu_started) / len(samples)
        print(
            f"pipeline /{endpoint.value}: {len(samples) / elapsed:,.0f} reviews/s on one core; "
            f"{_percentiles(samples)}; CPU {cpu * 1e6:.0f} µs per review"
        )
    if profile:
        for endpoint in (Endpoint.VALIDATE, Endpoint.MUTATE):
            _profile(functools.partial(handle, pipeline, endpoint, body), endpoint.value)


def _profile(review: Callable[[], object], name: str, reviews: int = 3000) -> None:
    """Where one endpoint's time goes: cProfile's top functions by time of their own."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(reviews):
        review()
    profiler.disable()
    print(f"\nprofile of /{name}, {reviews} reviews (cProfile inflates Python-heavy code):")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)


# -- over HTTPS ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_server(cert_dir: str, port: int) -> None:
    """The benchmark's server: the production app plus an /echo route."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import Response

    from webhook.app import read_body
    from webhook.server import ServeOptions, assemble, load_certificate

    options = ServeOptions(
        cert_dir=Path(cert_dir), policies=ROOT / "policies", host="127.0.0.1", port=port
    )
    certificate = load_certificate(options)
    app = assemble(options, certificate)
    echo = json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": "bench-0000", "allowed": True},
        }
    ).encode()

    async def echo_route(request: Request) -> Response:
        await read_body(request)
        return Response(echo, media_type="application/json")

    # A plain Starlette route, like the admission routes' handling minus the pipeline.
    app.router.add_route("/echo", echo_route, methods=["POST"])

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        log_level="warning",
        ssl_context_factory=lambda _config, _default: certificate.context,
    )
    uvicorn.Server(config).run()


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_WRK_SCRIPT = Path(__file__).with_name("webhook_review.lua")


def _wrk(url: str, body_file: Path, seconds: int, connections: int) -> float:
    environment = {**os.environ, "REVIEW_BODY": str(body_file)}
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(_WRK_SCRIPT),
            url,
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    ).stdout
    print(_indent(output))
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    if "Non-2xx" in output:
        raise SystemExit("wrk saw non-2xx answers")
    return float(match.group(1))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines())


async def _open_loop(
    port: int, ca: str, body: bytes, *, rate: float, seconds: float, connections: int
) -> tuple[list[float], int]:
    """Send at a fixed rate over ``connections`` keep-alive connections; latency from schedule."""
    context = ssl.create_default_context(cafile=ca)
    request = (
        b"POST /validate HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    queue: asyncio.Queue[float] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        while True:
            scheduled = await queue.get()
            if scheduled < 0:
                writer.close()
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            latencies.append(time.perf_counter() - scheduled)

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    await asyncio.sleep(0.5)
    interval = 1 / rate
    start = time.perf_counter()
    count = int(rate * seconds)
    for index in range(count):
        scheduled = start + index * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(scheduled)
    for _ in workers:
        queue.put_nowait(-1)
    await asyncio.gather(*workers)
    return latencies, errors


def open_loop_main(port: int, ca: str, body_file: str, rate: float, seconds: float) -> None:
    import uvloop

    body = Path(body_file).read_bytes()
    latencies, errors = uvloop.run(
        _open_loop(port, ca, body, rate=rate, seconds=seconds, connections=64)
    )
    print(
        f"open loop at {rate:,.0f} reviews/s for {seconds:.0f}s: {len(latencies)} answers, "
        f"{errors} errors; {_percentiles(latencies)}"
    )


def bench_http(seconds: int, connections: int) -> None:
    from certs.files import generate

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    work = Path(tempfile.mkdtemp(prefix="kubernaut-bench-"))
    certs = generate(work / "certs", service="kubernaut-webhook", namespace="kubernaut-system")
    body_file = work / "review.json"
    body_file.write_bytes(json.dumps(workflow_review()).encode())
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", str(certs.directory), str(port)], cwd=ROOT
    )
    try:
        _wait(port)
        url = f"https://127.0.0.1:{port}"
        print(f"server pid {server.pid}, one worker; RSS at start {_rss_mib(server.pid):.1f} MiB")
        _wrk(f"{url}/validate", body_file, 3, connections)  # warm-up
        print(f"closed loop, wrk, {connections} connections, {seconds}s, /validate:")
        validate = _wrk(f"{url}/validate", body_file, seconds, connections)
        print(f"closed loop, wrk, {connections} connections, {seconds}s, /echo:")
        echo = _wrk(f"{url}/echo", body_file, seconds, connections)
        print(
            f"=> /validate {validate:,.0f} reviews/s, /echo {echo:,.0f} requests/s, "
            f"ratio {validate / echo:.2f}"
        )
        rate = validate / 2
        subprocess.run(
            [
                sys.executable,
                __file__,
                "open-loop",
                str(port),
                str(certs.ca_cert),
                str(body_file),
                str(rate),
                str(seconds),
            ],
            check=True,
            cwd=ROOT,
        )
        print(f"worker RSS after the runs: {_rss_mib(server.pid):.1f} MiB")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def _wait(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the benchmark server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pipeline = commands.add_parser("pipeline")
    pipeline.add_argument("--duration", type=float, default=5.0)
    pipeline.add_argument("--profile", action="store_true", help="then profile each endpoint")
    http = commands.add_parser("http")
    http.add_argument("--duration", type=int, default=10)
    http.add_argument("--connections", type=int, default=32)
    serve = commands.add_parser("serve")  # internal: the server process
    serve.add_argument("cert_dir")
    serve.add_argument("port", type=int)
    loop = commands.add_parser("open-loop")  # internal: the open-loop load process
    loop.add_argument("port", type=int)
    loop.add_argument("ca")
    loop.add_argument("body")
    loop.add_argument("rate", type=float)
    loop.add_argument("duration", type=float)
    args = parser.parse_args()
    if args.command == "pipeline":
        bench_pipeline(args.duration, args.profile)
    elif args.command == "http":
        bench_http(args.duration, args.connections)
    elif args.command == "serve":
        run_server(args.cert_dir, args.port)
    else:
        open_loop_main(args.port, args.ca, args.body, args.rate, args.duration)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
