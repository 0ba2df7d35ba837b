"""Compiled mode: a fixed set of rules compiled into a regorus RVM program.

regorus compiles Rego into a program for its register VM (``regorus.Program``,
run by ``regorus.Rvm``), about three times faster than its interpreter. The
rules must be named when the program is compiled, so the program holds the
rules the engine's convenience methods evaluate (:data:`COMPILED_RULES`, those
defined in the bundle) and every rule of ``kubernaut.execution``; anything else
is evaluated by the interpreter.

The VM differs from the interpreter on runtime errors: where the interpreter
raises (a builtin applied to the wrong type, ``some x in`` over a scalar,
conflicting rule values), the VM makes the failing expression undefined and
carries on. :meth:`ProgramRunner.evaluate` therefore returns ``None`` (let
the interpreter decide) whenever a value is undefined, holds a leaked
undefined value, or the VM raises; the residual case, a failing condition
inside a rule body that the interpreter would report as an error and the VM
treats as false, is why ``require_approval``/``approval_reason`` stay on the
interpreter (an analysis without an ``actions`` list is such an input).

``Program`` and ``Rvm`` objects are bound to the thread that created them,
so every evaluating thread builds its own runner from a :class:`ProgramSpec`
(one compile, a few milliseconds, per thread and bundle).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import regorus

from webhook.policy import queries
from webhook.policy.bundle import PolicyBundle
from webhook.policy.compiler import regorus_message
from webhook.policy.errors import BundleLoadError

# The rules of the convenience methods that run compiled. require_approval and
# approval_reason are left out on purpose (see the module documentation).
COMPILED_RULES = (
    queries.ADMISSION_DENY,
    queries.ADMISSION_WARN,
    queries.APPROVAL_DENY,
    queries.MUTATION_DEFAULTS,
    queries.CLASSIFICATION,
)

# How the VM renders an undefined value, alone or leaked into a collection.
_UNDEFINED_JSON = '"<undefined>"'


@dataclass(frozen=True)
class ProgramSpec:
    """Everything a thread needs to build its own VM for one bundle."""

    data_json: str  # the data document: {"kubernaut": {"config": ...}}
    modules: tuple[tuple[str, str], ...]  # (path, source)
    entry_points: frozenset[str]


def program_spec(bundle: PolicyBundle, ast_json: str) -> ProgramSpec:
    """The entry points defined in ``bundle`` (``ast_json`` is the interpreter's AST)."""
    defined = defined_rules(ast_json)
    execution_prefix = f"{queries.EXECUTION_PACKAGE}."
    entry_points = {rule for rule in COMPILED_RULES if rule in defined}
    entry_points.update(
        rule
        for rule in defined
        if rule.startswith(execution_prefix) and "." not in rule[len(execution_prefix) :]
    )
    return ProgramSpec(
        data_json=json.dumps({"kubernaut": {"config": bundle.config}}),
        modules=tuple((module.path, module.source) for module in bundle.modules),
        entry_points=frozenset(entry_points),
    )


def defined_rules(ast_json: str) -> frozenset[str]:
    """``data.<package>.<name>`` of every rule (not function) of the modules in the AST."""
    found: set[str] = set()
    for module in json.loads(ast_json):
        package = _dotted(module["ast"]["package"]["refr"])
        if package is None:
            continue
        for rule in module["ast"].get("rules", []):
            name = _rule_name(rule)
            if name is not None:
                found.add(f"data.{package}.{name}")
    return frozenset(found)


def _rule_name(rule: Mapping[str, Any]) -> str | None:
    if "Default" in rule:
        return _base_name(rule["Default"].get("refr"))
    head = rule.get("Spec", {}).get("head", {})
    for kind in ("Compr", "Set"):
        if kind in head:
            return _base_name(head[kind].get("refr"))
    return None  # a function


def _base_name(node: Any) -> str | None:
    """``name`` of ``name`` and of ``name[key]`` (a partial object rule)."""
    if not isinstance(node, dict):
        return None
    if "Var" in node:
        return str(node["Var"]["value"])
    if "RefBrack" in node:
        inner = node["RefBrack"].get("refr")
        if isinstance(inner, dict) and "Var" in inner:
            return str(inner["Var"]["value"])
    return None


def _dotted(node: Any) -> str | None:
    if not isinstance(node, dict):
        return None
    if "Var" in node:
        return str(node["Var"]["value"])
    if "RefDot" in node:
        base = _dotted(node["RefDot"]["refr"])
        return None if base is None else f"{base}.{node['RefDot']['field'][1]}"
    return None


def compile_program(spec: ProgramSpec) -> Any:
    """A ``regorus.Program`` of the spec's entry points; raises BundleLoadError."""
    try:
        return regorus.Program.compile_from_modules(
            spec.data_json, list(spec.modules), sorted(spec.entry_points)
        )
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # regorus raises RuntimeError, or a Rust panic
        raise BundleLoadError(regorus_message(err)) from err


class ProgramRunner:
    """One thread's VM with the bundle's data loaded."""

    def __init__(self, spec: ProgramSpec) -> None:
        """Compile ``spec`` for the calling thread; raises BundleLoadError."""
        self._entry_points = spec.entry_points
        self._vm = regorus.Rvm()
        try:
            self._vm.load_program(compile_program(spec))
            self._vm.set_data_json(spec.data_json)
        except BundleLoadError:
            raise
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # regorus raises RuntimeError, or a Rust panic
            raise BundleLoadError(regorus_message(err)) from err

    def covers(self, rules: Iterable[str]) -> bool:
        return all(rule in self._entry_points for rule in rules)

    def evaluate(self, rules: Sequence[str], input_json: str) -> list[Any] | None:
        """Values of ``rules`` for the input, or None when the interpreter must decide.

        Raises whatever the VM raises; the runner should not be used afterwards.
        """
        self._vm.set_input_json(input_json)
        values: list[Any] = []
        for rule in rules:
            text = self._vm.execute_entry_point(rule)
            if _UNDEFINED_JSON in text:
                return None
            values.append(json.loads(text))
        return values
