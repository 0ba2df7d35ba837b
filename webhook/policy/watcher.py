"""Hot reload: poll a policy directory and reload the embedded engine on change.

Polling (not inotify) works the same on every volume type, including a
Kubernetes ConfigMap volume whose ``..data`` symlink is swapped atomically:
the fingerprint includes each file's resolved path, mtime and size.
"""

from __future__ import annotations

import logging
import threading

from webhook.policy.bundle import directory_fingerprint
from webhook.policy.embedded import EmbeddedPolicyEngine

_log = logging.getLogger("kubernaut.policy")


class PolicyWatcher:
    def __init__(self, engine: EmbeddedPolicyEngine, *, interval: float = 5.0) -> None:
        if interval <= 0:
            raise ValueError("the poll interval must be positive")
        self._engine = engine
        self._interval = interval
        self._fingerprint = directory_fingerprint(engine.directory)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Reload when the directory changed since the last check; True when a new bundle
        went into service. A failed reload is retried only after the next change."""
        fingerprint = directory_fingerprint(self._engine.directory)
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        return self._engine.reload()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the policy watcher is already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="policy-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception:  # the watcher must outlive any surprise
                _log.exception("policy directory check failed")
