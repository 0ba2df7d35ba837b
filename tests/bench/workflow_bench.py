"""Many WorkflowExecutions at once on the local stack: throughput, API writes, latency, memory.

Starts the stack (devcluster, the webhook and the reconciler as ``kubernaut``
processes, embedded PostgreSQL; ``--devcluster in-process`` runs devcluster in
this process instead, as the integration tests do), creates ``--targets`` small
Deployments with three ConfigMaps each, then applies ``--workflows``
WorkflowExecutions of three steps in one ``kubectl apply`` and waits until
every one is terminal.

Jobs: by default devcluster runs each Job's real ``kubernaut action run`` as a
subprocess (``--jobs real``), so Python start-up of the action runner is part
of the time; the steps are updateConfigMap, then scaleDeployment (verified by
its postcondition) and updateConfigMap in parallel. ``--jobs simulated``
completes Jobs at once without running anything, which isolates the
reconciler; since nothing really scales then, its steps are three
updateConfigMaps (no postconditions), again one then two in parallel.

Measured devcluster-side (its ``/debug/devcluster/`` routes): requests by
client (devcluster's request log), and commit times of every
WorkflowExecution, KubernetesExecution and Job event (stamped by devcluster as
it commits), from which the reaction latency (child finished -> the parent's
next status write recording it) is computed with sub-millisecond precision.
From /proc: the reconciler's memory and the CPU seconds of every process of the
stack during the run.

Run: ``.venv/bin/python tests/bench/workflow_bench.py [--workflows 200] [--jobs real|simulated]
[--devcluster process|in-process]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devcluster.controllers import JobOptions
from devcluster.event_log import LoggedEvent
from devcluster.request_log import RequestKey
from devcluster.stack import KUBERNAUT, LocalStack, StackOptions
from devcluster.stack_metrics import (
    RECONCILER_AGENT,
    add_stack_arguments,
    answer_times,
    cpu_split,
    percentile,
)

JSON = dict[str, Any]
NAMESPACE = "bench"
TERMINAL = frozenset({"Completed", "Failed", "RolledBack"})
KUBERNAUT_GROUP = "kubernaut.ai/"
WORKFLOWS = "kubernaut.ai/v1alpha1/workflowexecutions"
EXECUTIONS = "kubernaut.ai/v1alpha1/kubernetesexecutions"


# ------------------------------------------------------------------ objects


def _targets(count: int) -> list[JSON]:
    documents: list[JSON] = []
    for index in range(count):
        name = f"app-{index}"
        documents.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {
                            "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]
                        },
                    },
                },
            }
        )
        for suffix in ("a", "b", "c"):
            documents.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"{name}-{suffix}", "namespace": NAMESPACE},
                    "data": {"mode": "normal"},
                }
            )
    return documents


def _step(number: int, action: str, block: JSON, depends: Sequence[int] = ()) -> JSON:
    step: JSON = {
        "stepNumber": number,
        "name": f"{action}-{number}",
        "action": action,
        "parameters": {action: block},
        "maxRetries": 0,
    }
    if depends:
        step["dependsOn"] = list(depends)
    return step


def _workflow(index: int, targets: int, *, scale: bool) -> JSON:
    app = f"app-{index % targets}"
    update = {"dataUpdates": {"mode": f"run-{index}"}, "namespace": NAMESPACE}
    second = (
        _step(2, "scaleDeployment", {"namespace": NAMESPACE, "deployment": app, "replicas": 2}, [1])
        if scale
        else _step(2, "updateConfigMap", {**update, "name": f"{app}-c"}, [1])
    )
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {
            "name": f"wf-{index}",
            "namespace": NAMESPACE,
            "labels": {"kubernaut.ai/environment": "staging"},
        },
        "spec": {
            "remediationRequestRef": {"name": f"rr-{index}"},
            "targetResource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": NAMESPACE,
                "name": app,
            },
            "workflowDefinition": {
                "name": "bench",
                "version": "1.0.0",
                "steps": [
                    _step(1, "updateConfigMap", {**update, "name": f"{app}-a"}),
                    second,
                    _step(3, "updateConfigMap", {**update, "name": f"{app}-b"}, [1]),
                ],
            },
            "executionStrategy": {
                "approvalRequired": False,
                "dryRunFirst": False,
                "rollbackStrategy": "none",
            },
        },
    }


# ---------------------------------------------------------------- measuring


def _list(stack: LocalStack, resource: str) -> list[JSON]:
    group, version, plural = resource.split("/")
    return stack.api.list_objects(group, version, plural, NAMESPACE)


def _phase(obj: JSON) -> str | None:
    return (obj.get("status") or {}).get("phase")


def _summary(name: str, values: Sequence[float]) -> str:
    if not values:
        return f"{name}: no samples"
    ms = [v * 1000 for v in values]
    return (
        f"{name}: n={len(ms)} p50={percentile(ms, 0.5):.1f} ms p95={percentile(ms, 0.95):.1f} ms "
        f"max={max(ms):.1f} ms"
    )


def _reactions(
    children: list[LoggedEvent],
    parents: list[LoggedEvent],
    child_done: Callable[[LoggedEvent], bool],
    parent_of: Callable[[LoggedEvent], str],
    parent_reacted: Callable[[LoggedEvent, LoggedEvent], bool],
) -> list[float]:
    """Seconds from each child's finishing event to its parent's first write reflecting it."""
    by_parent: dict[str, list[LoggedEvent]] = {}
    for event in parents:
        by_parent.setdefault(event.name, []).append(event)
    seen: set[str] = set()
    delays: list[float] = []
    for child in children:
        if child.name in seen or not child_done(child):
            continue
        seen.add(child.name)
        for parent in by_parent.get(parent_of(child), []):
            if parent.resource_version > child.resource_version and parent_reacted(child, parent):
                delays.append(parent.at - child.at)
                break
    return delays


def _job_finished(event: LoggedEvent) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (event.object.get("status") or {}).get("conditions") or []
    )


def _owner(event: LoggedEvent) -> str:
    references = event.object["metadata"].get("ownerReferences") or [{}]
    return str(references[0].get("name", ""))


def _step_recorded(child: LoggedEvent, parent: LoggedEvent) -> bool:
    number = child.object["spec"]["stepNumber"]
    for record in (parent.object.get("status") or {}).get("stepStatuses") or []:
        if record.get("stepNumber") == number:
            return bool(record.get("status") != "Executing")
    return False


def _rss_kib(pid: int) -> tuple[int, int]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


def _start_up_seconds(runs: int = 5) -> float:
    """Wall time of ``kubernaut action run --help``: the action runner's Python start-up."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [KUBERNAUT, "action", "run", "--help"], capture_output=True, check=True, timeout=60
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@dataclass
class _Writes:
    """Reconciler writes (2xx/409) by what they touched."""

    counts: Counter[str]

    @classmethod
    def of(cls, requests: dict[RequestKey, int]) -> _Writes:
        counts: Counter[str] = Counter()
        for key, count in requests.items():
            if key.agent != RECONCILER_AGENT or not key.write:
                continue
            outcome = "conflict" if key.code == 409 else ("ok" if key.code < 300 else "error")
            where = key.resource + (f"/{key.subresource}" if key.subresource else "")
            counts[f"{key.verb} {where} {outcome}"] += count
        return cls(counts)

    def total(self, predicate: Callable[[str], bool]) -> int:
        return sum(count for label, count in self.counts.items() if predicate(label))


