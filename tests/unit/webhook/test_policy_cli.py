"""`kubernaut policy test` and `kubernaut policy eval`: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubernaut.cli import main

POLICIES = Path(__file__).resolve().parents[3] / "policies"

MODULE = (
    'package demo\n\nallow if input.user == "alice"\n\ngreet(name) := concat(" ", ["hi", name])\n'
)
TESTS = """package demo_test

import data.demo

test_alice_allowed if demo.allow with input as {"user": "alice"}

test_bob_allowed if demo.allow with input as {"user": "bob"}

test_error if 1 / 0 == 1
"""


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_shipped_policy_tests_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", str(POLICIES)]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    passed, total = summary.removeprefix("PASS: ").split("/")
    assert passed == total
    assert int(total) >= 100


def test_failures_and_errors_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "demo.rego", MODULE)
    _write(tmp_path, "demo_test.rego", TESTS)
    assert main(["policy", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "data.demo_test.test_alice_allowed" not in out  # passes are listed with -v only
    assert "data.demo_test.test_bob_allowed: FAIL" in out
    assert "demo_test.rego:7: undefined" in out
    assert "data.demo_test.test_error: ERROR" in out
    assert "divide by zero" in out
    assert out.strip().splitlines()[-3:] == ["PASS: 1/3", "FAIL: 1/3", "ERROR: 1/3"]


def test_verbose_run_filter_and_coverage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "demo.rego", MODULE)
    _write(tmp_path, "demo_test.rego", TESTS)
    assert main(["policy", "test", str(tmp_path), "-v", "--run", "alice", "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "data.demo_test.test_alice_allowed: PASS (" in out
    assert "test_bob_allowed" not in out
    assert "demo.rego: 50.0% (not covered: lines 5)" in out
    assert out.strip().splitlines()[-1] == "PASS: 1/1"


def test_compile_error_exits_1_with_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "demo.rego", "package demo\n\nallow if {\n")
    assert main(["policy", "test", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "compile error" in err
    assert "demo.rego:4:1" in err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    _write(tmp_path, "demo.rego", MODULE)
    assert main(["policy", "test", str(tmp_path), "--run", "("]) == 2
    assert "not a valid regular expression" in capsys.readouterr().err


def test_eval_prints_opa_style_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    review = tmp_path / "input.yaml"
    review.write_text("user: alice\n")
    code = main(
        [
            "policy",
            "eval",
            "-d",
            str(POLICIES),
            "-i",
            str(review),
            "data.kubernaut.config.maxReplicas",
        ]
    )
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    expression = document["result"][0]["expressions"][0]
    assert expression["value"] == 50
    assert expression["text"] == "data.kubernaut.config.maxReplicas"


def test_eval_raw_and_undefined(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "demo.rego", MODULE)
    review = tmp_path / "input.json"
    review.write_text('{"user": "alice"}')
    assert (
        main(
            [
                "policy",
                "eval",
                "-d",
                str(tmp_path),
                "-i",
                str(review),
                "--format",
                "raw",
                "data.demo.allow",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == "true"
    assert main(["policy", "eval", "-d", str(tmp_path), "data.demo.allow"]) == 0
    assert json.loads(capsys.readouterr().out) == {}
    assert main(["policy", "eval", "-d", str(tmp_path), "--fail", "data.demo.allow"]) == 1


def test_eval_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "demo.rego", MODULE)
    review = tmp_path / "input.json"
    review.write_text('{"user": ')
    assert main(["policy", "eval", "-d", str(tmp_path), "-i", str(review), "data.demo.allow"]) == 2
    assert "invalid JSON" in capsys.readouterr().err
    assert (
        main(["policy", "eval", "-d", str(tmp_path), "-i", str(tmp_path / "none.json"), "x"]) == 2
    )


def test_eval_error_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "demo.rego", MODULE)
    assert main(["policy", "eval", "-d", str(tmp_path), "1 / 0"]) == 1
    assert "divide by zero" in capsys.readouterr().err
