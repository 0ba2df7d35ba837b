"""Simulated Job controller: runs a Job's command locally, or completes it as configured.

When the first container's ``command[0]`` is found in the runner path (by
default the directory of this Python interpreter, where ``kubernaut`` and
``python`` live; more with ``--job-runner-path``), it runs as a subprocess with:

* the container's ``env`` (``valueFrom`` of ConfigMaps, Secrets and pod fields
  resolved; anything else skipped with a warning in the log),
* ``KUBECONFIG``: a per-Job kubeconfig for the stand-in whose user is the Job's
  ServiceAccount, ``system:serviceaccount:<ns>:<sa>``: a bearer token mapped
  to that user (what the kubernetes Python client uses) plus ``as``/``as-groups``
  (what kubectl uses, since it sends no token over plain HTTP),
* ``KUBERNAUT_TERMINATION_MESSAGE_PATH``: a file whose content (at most 4096
  bytes) becomes the container's termination message, as a kubelet reads
  ``terminationMessagePath``.

Otherwise the Job completes or fails at once: the default outcome, or the
annotation ``devcluster.kubernaut.ai/outcome: succeed|fail`` with an optional
``devcluster.kubernaut.ai/termination-message``. Each attempt is recorded as a
pod ``<job>-<suffix>``; failed attempts are retried up to ``backoffLimit``
(without the real back-off delay); ``activeDeadlineSeconds`` kills the process.
At most ``concurrency`` Jobs run at once; finished Jobs never run again.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devcluster.admission import UserInfo
from devcluster.auth import AuthConfig
from devcluster.controllers import job_status
from devcluster.controllers.base import (
    Clock,
    controller_user,
    deleting,
    get_or_none,
    ignore_gone,
    parse_timestamp,
    resource,
    timestamp,
    utc_now,
)
from devcluster.controllers.loop import ControllerLoop, Source
from devcluster.semantics import generate_name
from devcluster.store import JsonObject, Store
from devcluster.watch import WatchEvent

_LOG = logging.getLogger("devcluster.controllers.jobs")
_JOB_USER = controller_user("job-controller")
_KILLED_EXIT = 137
Key = tuple[str, str]


@dataclass(frozen=True)
class JobOptions:
    runner_path: tuple[Path, ...] = field(default_factory=lambda: (Path(sys.executable).parent,))
    default_outcome: job_status.Outcome = "succeed"
    concurrency: int = 4


class JobController:
    def __init__(
        self,
        store: Store,
        server_url: str,
        auth: AuthConfig,
        options: JobOptions | None = None,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._server = server_url
        self._auth = auth
        self._options = options or JobOptions()
        self._clock = clock
        self._jobs = resource(store, "batch", "jobs")
        self._pods = resource(store, "", "pods")
        self._lock = threading.Lock()
        self._active: set[Key] = set()
        self._processes: dict[Key, subprocess.Popen[bytes]] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, self._options.concurrency), thread_name_prefix="devcluster-job"
        )
        self._loop = ControllerLoop(
            store, "jobs", [Source(self._jobs, self._keys)], self._reconcile
        )

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        with self._lock:
            processes = list(self._processes.values())
        for process in processes:
            with contextlib.suppress(OSError):
                process.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _keys(event: WatchEvent) -> Iterable[Hashable]:
        meta = event.object["metadata"]
        return [(str(meta.get("namespace", "")), str(meta["name"]))]

    def _reconcile(self, key: Hashable) -> float | None:
        assert isinstance(key, tuple)
        namespace, name = key
        job = get_or_none(self._store, self._jobs, namespace, name)
        if job is None or deleting(job):
            with self._lock:
                process = self._processes.get((namespace, name))
            if process is not None:
                with contextlib.suppress(OSError):
                    process.kill()
            return None
        if job_status.is_finished(job) or (job.get("spec") or {}).get("suspend"):
            return None
        with self._lock:
            if (namespace, name) in self._active:
                return None
            self._active.add((namespace, name))
        self._pool.submit(self._run, (namespace, name))
        return None

    # ------------------------------------------------------------------ running

    def _run(self, key: Key) -> None:
        try:
            attempts: list[job_status.Attempt] = []
            while True:
                job = get_or_none(self._store, self._jobs, *key)
                if job is None or deleting(job) or job_status.is_finished(job):
                    return
                attempts.append(self._attempt(job, len([a for a in attempts if a.exit_code])))
                job = get_or_none(self._store, self._jobs, *key)
                if job is None:
                    return
                status = job_status.finished_status(job, attempts, timestamp(self._clock()))
                self._write_status(key, status)
                if not job_status.should_retry(job, attempts):
                    return
        except Exception:
            _LOG.exception("job run failed", extra={"object": "/".join(key)})
        finally:
            with self._lock:
                self._active.discard(key)

    def _remaining(self, job: JsonObject) -> float | None:
        deadline = job_status.active_deadline(job)
        if deadline is None:
            return None
        started = parse_timestamp(str((job.get("status") or {}).get("startTime") or ""))
        if started is None:
            return float(deadline)
        return deadline - (self._clock() - started).total_seconds()

    def _attempt(self, job: JsonObject, failed_so_far: int) -> job_status.Attempt:
        meta = job["metadata"]
        namespace, name = str(meta["namespace"]), str(meta["name"])
        started = timestamp(self._clock())
        self._write_status(
            (namespace, name), job_status.running_status(job, started, failed_so_far)
        )
        job = get_or_none(self._store, self._jobs, namespace, name) or job
        pod_name = generate_name(f"{name}-")
        pod = self._store.create(
            self._pods,
            namespace,
            job_status.pod_for_job(job, pod_name, self._node()),
            user=_JOB_USER,
        ).object
        self._write_pod_status(namespace, pod_name, job_status.pod_running_status(pod, started))
        remaining = self._remaining(job)
        if remaining is not None and remaining <= 0:
            attempt = job_status.Attempt(_KILLED_EXIT, "", deadline_exceeded=True)
        else:
            attempt = self._execute(job, pod, remaining)
        finished = job_status.pod_finished_status(pod, attempt, started, timestamp(self._clock()))
        self._write_pod_status(namespace, pod_name, finished)
        return attempt

    def _execute(
        self, job: JsonObject, pod: JsonObject, remaining: float | None
    ) -> job_status.Attempt:
        containers = (pod.get("spec") or {}).get("containers") or [{}]
        container = containers[0]
        command = [str(part) for part in container.get("command") or []]
        executable = self._resolve(command[0]) if command else None
        if executable is None:
            outcome, message = job_status.simulated_outcome(job, self._options.default_outcome)
            return job_status.Attempt(0 if outcome == "succeed" else 1, message)
        argv = [executable, *command[1:], *(str(a) for a in container.get("args") or [])]
        key = (str(job["metadata"]["namespace"]), str(job["metadata"]["name"]))
        with tempfile.TemporaryDirectory(prefix="devcluster-job-") as workdir:
            token = secrets.token_hex(16)
            self._auth.tokens[token] = self._identity(pod)
            try:
                return self._spawn(
                    key,
                    pod,
                    container,
                    argv,
                    workdir=Path(workdir),
                    token=token,
                    remaining=remaining,
                )
            finally:
                self._auth.tokens.pop(token, None)

    def _spawn(
        self,
        key: Key,
        pod: JsonObject,
        container: Mapping[str, Any],
        argv: list[str],
        *,
        workdir: Path,
        token: str,
        remaining: float | None,
    ) -> job_status.Attempt:
        termination = workdir / "termination-log"
        termination.touch()
        kubeconfig = workdir / "kubeconfig"
        identity = self._identity(pod)
        kubeconfig.write_text(
            yaml.safe_dump(_kubeconfig(self._server, token, identity, key[0])), encoding="utf-8"
        )
        env = {
            "PATH": os.pathsep.join(
                [*(str(p) for p in self._options.runner_path), os.environ.get("PATH", "")]
            ),
            "HOME": str(workdir),
            "KUBECONFIG": str(kubeconfig),
            **self._container_env(pod, container),
            # Last, so it wins over the container's own setting: the kubelet mounts the
            # termination-message file at the container's path; here the process is told
            # where the stand-in's file is.
            "KUBERNAUT_TERMINATION_MESSAGE_PATH": str(termination),
        }
        process = subprocess.Popen(
            argv, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        with self._lock:
            self._processes[key] = process
        deadline_exceeded = False
        try:
            output, _ = process.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            deadline_exceeded = True
        finally:
            with self._lock:
                self._processes.pop(key, None)
        logs = output.decode("utf-8", "replace")
        self._store.pod_logs[(key[0], str(pod["metadata"]["name"]))] = logs
        code = _KILLED_EXIT if deadline_exceeded else process.returncode
        code = code if code >= 0 else 128 - code
        message = job_status.truncate_message(termination.read_bytes())
        policy = container.get("terminationMessagePolicy")
        if not message and code != 0 and policy == "FallbackToLogsOnError":
            message = job_status.fallback_from_logs(logs)
        return job_status.Attempt(code, message, deadline_exceeded=deadline_exceeded)

    def _resolve(self, program: str) -> str | None:
        if os.sep in program:
            return None
        search = os.pathsep.join(str(p) for p in self._options.runner_path)
        return shutil.which(program, path=search)

    @staticmethod
    def _identity(pod: JsonObject) -> UserInfo:
        spec = pod.get("spec") or {}
        account = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
        name, groups = job_status.service_account_user(str(pod["metadata"]["namespace"]), account)
        return UserInfo(name, groups)

    def _container_env(self, pod: JsonObject, container: Mapping[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for entry in container.get("env") or []:
            name = str(entry.get("name", ""))
            if "value" in entry or "valueFrom" not in entry:
                env[name] = str(entry.get("value", ""))
                continue
            value = self._value_from(pod, entry.get("valueFrom") or {})
            if value is None:
                _LOG.warning(
                    "env valueFrom cannot be resolved by devcluster, variable left out",
                    extra={
                        "object": f"{pod['metadata']['namespace']}/{pod['metadata']['name']}",
                        "variable": name,
                    },
                )
            else:
                env[name] = value
        return env

    def _value_from(self, pod: JsonObject, source: Mapping[str, Any]) -> str | None:
        namespace = str(pod["metadata"]["namespace"])
        for kind, plural in (("configMapKeyRef", "configmaps"), ("secretKeyRef", "secrets")):
            ref = source.get(kind)
            if isinstance(ref, dict):
                obj = get_or_none(
                    self._store, resource(self._store, "", plural), namespace, str(ref.get("name"))
                )
                raw = ((obj or {}).get("data") or {}).get(str(ref.get("key")))
                if raw is None:
                    return None
                if plural == "secrets":
                    return base64.b64decode(str(raw)).decode("utf-8", "replace")
                return str(raw)
        field_ref = source.get("fieldRef")
        if isinstance(field_ref, dict):
            path = str(field_ref.get("fieldPath", ""))
            fields = {
                "metadata.name": pod["metadata"]["name"],
                "metadata.namespace": namespace,
                "metadata.uid": pod["metadata"].get("uid", ""),
                "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", ""),
                "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
            }
            value = fields.get(path)
            return None if value is None else str(value)
        return None

    def _node(self) -> str:
        nodes = self._store.list_objects(resource(self._store, "", "nodes")).items
        names = sorted(
            str(n["metadata"]["name"])
            for n in nodes
            if not (n.get("spec") or {}).get("unschedulable")
        )
        return names[0] if names else ""

    def _write_status(self, key: Key, status: JsonObject) -> None:
        ignore_gone(
            lambda: self._store.modify(
                self._jobs,
                key[0],
                key[1],
                lambda current: {**current, "status": status},
                subresource="status",
                user=_JOB_USER,
            )
        )

    def _write_pod_status(self, namespace: str, name: str, status: JsonObject) -> None:
        ignore_gone(
            lambda: self._store.modify(
                self._pods,
                namespace,
                name,
                lambda current: {**current, "status": status},
                subresource="status",
                user=controller_user("kubelet"),
            )
        )


def _kubeconfig(server: str, token: str, user: UserInfo, namespace: str) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "devcluster", "cluster": {"server": server}}],
        "users": [
            {
                "name": user.username,
                "user": {"token": token, "as": user.username, "as-groups": list(user.groups)},
            }
        ],
        "contexts": [
            {
                "name": "devcluster",
                "context": {"cluster": "devcluster", "user": user.username, "namespace": namespace},
            }
        ],
        "current-context": "devcluster",
    }