# -------------------------------------------------------------------- run


def run(
    workflows: int, targets: int, jobs: str, workers: int, concurrency: int, *, in_process: bool
) -> int:
    with tempfile.TemporaryDirectory(prefix="workflow-bench-") as tmp:
        work = Path(tmp)
        runner_path = (work / "no-runners",) if jobs == "simulated" else JobOptions().runner_path
        (work / "no-runners").mkdir()
        options = StackOptions(
            work_dir=work,
            namespaces=(NAMESPACE,),
            workers=workers,
            log_level="warning",
            jobs=JobOptions(runner_path=runner_path, concurrency=concurrency),
            devcluster_process=not in_process,
        )
        print(
            f"jobs: {jobs} (Job controller concurrency {concurrency}); "
            f"reconciler workers {workers}; devcluster "
            + ("in this process" if in_process else "in its own process")
        )
        with LocalStack.start(options) as stack:
            return _measure(stack, workflows, targets, jobs)


def _measure(stack: LocalStack, workflows: int, targets: int, jobs: str) -> int:
    api = stack.api
    stack.apply(_targets(targets))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready = [
            d
            for d in api.list_objects("apps", "v1", "deployments", NAMESPACE)
            if (d.get("status") or {}).get("readyReplicas") == 1
        ]
        if len(ready) == targets:
            break
        time.sleep(0.5)
    reconciler = stack.processes["reconciler"].process
    assert reconciler is not None
    rss_idle, _ = _rss_kib(reconciler.pid)
    api.reset_requests()
    api.record_events([WORKFLOWS, EXECUTIONS, "batch/v1/jobs"])
    cpu_before = cpu_split(stack)
    started = time.monotonic()
    stack.apply([_workflow(i, targets, scale=jobs == "real") for i in range(workflows)])
    applied = time.monotonic()
    peak_rss = rss_idle
    stuck_after = 60.0 + workflows * (3.0 if jobs == "real" else 0.5)
    while True:
        phases = Counter(_phase(w) for w in _list(stack, WORKFLOWS))
        done = sum(count for phase, count in phases.items() if phase in TERMINAL)
        peak_rss = max(peak_rss, _rss_kib(reconciler.pid)[0])
        if done == workflows:
            break
        if time.monotonic() - started > stuck_after:
            print(f"STUCK after {stuck_after:.0f}s: {dict(phases)}")
            break
        time.sleep(0.5)
    cpu_after = cpu_split(stack)
    cpu_wall = time.monotonic() - started
    _rss, hwm = _rss_kib(reconciler.pid)
    events, complete = api.events()
    api.stop_events()
    if not complete:
        print("WARNING: devcluster dropped a watch of the event log; reactions are partial")
    last = max((e.at for e in events if e.plural == "workflowexecutions"), default=started)
    elapsed = last - started

    final = _list(stack, WORKFLOWS)
    executions = _list(stack, EXECUTIONS)
    job_count = len([e for e in events if e.plural == "jobs" and e.type == "ADDED"])
    outcome = Counter(_phase(w) for w in final)
    transitions = sum(len(o["status"]["transitions"]) for o in (*final, *executions))
    minimum = transitions + len(executions) + job_count
    requests = api.request_counts()
    writes = _Writes.of(requests)
    ours = writes.total(lambda label: KUBERNAUT_GROUP in label or " batch/jobs " in label)
    events_written = writes.total(lambda label: " events " in label)
    conflicts = writes.total(lambda label: label.endswith("conflict"))

    job_reactions = _reactions(
        [e for e in events if e.plural == "jobs"],
        [e for e in events if e.plural == "kubernetesexecutions"],
        _job_finished,
        _owner,
        lambda _child, parent: _phase(parent.object) != "Executing",
    )
    step_reactions = _reactions(
        [e for e in events if e.plural == "kubernetesexecutions"],
        [e for e in events if e.plural == "workflowexecutions"],
        lambda e: _phase(e.object) in ("Completed", "Failed", "TimedOut"),
        _owner,
        _step_recorded,
    )

    print(f"workflows: {workflows} x 3 steps on {targets} targets; outcome {dict(outcome)}")
    print(f"kubectl apply of {workflows} workflows (webhook on each): {applied - started:.1f}s")
    print(
        f"all terminal after {elapsed:.1f}s: {workflows / elapsed * 60:.0f} workflows/min, "
        f"{job_count} Jobs ({job_count / elapsed:.1f} Jobs/s)"
    )
    print(
        f"reconciler writes to kubernaut objects and Jobs: {ours} "
        f"({ours / workflows:.1f}/workflow, conflicts {conflicts}); minimum {minimum} "
        f"({minimum / workflows:.1f}/workflow = creates + one status write per transition); "
        f"ratio {ours / minimum:.2f}x"
    )
    print(
        f"  + Events {events_written} ({events_written / workflows:.1f}/workflow); "
        f"with Events {(ours + events_written) / minimum:.2f}x"
    )
    for label, count in sorted(writes.counts.items()):
        print(f"    {label}: {count}")
    reads = Counter(
        f"{k.verb} {k.resource}"
        for k, n in requests.items()
        for _ in range(n)
        if k.agent == RECONCILER_AGENT and not k.write
    )
    print(f"  reconciler reads: {dict(reads)}")
    print(answer_times(stack))
    print(_summary("reaction Job finished -> KubernetesExecution next phase", job_reactions))
    print(_summary("reaction step finished -> WorkflowExecution records it", step_reactions))
    print(_summary("reaction (both)", [*job_reactions, *step_reactions]))
    print(
        f"reconciler memory: idle {rss_idle / 1024:.0f} MiB, peak sampled "
        f"{peak_rss / 1024:.0f} MiB, high-water {hwm / 1024:.0f} MiB"
    )
    print(
        f"CPU during the run ({cpu_wall:.0f}s wall; % of one core): "
        + ", ".join(
            f"{name} {(cpu_after[name] - cpu_before.get(name, 0.0)) / cpu_wall * 100:.0f}%"
            for name in cpu_after
        )
    )
    if jobs == "real":
        print(f"action runner start-up (kubernaut action run --help): {_start_up_seconds():.2f}s")
    return 0 if outcome.get("Completed", 0) == workflows else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--targets", type=int, default=200)
    add_stack_arguments(parser, workers=2)
    args = parser.parse_args()
    return run(
        args.workflows,
        args.targets,
        args.jobs,
        args.workers,
        args.concurrency,
        in_process=args.devcluster == "in-process",
    )


if __name__ == "__main__":
    sys.exit(main())
