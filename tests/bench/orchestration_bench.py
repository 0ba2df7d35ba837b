"""Many RemediationRequests at once on the local stack: throughput, writes, latency, memory.

Starts the stack (devcluster, the webhook and the reconciler as ``kubernaut``
processes, embedded PostgreSQL; ``--devcluster in-process`` runs devcluster in
this process instead, as the e2e tests do), creates ``--count`` small
Deployments in a staging namespace, then applies ``--count`` RemediationRequests
(KubePodCrashLooping, one per Deployment) in one ``kubectl apply`` and waits
until every one is terminal. The catalog analyser picks the restart workflow
(confidence 0.9, no approval in staging): per request one SignalProcessing,
AIAnalysis, WorkflowExecution, KubernetesExecution, Job and Completion
notification.

Jobs: ``--jobs real`` (default) runs the real ``kubernaut action run`` for
every Job; ``--jobs simulated`` completes Jobs at once, isolating the
reconciler (the restart then changes nothing, and the postcondition holds).

Measured devcluster-side (its ``/debug/devcluster/`` routes): every object's
commit times (stamped by devcluster as it commits, sub-millisecond) for the
creation -> Completed latency and the reaction latency (a child's terminal
write -> its parent's next write), the reconciler's writes from devcluster's
request log against the minimum (creates plus one status write per
transition); from /proc: the reconciler's memory and the CPU seconds of every
process of the stack during the run.

Run: ``.venv/bin/python tests/bench/orchestration_bench.py [--count 500] [--jobs real|simulated]
[--devcluster process|in-process]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devcluster import demo_manifests as m
from devcluster.controllers import JobOptions
from devcluster.event_log import LoggedEvent
from devcluster.stack import LocalStack, StackOptions
from devcluster.stack_metrics import (
    RECONCILER_AGENT,
    add_stack_arguments,
    answer_times,
    cpu_split,
    percentile,
)

JSON = dict[str, Any]
NAMESPACE = "bench"
TERMINAL = frozenset({"Completed", "Failed", "TimedOut", "Skipped"})
CHILD_DONE = frozenset({"Completed", "Failed", "TimedOut", "RolledBack", "Sent"})
KINDS = (
    ("kubernaut.ai", "v1alpha1", "remediationrequests"),
    ("kubernaut.ai", "v1alpha1", "signalprocessings"),
    ("kubernaut.ai", "v1alpha1", "aianalyses"),
    ("kubernaut.ai", "v1alpha1", "workflowexecutions"),
    ("kubernaut.ai", "v1alpha1", "kubernetesexecutions"),
    ("kubernaut.ai", "v1alpha1", "notificationrequests"),
    ("batch", "v1", "jobs"),
)


def _phase(obj: JSON) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


def _job_done(obj: JSON) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions") or []
    )


def _owner(event: LoggedEvent) -> str:
    for ref in event.object["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref["name"])
    return ""


def _summary(name: str, seconds: Sequence[float]) -> str:
    ms = [s * 1000 for s in seconds]
    if not ms:
        return f"{name}: no samples"
    return (
        f"{name}: n={len(ms)} p50={percentile(ms, 0.5):.0f} ms p95={percentile(ms, 0.95):.0f} ms"
        f" max={max(ms):.0f} ms"
    )


def _rss_mib(pid: int) -> tuple[float, float]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields.get("VmRSS", 0) / 1024, fields.get("VmHWM", 0) / 1024


def _reactions(events: list[LoggedEvent]) -> list[float]:
    """Seconds from a child's terminal write to its controller owner's next write."""
    by_object: dict[tuple[str, str], list[LoggedEvent]] = {}
    for event in events:
        by_object.setdefault((event.plural, event.name), []).append(event)
    owner_plural = {
        "signalprocessings": "remediationrequests",
        "aianalyses": "remediationrequests",
        "workflowexecutions": "remediationrequests",
        "notificationrequests": "remediationrequests",
        "kubernetesexecutions": "workflowexecutions",
        "jobs": "kubernetesexecutions",
    }
    delays: list[float] = []
    seen: set[tuple[str, str]] = set()
    for event in events:
        parent_plural = owner_plural.get(event.plural)
        key = (event.plural, event.name)
        if parent_plural is None or key in seen or event.type == "DELETED":
            continue
        done = (
            _job_done(event.object)
            if event.plural == "jobs"
            else (_phase(event.object) in CHILD_DONE)
        )
        if not done:
            continue
        seen.add(key)
        if event.plural == "notificationrequests":
            continue  # the request is terminal already; nothing to react to
        for parent in by_object.get((parent_plural, _owner(event)), []):
            if parent.resource_version > event.resource_version and parent.type == "MODIFIED":
                delays.append(parent.at - event.at)
                break
    return delays


def run(count: int, jobs: str, workers: int, concurrency: int, in_process: bool) -> int:
    work = Path(tempfile.mkdtemp(prefix="orchestration-bench-"))
    work.chmod(0o755)  # the embedded PostgreSQL runs as its own user under root
    empty = work / "no-runners"
    empty.mkdir()
    runner_path = (empty,) if jobs == "simulated" else JobOptions().runner_path
    options = StackOptions(
        work_dir=work,
        workers=workers,
        log_level="warning",
        watch_history=max(10_000, count * 60),
        jobs=JobOptions(runner_path=runner_path, concurrency=concurrency),
        devcluster_process=not in_process,
    )
    print(
        f"{count} RemediationRequests; jobs {jobs} (concurrency {concurrency}); workers {workers};"
        f" devcluster {'in this process' if in_process else 'in its own process'}"
    )
    try:
        with LocalStack.start(options) as stack:
            return _measure(stack, count)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(stack: LocalStack, count: int) -> int:
    api = stack.api
    stack.apply([m.namespace(NAMESPACE, "staging")])
    stack.apply([m.deployment(f"app-{i}", NAMESPACE, replicas=1) for i in range(count)])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        items = api.list_objects("apps", "v1", "deployments", NAMESPACE)
        if sum(1 for d in items if (d.get("status") or {}).get("readyReplicas") == 1) == count:
            break
        time.sleep(0.5)
    reconciler = stack.processes["reconciler"].process
    assert reconciler is not None
    idle_rss, _ = _rss_mib(reconciler.pid)
    api.reset_requests()
    api.record_events(["/".join(kind) for kind in KINDS])
    requests = [
        m.remediation_request(f"rr-{i}", NAMESPACE, signal="KubePodCrashLooping", target=f"app-{i}")
        for i in range(count)
    ]
    cpu_before = cpu_split(stack)
    started = time.monotonic()
    stack.apply(requests)
    applied = time.monotonic()
    peak = idle_rss
    stuck_after = 120.0 + count * 2.0
    while True:
        items = api.list_objects(*KINDS[0], NAMESPACE)
        phases = Counter(_phase(o) for o in items)
        peak = max(peak, _rss_mib(reconciler.pid)[0])
        if sum(n for phase, n in phases.items() if phase in TERMINAL) == count:
            break
        if time.monotonic() - started > stuck_after:
            print(f"STUCK after {stuck_after:.0f}s: {dict(phases)}")
            break
        time.sleep(0.5)
    time.sleep(1.0)  # let the last notifications and writes land before counting
    cpu_after = cpu_split(stack)
    cpu_wall = time.monotonic() - started
    _rss, high_water = _rss_mib(reconciler.pid)
    events, complete = api.events()
    api.stop_events()
    if not complete:
        print("WARNING: devcluster dropped a watch of the event log; reactions are partial")
    cpu = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    return _report(
        stack,
        _Run(count, events, started, applied, idle_rss, peak, high_water, cpu, cpu_wall),
    )


@dataclass(frozen=True)
class _Run:
    count: int
    events: list[LoggedEvent]
    started: float
    applied: float
    idle_rss: float
    peak_rss: float
    high_water: float
    cpu: dict[str, float]
    cpu_wall: float


def _report(stack: LocalStack, run: _Run) -> int:
    count, events, started = run.count, run.events, run.started
    final = {
        plural: stack.api.list_objects(group, version, plural, NAMESPACE)
        for group, version, plural in KINDS
    }
    outcome = Counter(_phase(o) for o in final["remediationrequests"])
    created_at = {
        e.name: e.at for e in events if e.plural == "remediationrequests" and e.type == "ADDED"
    }
    completed_at: dict[str, float] = {}
    for event in events:
        if event.plural == "remediationrequests" and _phase(event.object) in TERMINAL:
            completed_at.setdefault(event.name, event.at)
    latencies = [completed_at[n] - created_at[n] for n in completed_at if n in created_at]
    last = max(completed_at.values(), default=started)
    elapsed = last - started
    jobs_per_execution = Counter(_owner_name(job) for job in final["jobs"])
    duplicated_jobs = sum(1 for n in jobs_per_execution.values() if n > 1)
    executions_per_workflow = Counter(_owner_name(ke) for ke in final["kubernetesexecutions"])
    duplicated_steps = sum(1 for n in executions_per_workflow.values() if n > 1)
    stuck = sum(n for phase, n in outcome.items() if phase not in TERMINAL)

    kubernaut_objects = [o for plural, objs in final.items() if plural != "jobs" for o in objs]
    transitions = sum(
        len((o.get("status") or {}).get("transitions") or []) for o in kubernaut_objects
    )
    creates = sum(len(objs) for plural, objs in final.items() if plural != "remediationrequests")
    minimum = creates + transitions
    writes: Counter[str] = Counter()
    for key, n in stack.api.request_counts().items():
        if key.agent == RECONCILER_AGENT and key.write:
            result = "conflict" if key.code == 409 else ("ok" if key.code < 300 else "error")
            where = key.resource + (f"/{key.subresource}" if key.subresource else "")
            writes[f"{key.verb} {where} {result}"] += n
    ours = sum(
        n for label, n in writes.items() if "kubernaut.ai/" in label or "batch/jobs" in label
    )
    event_writes = sum(n for label, n in writes.items() if " events " in label)

    print(f"outcome: {dict(outcome)}; not terminal: {stuck}")
    print(
        f"duplicates: Jobs per execution > 1: {duplicated_jobs}; "
        f"executions per workflow > 1: {duplicated_steps}"
    )
    print(f"kubectl apply of {count} requests (webhook on each): {run.applied - started:.1f}s")
    print(f"all terminal after {elapsed:.1f}s: {count / elapsed * 60:.0f} remediations/min")
    print(_summary("creation -> terminal", latencies))
    print(_summary("reaction child terminal -> parent's next write", _reactions(events)))
    print(
        f"reconciler writes to kubernaut objects and Jobs: {ours} ({ours / count:.1f}/remediation);"
        f" minimum {minimum} ({minimum / count:.1f}/remediation: {creates} creates +"
        f" {transitions} transitions); ratio {ours / max(minimum, 1):.2f}x;"
        f" plus Events {event_writes} ({event_writes / count:.1f}/remediation)"
    )
    for label, n in sorted(writes.items()):
        print(f"    {label}: {n}")
    print(answer_times(stack))
    print(
        f"reconciler memory: idle {run.idle_rss:.0f} MiB, peak sampled {run.peak_rss:.0f} MiB,"
        f" high-water {run.high_water:.0f} MiB"
    )
    wall = run.cpu_wall
    print(
        f"CPU during the run ({wall:.0f}s wall; % of one core): "
        + ", ".join(f"{name} {seconds / wall * 100:.0f}%" for name, seconds in run.cpu.items())
    )
    ok = outcome.get("Completed", 0) == count and not duplicated_jobs and not duplicated_steps
    return 0 if ok else 1


def _owner_name(obj: JSON) -> str:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref["name"])
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    add_stack_arguments(parser, workers=4)
    args = parser.parse_args()
    return run(
        args.count, args.jobs, args.workers, args.concurrency, args.devcluster == "in-process"
    )


if __name__ == "__main__":
    sys.exit(main())
