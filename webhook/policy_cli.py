"""``kubernaut policy test`` and ``kubernaut policy eval``: offline tools for policy authors.

``policy test [DIR] [-v] [--coverage] [--run REGEX]`` runs every ``test_*``
rule of the ``*_test.rego`` files under DIR (default ``policies``) like
``opa test``: exit 0 when all pass, 1 on a failure, an error or a compile
error, 2 on a usage error.

``policy eval -d DIR [-i INPUT] [--format json|raw] [--fail] QUERY`` evaluates
a Rego query against DIR's modules and data (like ``opa eval``). ``json``
prints ``{"result": [{"expressions": [{"value", "text", "location"}],
"bindings"}]}`` (``{}`` when undefined); ``raw`` prints just the value of the
first expression as JSON (nothing when undefined). Exit 1 on an evaluation
error, or with ``--fail`` when the result is undefined.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from kubernaut.errors import CommandError

DEFAULT_DIRECTORY = "policies"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = subparsers.add_parser(
        "policy", help="test and evaluate Rego policies", description="Rego policy tools."
    )
    commands = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND")
    policy.set_defaults(handler=lambda _args: _usage(policy))

    test = commands.add_parser(
        "test",
        help="run the Rego unit tests (test_* rules of *_test.rego files)",
        description="Run the test_* rules of every *_test.rego file under DIR, like opa test.",
    )
    test.add_argument("directory", nargs="?", default=DEFAULT_DIRECTORY, metavar="DIR")
    test.add_argument(
        "-v", "--verbose", action="store_true", help="list every test, not only failures"
    )
    test.add_argument(
        "--coverage", action="store_true", help="report covered lines per policy file"
    )
    test.add_argument("--run", metavar="REGEX", help="only run tests whose full name matches REGEX")
    test.set_defaults(handler=_test)

    evaluate = commands.add_parser(
        "eval",
        help="evaluate a Rego query, like opa eval",
        description="Evaluate a Rego query against the modules and data/ of a policy directory.",
    )
    evaluate.add_argument("query", metavar="QUERY", help='e.g. "data.kubernaut.admission.deny"')
    evaluate.add_argument(
        "-d", "--data", dest="directory", default=DEFAULT_DIRECTORY, metavar="DIR"
    )
    evaluate.add_argument(
        "-i", "--input", metavar="FILE", help="input document (JSON or YAML; - for stdin)"
    )
    evaluate.add_argument("--format", choices=("json", "raw"), default="json")
    evaluate.add_argument("--fail", action="store_true", help="exit 1 when the result is undefined")
    evaluate.set_defaults(handler=_eval)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# -- policy test ----------------------------------------------------------------


def _test(args: argparse.Namespace) -> int:
    from webhook.policy.errors import BundleLoadError
    from webhook.policy.rego_tests import run_policy_tests

    directory = _directory(args.directory)
    pattern = None
    if args.run:
        try:
            pattern = re.compile(args.run)
        except re.error as err:
            raise CommandError(
                f"--run {args.run!r} is not a valid regular expression: {err}"
            ) from None
    try:
        run = run_policy_tests(directory, pattern=pattern, coverage=args.coverage)
    except BundleLoadError as err:
        print(f"{directory}: compile error:\n{err}", file=sys.stderr)
        return 1
    for line in report_lines(run, verbose=args.verbose):
        print(line)
    if not run.results:
        print(f"no tests found under {directory}", file=sys.stderr)
    return 0 if run.succeeded else 1


def report_lines(run: Any, *, verbose: bool) -> Iterator[str]:
    """The ``policy test`` report, line by line: results, coverage, summary."""
    from webhook.policy.rego_tests import Outcome

    printed = False
    current_file = None
    for result in run.results:
        if not verbose and result.outcome is Outcome.PASS:
            continue
        if result.test.file != current_file:
            current_file = result.test.file
            yield f"{current_file}:"
        yield f"{result.test.name}: {result.outcome.value} ({_duration(result.seconds)})"
        if result.message:
            yield f"  {result.test.file}:{result.test.line}: {result.message}"
        printed = True
    if run.coverage is not None:
        if printed:
            yield ""
        yield "Coverage:"
        for entry in run.coverage:
            missing = _ranges(entry.not_covered)
            suffix = f" (not covered: lines {missing})" if missing else ""
            yield f"  {entry.path}: {entry.percent:.1f}%{suffix}"
        covered = sum(len(entry.covered) for entry in run.coverage)
        total = covered + sum(len(entry.not_covered) for entry in run.coverage)
        yield f"  total: {100.0 * covered / total if total else 100.0:.1f}% of {total} lines"
        printed = True
    if printed:
        yield "-" * 80
    total = len(run.results)
    yield f"PASS: {run.count(Outcome.PASS)}/{total}"
    for outcome in (Outcome.FAIL, Outcome.ERROR):
        if run.count(outcome):
            yield f"{outcome.value}: {run.count(outcome)}/{total}"


def _duration(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f}ms"
    return f"{seconds:.2f}s"


def _ranges(lines: tuple[int, ...]) -> str:
    parts: list[str] = []
    ordered = sorted(lines)
    index = 0
    while index < len(ordered):
        start = end = ordered[index]
        while index + 1 < len(ordered) and ordered[index + 1] == end + 1:
            index += 1
            end = ordered[index]
        parts.append(str(start) if start == end else f"{start}-{end}")
        index += 1
    return ", ".join(parts)


# -- policy eval ------------------------------------------------------------------


def _eval(args: argparse.Namespace) -> int:
    from webhook.policy.bundle import load_bundle
    from webhook.policy.compiler import compile_bundle, regorus_message
    from webhook.policy.errors import BundleLoadError

    directory = _directory(args.directory)
    document = _read_input(args.input) if args.input else None
    try:
        engine = compile_bundle(load_bundle(directory, include_tests=True))
    except BundleLoadError as err:
        print(f"{directory}: compile error:\n{err}", file=sys.stderr)
        return 1
    if document is not None:
        try:
            engine.set_input(document)
        except (TypeError, ValueError) as err:
            raise CommandError(f"{args.input}: input is not a JSON document: {err}") from None
    try:
        answer = json.loads(engine.eval_query_as_json(args.query))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:  # regorus raises RuntimeError, or a Rust panic
        print(f"evaluation error:\n{regorus_message(err)}", file=sys.stderr)
        return 1
    results = answer.get("result") or []
    if args.format == "raw":
        if results:
            print(json.dumps(results[0]["expressions"][0]["value"], indent=2))
    else:
        print(json.dumps({"result": results} if results else {}, indent=2))
    return 1 if args.fail and not results else 0


def _read_input(name: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except OSError as err:
        raise CommandError(f"cannot read input {name}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise CommandError(f"input {name} is not UTF-8 text") from None
    try:
        if name.endswith((".yaml", ".yml")):
            return yaml.safe_load(text)
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CommandError(f"{name}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}") from None
    except yaml.YAMLError as err:
        raise CommandError(f"{name}: invalid YAML: {err}") from None


def _directory(name: str) -> Path:
    directory = Path(name)
    if not directory.is_dir():
        raise CommandError(f"policy directory {name} does not exist")
    return directory
