"""Measurements of a running LocalStack, shared by the benchmarks that drive it."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from devcluster.request_log import bucket_percentile
from devcluster.stack import LocalStack

RECONCILER_AGENT = "kubernaut-reconciler"


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def answer_times(stack: LocalStack) -> str:
    """devcluster's time to answer the reconciler (arrival to answer, webhook calls included)."""
    rows = stack.api.request_latencies()
    parts = []
    for write, label in ((True, "writes"), (False, "reads")):
        buckets = rows.get((RECONCILER_AGENT, write))
        if buckets:
            parts.append(
                f"{label} n={sum(buckets)} p50<={bucket_percentile(buckets, 0.5):.0f} ms"
                f" p95<={bucket_percentile(buckets, 0.95):.0f} ms"
                f" p99<={bucket_percentile(buckets, 0.99):.0f} ms"
            )
    return "devcluster answering the reconciler: " + ("; ".join(parts) or "no requests")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process (not its children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(stack: LocalStack) -> dict[str, float]:
    """CPU seconds so far of each process of the stack and of this one."""
    own = os.getpid()
    pids = stack.pids()
    split = {name: _cpu_seconds(pid) for name, pid in pids.items() if pid != own}
    split["benchmark" if own not in pids.values() else "benchmark+devcluster"] = _cpu_seconds(own)
    return split


def add_stack_arguments(parser: argparse.ArgumentParser, *, workers: int) -> None:
    """The options every stack benchmark takes: Jobs, workers, Job concurrency, devcluster."""
    parser.add_argument("--jobs", choices=["real", "simulated"], default="real")
    parser.add_argument(
        "--workers", type=int, default=workers, help="reconciler workers per controller"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="Jobs devcluster runs at once")
    parser.add_argument(
        "--devcluster",
        choices=["process", "in-process"],
        default="process",
        help="devcluster in its own process (default) or in the benchmark's",
    )
