"""``kubernaut admit``: exit codes, multi-document YAML, directories, output formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from kubernaut.cli import main

ROOT = Path(__file__).resolve().parents[3]
VALID = ROOT / "examples" / "valid"
INVALID = ROOT / "examples" / "invalid"
POLICIES = str(ROOT / "policies")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["admit", "--policies", POLICIES, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_directory_of_valid_objects_is_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-f", str(VALID))
    assert code == 0, err
    assert out.count("ALLOWED") == 6
    assert "6 objects: 6 allowed, 0 denied" in out
    assert '+ spec.workflowDefinition.steps[0].timeout: "5m"' in out
    assert "kubernaut.ai/created-by: kubernetes-admin" in out


def test_an_invalid_object_exits_1_with_every_violation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "-f", str(INVALID / "wfe-dependency-cycle.yaml"))
    assert code == 1
    assert "DENIED 422 Invalid" in out
    assert "spec.workflowDefinition.steps[0].dependsOn: dependency cycle" in out
    assert "1 object: 0 allowed, 1 denied" in out


def test_multi_document_yaml_and_json_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    documents = [
        yaml.safe_load((VALID / "remediationrequest.yaml").read_text()),
        yaml.safe_load((INVALID / "rr-unknown-spec-field.yaml").read_text()),
    ]
    manifest = tmp_path / "two.yaml"
    manifest.write_text(yaml.safe_dump_all(documents))
    code, out, _ = run(capsys, "-f", str(manifest), "-o", "json", "--patch")
    assert code == 1
    report = json.loads(out)
    assert report["summary"] == {"objects": 2, "allowed": 1, "denied": 1, "skipped": 0}
    first, second = report["results"]
    assert first["source"] == f"{manifest}#1"
    assert first["allowed"] is True
    assert {"op": "add", "path": "/spec/timeouts/processing", "value": "5m"} in first["patch"]
    assert second["source"] == f"{manifest}#2"
    assert second["code"] == 422
    assert second["violations"] == [{"field": "spec.priority", "message": "unknown field"}]


def test_update_with_old_object_checks_the_approver(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys, "-f", str(VALID / "remediationrequest.yaml"), "-o", "json", "--user", "dave"
    )
    assert code == 0
    stored = json.loads(out)["results"][0]["mutated"]
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump(stored))
    stored["metadata"]["annotations"]["kubernaut.ai/approval"] = "approved"
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(stored))
    args = ("-f", str(new), "--operation", "UPDATE", "--old", str(old), "-o", "yaml")
    code, out, _ = run(capsys, *args, "--user", "dave")
    assert code == 1
    assert "nobody approves a request they created" in out
    code, out, _ = run(capsys, *args, "--user", "erin")
    assert code == 0
    assert (
        yaml.safe_load(out)["results"][0]["mutated"]["metadata"]["annotations"][
            "kubernaut.ai/approved-by"
        ]
        == "erin"
    )


def test_objects_of_other_groups_are_skipped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "deployment.json"
    manifest.write_text(
        json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}})
    )
    code, out, _ = run(capsys, "-f", str(manifest))
    assert code == 0
    assert "SKIPPED" in out
    assert "1 object: 0 allowed, 0 denied, 1 skipped" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [", "invalid YAML"),
        ("- 1\n- 2\n", "expected a Kubernetes object (a mapping), got list"),
        ("metadata: {name: x}\n", "not a Kubernetes object: apiVersion is missing"),
        ("", "no object in this file"),
    ],
)
def test_input_errors_exit_2_without_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(content)
    code, out, err = run(capsys, "-f", str(manifest))
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "-f", str(tmp_path / "missing.yaml"))[0] == 2
    code, _, err = run(capsys, "-f", str(VALID), "--operation", "UPDATE")
    assert code == 2
    assert "--old" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "-f", str(empty))
    assert code == 2
    assert "no *.yaml, *.yml or *.json file" in err


def test_broken_policies_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policies)
    (policies / "admission" / "broken.rego").write_text(
        "package kubernaut.admission\ndeny contains if {"
    )
    code = main(["admit", "--policies", str(policies), "-f", str(VALID)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "do not load" in err
