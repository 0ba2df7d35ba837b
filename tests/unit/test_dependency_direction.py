"""The dependency rules of DESIGN.md section 2, checked on the source's import statements."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> top-level packages it must never import
FORBIDDEN = {
    "api": {"webhook", "reconciler", "devcluster", "tests", "certs"},
    "webhook": {"reconciler", "devcluster", "tests"},
    "reconciler": {"webhook", "devcluster", "tests"},
    "certs": {"api", "webhook", "reconciler", "devcluster", "tests"},
}
# The reconciler evaluates Rego (preconditions, classification, approval) with
# the policy engine, which lives in webhook.policy; nothing else of the webhook.
ALLOWED_SUBMODULES = {"reconciler": {"webhook": ("webhook.policy",)}}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def _forbidden_imports(package: str, path: Path) -> list[str]:
    allowed = ALLOWED_SUBMODULES.get(package, {})
    bad = []
    for module in _imported_modules(path):
        top = module.split(".")[0]
        if top not in FORBIDDEN[package]:
            continue
        if any(module == ok or module.startswith(ok + ".") for ok in allowed.get(top, ())):
            continue
        bad.append(module)
    return sorted(bad)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_dependency_direction(package: str) -> None:
    sources = sorted((ROOT / package).rglob("*.py"))
    assert sources, f"no sources found for {package}"
    violations = {
        str(path.relative_to(ROOT)): _forbidden_imports(package, path) for path in sources
    }
    assert {path: bad for path, bad in violations.items() if bad} == {}


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text(
        "import devcluster.server\nfrom tests.unit import x\n"
        "from webhook.policy import engine\nfrom webhook.app import create_app\n"
    )
    assert _forbidden_imports("reconciler", source) == [
        "devcluster.server",
        "tests.unit",
        "webhook.app",
    ]
