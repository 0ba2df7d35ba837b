"""``kubernaut demo``: the whole product on this machine, played through narrated scenarios.

Starts the local stack (:mod:`devcluster.stack`: devcluster, the webhook over
HTTPS, the reconciler and its embedded PostgreSQL) in a work directory, plays
the scenarios of :mod:`devcluster.demo_scenarios` with kubectl, prints each
remediation's audit trail with ``kubernaut audit show`` against the demo's
database (while the reconciler runs, so the command joins the server the
reconciler started on the same data directory), then a summary. The exit
code is 0 only when every scenario behaved as expected.

With ``keep`` the stack stays up afterwards, for kubectl, until Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devcluster.demo_scenarios import SCENARIOS, play, setup
from devcluster.demo_session import TERMINAL_RR, ScenarioResult, Session, display_path
from devcluster.stack import KUBERNAUT, LocalStack, StackOptions, clean
from kubernaut.errors import CommandError
from kubernaut.logs import JsonFormatter

__all__ = ["DemoOptions", "default_work_dir", "run_demo"]

_AUDIT_ATTEMPTS = 25
_AUDIT_RETRY = 0.2


@dataclass(frozen=True)
class DemoOptions:
    work_dir: Path
    keep: bool = False
    timeout: float = 60.0
    """How long one remediation may take before its scenario fails."""


def default_work_dir() -> Path:
    return Path(".kubernaut") / "demo"


def _server_running(data_dir: Path) -> int | None:
    """The pid of a PostgreSQL server still running on ``data_dir`` (a demo in progress)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _log_to_file(path: Path) -> None:
    """This process's logs (devcluster's) go to a file: the terminal is for the narration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _start(options: DemoOptions, out: TextIO) -> LocalStack:
    work = options.work_dir
    pid = _server_running(work / "audit")
    if pid is not None:
        raise CommandError(
            f"a demo is still running in {work} (its PostgreSQL has pid {pid}); "
            "stop it or pass another --work-dir"
        )
    clean(work)
    _log_to_file(work / "devcluster.log")
    print(
        "  starting devcluster, the webhook (HTTPS), PostgreSQL and the reconciler ...",
        file=out,
        flush=True,
    )
    try:
        return LocalStack.start(StackOptions(work_dir=work, log_level="warning"))
    except (OSError, RuntimeError, TimeoutError) as err:
        raise CommandError(
            f"cannot start the local stack: {err} (logs: {display_path(work)}/*.log)"
        ) from None


def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    started = time.monotonic()
    print("kubernaut demo: policy-first remediation on a local cluster", file=out)
    print(f"  work dir {display_path(options.work_dir)}", file=out, flush=True)
    with _start(options, out) as stack:
        session = Session(stack, out, timeout=options.timeout)
        try:
            session.print(
                f"  ready in {time.monotonic() - started:.1f}s; kubectl talks to devcluster:"
            )
            session.print(f"  $ export KUBECONFIG={display_path(stack.kubeconfig)}")
            setup(session)
            results = [play(session, scenario, n) for n, scenario in enumerate(SCENARIOS, 1)]
            _audit_trails(session, results)
            _summary(session, results, time.monotonic() - started)
            if options.keep:
                _keep(session)
        finally:
            session.close()
    return 0 if all(result.ok for result in results) else 1


# ----------------------------------------------------------------- audit trails


def _audit_command(session: Session, namespace: str, name: str) -> list[str]:
    data_dir = display_path(session.stack.options.work_dir / "audit")
    return ["audit", "show", name, "-n", namespace, "--audit-data-dir", data_dir]


def _trail_complete(output: str, namespace: str, name: str, phase: str) -> bool:
    """The trail's summary line records the request's terminal phase (the writer caught up)."""
    first = output.strip().splitlines()[0] if output.strip() else ""
    return first.startswith(f"Remediation {namespace}/{name}: {phase.lower()} ")


def _audit_trails(session: Session, results: Sequence[ScenarioResult]) -> None:
    session.heading("Audit trail (PostgreSQL)")
    session.say(
        """Every phase transition of every object, as the reconciler wrote it to the
        embedded PostgreSQL; kubernaut audit show joins the server the reconciler runs."""
    )
    for result in results:
        for namespace, name in result.remediations:
            rr = session.kubernaut("remediationrequests", namespace, name) or {}
            phase = str((rr.get("status") or {}).get("phase") or "")
            command = _audit_command(session, namespace, name)
            session.print()
            session.print(f"  $ kubernaut {shlex.join(command)}")
            output = ""
            for _attempt in range(_AUDIT_ATTEMPTS):
                completed = subprocess.run(
                    [KUBERNAUT, *command], capture_output=True, text=True, timeout=60, check=False
                )
                output = (completed.stdout + completed.stderr).rstrip()
                if phase not in TERMINAL_RR or _trail_complete(output, namespace, name, phase):
                    break
                time.sleep(_AUDIT_RETRY)
            for line in output.splitlines():
                session.print(f"    {line}")
            result.checks.append(
                session.check(
                    f"audit trail of {name} complete in PostgreSQL",
                    _trail_complete(output, namespace, name, phase),
                    f"expected outcome {phase.lower() or '?'}",
                )
            )


# -------------------------------------------------------------------- summary


def _summary(session: Session, results: Sequence[ScenarioResult], seconds: float) -> None:
    session.heading("Summary")
    for number, result in enumerate(results, 1):
        verdict = "PASS" if result.ok else "FAIL"
        session.print(f"  {number}. {result.title}  [{verdict}]  {result.seconds:.1f}s")
        session.print(f"       expected: {result.expected}")
        session.print(f"       actual:   {result.actual}")
        for check in result.checks:
            if not check.ok:
                session.print(f"       failed:   {check.what}: {check.detail}")
    passed = sum(1 for result in results if result.ok)
    session.print()
    session.print(
        f"  {passed} of {len(results)} scenarios behaved as expected; total {seconds:.1f}s"
    )


def _keep(session: Session) -> None:
    stack = session.stack
    session.heading("The stack keeps running (Ctrl-C stops it)")
    session.print(f"  export KUBECONFIG={stack.kubeconfig.resolve()}")
    session.print("  kubectl get remediationrequests -A")
    session.print("  kubectl get sp,aia,wfe,ke,notif,jobs -n shop-staging")
    data_dir = (stack.options.work_dir / "audit").resolve()
    session.print(
        f"  kubernaut audit show checkout-crashloop -n shop-staging --audit-data-dir {data_dir}"
    )
    session.print(
        f"  logs: {stack.options.work_dir.resolve()}/{{devcluster,webhook,reconciler}}.log"
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        session.print("  stopping ...")
