"""The embedded policy engine: Rego evaluated in-process by regorus.

One bundle is in service at a time. ``reload()`` loads and compiles the
directory again and swaps the new bundle in atomically; a bundle that fails
to load or compile never replaces the one in service: the failure is kept in
``last_error``, counted in ``kubernaut_policy_reload_failures_total`` and
logged.

Two evaluation modes (``webhook.policy.program`` explains the difference):
the rules of the convenience methods run as a compiled regorus VM program
(compiled mode, the default) and everything else (``evaluate`` of any rule,
and any query the VM leaves undefined or fails) runs on the interpreter. A
bundle that does not compile into a VM program is served by the interpreter
alone; that is logged once per bundle and shown in ``status().detail`` and
the ``mode`` label of ``kubernaut_policy_bundle_info``.

regorus objects are bound to the thread that created them, so every thread
that evaluates builds its own VM and interpreter once per bundle (a few
milliseconds each, the interpreter only when the thread needs it).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic_core

from webhook.policy import metrics
from webhook.policy.bundle import PolicyBundle, load_bundle
from webhook.policy.compiler import compile_bundle, one_line, regorus_message
from webhook.policy.engine import EngineStatus, PolicyEngine, PolicyInput
from webhook.policy.errors import BundleLoadError, PolicyEvaluationError
from webhook.policy.program import ProgramRunner, ProgramSpec, program_spec

_log = logging.getLogger("kubernaut.policy")

# How regorus' eval_rule_as_json reports an undefined rule, and a path that
# names no rule; both are "undefined" for the engine interface.
_UNDEFINED_JSON = '"<undefined>"'
_NO_SUCH_RULE = "not a valid rule path"

COMPILED = "compiled"
INTERPRETER = "interpreter"


@dataclass(frozen=True)
class _Serving:
    bundle: PolicyBundle
    generation: int
    program: ProgramSpec | None  # None: the interpreter serves every query
    mode_detail: str  # why the interpreter serves everything, or the compiled rule count

    @property
    def mode(self) -> str:
        return COMPILED if self.program is not None else INTERPRETER


class EmbeddedPolicyEngine(PolicyEngine):
    def __init__(
        self, directory: Path | str, *, require_bundle: bool = True, compiled: bool = True
    ) -> None:
        """Load ``directory``; with ``require_bundle`` a bad bundle raises BundleLoadError,
        otherwise the engine starts unready with ``last_error`` set. ``compiled=False``
        evaluates every query on the interpreter."""
        self._directory = Path(directory)
        self._compiled = compiled
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
    def mode(self) -> str:
        """``compiled`` when the convenience methods run as a VM program, else ``interpreter``."""
        serving = self._serving
        return serving.mode if serving else INTERPRETER

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
            program, runner, mode_detail = self._build_program(bundle, engine)
            self._serving = _Serving(bundle, generation, program, mode_detail)
            local = self._local
            local.generation = generation
            local.engine = engine
            local.runner = runner
            local.runner_failed = False
            metrics.BUNDLE_INFO.clear()
            metrics.BUNDLE_INFO.labels(sha256=bundle.sha256, mode=self._serving.mode).set(1)
            _log.info(
                "policy bundle in service",
                extra={
                    "sha256": bundle.sha256,
                    "files": len(bundle.files),
                    "directory": str(self._directory),
                    "mode": self._serving.mode,
                },
            )
            return True

    def _build_program(
        self, bundle: PolicyBundle, engine: Any
    ) -> tuple[ProgramSpec | None, ProgramRunner | None, str]:
        """The bundle's VM program (validated by building this thread's runner), if any."""
        if not self._compiled:
            return None, None, "interpreter mode (compiled mode disabled)"
        spec = program_spec(bundle, engine.get_ast_as_json())
        if not spec.entry_points:
            return None, None, "interpreter mode (no rule of the compiled set in the bundle)"
        try:
            runner = ProgramRunner(spec)
        except BundleLoadError as err:
            reason = one_line(str(err))
            _log.warning(
                "policy bundle does not compile into a VM program; the interpreter serves it",
                extra={"sha256": bundle.sha256, "error": reason},
            )
            return None, None, f"interpreter mode (compiled mode unavailable: {reason})"
        return spec, runner, f"compiled mode ({len(spec.entry_points)} rules)"

    def status(self) -> EngineStatus:
        serving = self._serving
        if serving is None:
            return EngineStatus(
                ready=False,
                detail=f"no policy bundle loaded from {self._directory}",
                last_error=self._last_error,
            )
        detail = (
            f"policy bundle {serving.bundle.sha256[:12]} ({len(serving.bundle.files)} files), "
            f"{serving.mode_detail}"
        )
        if self._last_error:
            detail += f"; latest reload failed: {one_line(self._last_error)}"
        return EngineStatus(
            ready=True,
            detail=detail,
            bundle_sha256=serving.bundle.sha256,
            last_error=self._last_error,
        )

    def _evaluate(self, rules: Sequence[str], policy_input: PolicyInput) -> list[Any]:
        serving = self._current()
        if serving.program is not None:
            values = self._evaluate_compiled(serving, rules, policy_input)
            if values is not None:
                return values
        return self._evaluate_interpreted(serving, rules, policy_input)

    def _evaluate_compiled(
        self, serving: _Serving, rules: Sequence[str], policy_input: PolicyInput
    ) -> list[Any] | None:
        """The VM's values, or None when the interpreter must answer."""
        runner = self._thread_runner(serving)
        if runner is None or not runner.covers(rules):
            return None
        try:
            document = pydantic_core.to_json(
                policy_input if isinstance(policy_input, dict) else dict(policy_input)
            ).decode("utf-8")
        except (TypeError, ValueError, pydantic_core.PydanticSerializationError):
            return None  # the interpreter converts it or reports why it cannot
        try:
            values = runner.evaluate(rules, document)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # regorus raises RuntimeError, or a Rust panic
            self._local.runner = None  # rebuild this thread's VM before the next call
            metrics.INTERPRETER_FALLBACKS.labels(reason="error").inc()
            return None
        if values is None:
            metrics.INTERPRETER_FALLBACKS.labels(reason="undefined").inc()
        return values

    def _evaluate_interpreted(
        self, serving: _Serving, rules: Sequence[str], policy_input: PolicyInput
    ) -> list[Any]:
        engine = self._thread_engine(serving)
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
            self._local.engine = None  # recompile this thread's engine before the next call
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
            self._local.engine = None
            raise PolicyEvaluationError(f"{rule}: {one_line(regorus_message(err))}") from err
        results = document.get("result") or []
        return results[0]["expressions"][0]["value"] if results else None

    def _current(self) -> _Serving:
        serving = self._serving
        if serving is None:
            raise PolicyEvaluationError(
                f"no policy bundle is loaded from {self._directory}: "
                f"{self._last_error or 'not loaded'}"
            )
        return serving

    def _thread_state(self, serving: _Serving) -> Any:
        """This thread's regorus objects, reset when another bundle went into service."""
        local = self._local
        if getattr(local, "generation", 0) != serving.generation:
            local.generation = serving.generation
            local.engine = None
            local.runner = None
            local.runner_failed = False
        return local

    def _thread_engine(self, serving: _Serving) -> Any:
        local = self._thread_state(serving)
        if local.engine is None:
            try:
                local.engine = compile_bundle(serving.bundle)
            except BundleLoadError as err:
                raise PolicyEvaluationError(f"cannot compile the policy bundle: {err}") from err
        return local.engine

    def _thread_runner(self, serving: _Serving) -> ProgramRunner | None:
        local = self._thread_state(serving)
        if local.runner is None and serving.program is not None and not local.runner_failed:
            try:
                local.runner = ProgramRunner(serving.program)
            except BundleLoadError as err:
                # It compiled on the reloading thread, so this is not expected: the
                # interpreter answers for this thread until the next bundle.
                local.runner_failed = True
                _log.error(
                    "cannot build this thread's VM program; the interpreter serves it",
                    extra={"error": one_line(str(err)), "sha256": serving.bundle.sha256},
                )
        runner: ProgramRunner | None = local.runner
        return runner

    def _record_failure(self, message: str) -> None:
        self._last_error = message
        metrics.RELOAD_FAILURES.inc()
        kept = self._serving.bundle.sha256 if self._serving else None
        _log.error(
            "policy bundle rejected; the previous bundle stays in service",
            extra={"error": message, "directory": str(self._directory), "serving_sha256": kept},
        )
