"""Running Rego unit tests (``test_*`` rules of ``*_test.rego`` files), like ``opa test``.

A test passes when its rule evaluates to ``true``; ``false`` or undefined is a
failure, and an evaluation error is an error. Tests run in file order, then
source order, against the directory's modules and ``data/`` files.
"""

from __future__ import annotations

import enum
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webhook.policy.bundle import load_bundle
from webhook.policy.compiler import compile_bundle, one_line, regorus_message

_TEST_FILE_SUFFIX = "_test.rego"
_TEST_PREFIX = "test_"
_UNDEFINED = "<undefined>"


class Outcome(enum.Enum):
    PASS = "PASS"  # noqa: S105 - a test outcome, not a password
    FAIL = "FAIL"
    ERROR = "ERROR"


@dataclass(frozen=True)
class RegoTest:
    package: str  # e.g. data.kubernaut.admission_test
    rule: str  # e.g. test_scale_above_maximum_denied
    file: str
    line: int

    @property
    def name(self) -> str:
        return f"{self.package}.{self.rule}"


@dataclass(frozen=True)
class TestResult:
    test: RegoTest
    outcome: Outcome
    seconds: float
    message: str = ""


@dataclass(frozen=True)
class FileCoverage:
    path: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def percent(self) -> float:
        total = len(self.covered) + len(self.not_covered)
        return 100.0 * len(self.covered) / total if total else 100.0


@dataclass(frozen=True)
class TestRun:
    results: tuple[TestResult, ...]
    coverage: tuple[FileCoverage, ...] | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def succeeded(self) -> bool:
        return self.count(Outcome.PASS) == len(self.results)


def run_policy_tests(
    directory: Path, *, pattern: re.Pattern[str] | None = None, coverage: bool = False
) -> TestRun:
    """Compile ``directory`` with its tests and run the selected tests.

    Raises :class:`~webhook.policy.errors.BundleLoadError` when the directory
    does not load or compile.
    """
    bundle = load_bundle(directory, include_tests=True)
    engine = compile_bundle(bundle, coverage=coverage)
    tests = [
        test for test in discover_tests(engine) if pattern is None or pattern.search(test.name)
    ]
    results = tuple(_run(engine, test) for test in tests)
    report = _coverage(engine) if coverage else None
    return TestRun(results, report)


def discover_tests(engine: Any) -> list[RegoTest]:
    """Every ``test_*`` rule of every ``*_test.rego`` module, in file then line order."""
    found: dict[str, RegoTest] = {}
    for module in json.loads(engine.get_ast_as_json()):
        path = module["source"]["file"]
        if not path.endswith(_TEST_FILE_SUFFIX):
            continue
        package = "data." + _reference(module["ast"]["package"]["refr"])
        for rule in module["ast"].get("rules", []):
            head = rule.get("Spec", {}).get("head", {})
            compr = head.get("Compr")
            if compr is None or "Var" not in compr["refr"]:
                continue
            name = compr["refr"]["Var"]["value"]
            if not name.startswith(_TEST_PREFIX):
                continue
            test = RegoTest(package, name, path, compr["span"]["line"])
            found.setdefault(test.name, test)
    return sorted(found.values(), key=lambda test: (test.file, test.line))


def _reference(node: dict[str, Any]) -> str:
    if "Var" in node:
        return str(node["Var"]["value"])
    if "RefDot" in node:
        ref = node["RefDot"]
        return f"{_reference(ref['refr'])}.{ref['field'][1]}"
    raise ValueError(f"unsupported package reference {node!r}")


def _run(engine: Any, test: RegoTest) -> TestResult:
    started = time.perf_counter()
    try:
        value = json.loads(engine.eval_rule_as_json(test.name))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # regorus raises RuntimeError, or a Rust panic
        return TestResult(
            test, Outcome.ERROR, time.perf_counter() - started, one_line(regorus_message(err))
        )
    elapsed = time.perf_counter() - started
    if value is True:
        return TestResult(test, Outcome.PASS, elapsed)
    if value == _UNDEFINED:
        return TestResult(test, Outcome.FAIL, elapsed, "undefined")
    return TestResult(test, Outcome.FAIL, elapsed, f"evaluated to {json.dumps(value)}")


def _coverage(engine: Any) -> tuple[FileCoverage, ...]:
    report = json.loads(engine.get_coverage_report_as_json())
    return tuple(
        FileCoverage(
            path=entry["path"],
            covered=tuple(entry.get("covered", ())),
            not_covered=tuple(entry.get("not_covered", ())),
        )
        for entry in sorted(report.get("files", []), key=lambda entry: entry["path"])
        if not entry["path"].endswith(_TEST_FILE_SUFFIX)
    )
