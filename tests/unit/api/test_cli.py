from pathlib import Path

import pytest

from api.crds import render_crds
from kubernaut.cli import main


def test_crds_writes_every_file_then_check_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "crds"
    assert main(["crds", "--out", str(out)]) == 0
    generated = render_crds()
    assert sorted(p.name for p in out.iterdir()) == sorted(generated)
    for name, text in generated.items():
        assert (out / name).read_text(encoding="utf-8") == text
    capsys.readouterr()
    assert main(["crds", "--out", str(out), "--check"]) == 0
    assert capsys.readouterr().err == ""
    # Writing again changes nothing and says so by printing nothing.
    assert main(["crds", "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""


def test_check_names_each_stale_or_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["crds", "--out", str(tmp_path)]) == 0
    edited = tmp_path / "aianalyses.kubernaut.ai.yaml"
    edited.write_text(edited.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    (tmp_path / "notificationrequests.kubernaut.ai.yaml").unlink()
    capsys.readouterr()
    assert main(["crds", "--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "aianalyses.kubernaut.ai.yaml: differs from the models (run `make crds`)" in err
    assert "notificationrequests.kubernaut.ai.yaml" in err
    assert "workflowexecutions" not in err


def test_unwritable_output_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    assert main(["crds", "--out", str(blocker / "crds")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kubernaut crds: error: cannot write")
    assert "Traceback" not in err
