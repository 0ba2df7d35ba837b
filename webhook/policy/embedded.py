"""The embedded policy engine: Rego evaluated in-process by regorus.

One bundle is in service at a time. ``reload()`` loads and compiles the
directory again and swaps the new bundle in atomically; a bundle that fails
to load or compile never replaces the one in service: the failure is kept in
``last_error``, counted in ``kubernaut_policy_reload_failures_total`` and
logged.

regorus engines are bound to the thread that created them, so every thread
that evaluates compiles its own engine once per bundle (a few milliseconds)
and then reuses it for every evaluation: the input is converted once per call
and each rule is evaluated against it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webhook.policy import metrics
from webhook.policy.bundle import PolicyBundle, load_bundle
from webhook.policy.compiler import compile_bundle, one_line, regorus_message
from webhook.policy.engine import EngineStatus, PolicyEngine, PolicyInput
from webhook.policy.errors import BundleLoadError, PolicyEvaluationError

_log = logging.getLogger("kubernaut.policy")

# How regorus' eval_rule_as_json reports an undefined rule, and a path that
# names no rule; both are "undefined" for the engine interface.
_UNDEFINED_JSON = '"<undefined>"'
_NO_SUCH_RULE = "not a valid rule path"


@dataclass(frozen=True)
class _Serving:
    bundle: PolicyBundle
    generation: int


class EmbeddedPolicyEngine(PolicyEngine):
    def __init__(self, directory: Path | str, *, require_bundle: bool = True) -> None:
        """Load ``directory``; with ``require_bundle`` a bad bundle raises BundleLoadError,
        otherwise the engine starts unready with ``last_error`` set."""
        self._directory = Path(directory)
        self._serving: _Serving | None = None
        self._last_error: str | None = None
        self._reload_lock = threading.Lock()
        self._local = threading.local()
        if not self.reload() and require_bundle:
            raise BundleLoadError(self._last_error or f"cannot load {self._directory}")

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def bundle(self) -> PolicyBundle | None:
        serving = self._serving
        return serving.bundle if serving else None

    @property
    def last_error(self) -> str | None:
        """Why the latest load failed (None when it succeeded)."""
        return self._last_error

    def reload(self) -> bool:
        """Load the directory again; True when a new bundle went into service."""
        with self._reload_lock:
            try:
                bundle = load_bundle(self._directory)
                engine = compile_bundle(bundle)
            except BundleLoadError as err:
                self._record_failure(str(err))
                return False
            self._last_error = None
            current = self._serving
            if current is not None and current.bundle.sha256 == bundle.sha256:
                return False
            generation = current.generation + 1 if current else 1
            self._serving = _Serving(bundle, generation)
            self._local.generation = generation
            self._local.engine = engine
            metrics.BUNDLE_INFO.clear()
            metrics.BUNDLE_INFO.labels(sha256=bundle.sha256).set(1)
            _log.info(
                "policy bundle in service",
                extra={
                    "sha256": bundle.sha256,
                    "files": len(bundle.files),
                    "directory": str(self._directory),
                },
            )
            return True

    def status(self) -> EngineStatus:
        serving = self._serving
        if serving is None:
            return EngineStatus(
                ready=False,
                detail=f"no policy bundle loaded from {self._directory}",
                last_error=self._last_error,
            )
        detail = f"policy bundle {serving.bundle.sha256[:12]} ({len(serving.bundle.files)} files)"
        if self._last_error:
            detail += f"; latest reload failed: {one_line(self._last_error)}"
        return EngineStatus(
            ready=True,
            detail=detail,
            bundle_sha256=serving.bundle.sha256,
            last_error=self._last_error,
        )

    def _evaluate(self, rules: Sequence[str], policy_input: PolicyInput) -> list[Any]:
        engine = self._thread_engine()
        try:
            engine.set_input(dict(policy_input))
        except (TypeError, ValueError, RuntimeError) as err:
            raise PolicyEvaluationError(f"policy input is not a JSON document: {err}") from err
        return [self._evaluate_rule(engine, rule) for rule in rules]

    def _evaluate_rule(self, engine: Any, rule: str) -> Any:
        try:
            text = engine.eval_rule_as_json(rule)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # regorus raises RuntimeError, or a Rust panic
            message = regorus_message(err)
            if message == _NO_SUCH_RULE:
                # A data document, a package, or nothing: a general query answers.
                return self._evaluate_query(engine, rule)
            self._local.generation = 0  # recompile this thread's engine before the next call
            raise PolicyEvaluationError(f"{rule}: {one_line(message)}") from err
        if text == _UNDEFINED_JSON:
            return None
        return json.loads(text)

    def _evaluate_query(self, engine: Any, rule: str) -> Any:
        try:
            document = json.loads(engine.eval_query_as_json(rule))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # regorus raises RuntimeError, or a Rust panic
            self._local.generation = 0
            raise PolicyEvaluationError(f"{rule}: {one_line(regorus_message(err))}") from err
        results = document.get("result") or []
        return results[0]["expressions"][0]["value"] if results else None

    def _thread_engine(self) -> Any:
        serving = self._serving
        if serving is None:
            raise PolicyEvaluationError(
                f"no policy bundle is loaded from {self._directory}: "
                f"{self._last_error or 'not loaded'}"
            )
        local = self._local
        if getattr(local, "generation", 0) != serving.generation:
            try:
                local.engine = compile_bundle(serving.bundle)
            except BundleLoadError as err:
                raise PolicyEvaluationError(f"cannot compile the policy bundle: {err}") from err
            local.generation = serving.generation
        return local.engine

    def _record_failure(self, message: str) -> None:
        self._last_error = message
        metrics.RELOAD_FAILURES.inc()
        kept = self._serving.bundle.sha256 if self._serving else None
        _log.error(
            "policy bundle rejected; the previous bundle stays in service",
            extra={"error": message, "directory": str(self._directory), "serving_sha256": kept},
        )
