"""api/ imports only the standard library, pydantic, yaml and itself (cli: kubernaut.errors)."""

import ast
import sys
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[3] / "api"
ALLOWED = {"api", "pydantic", "yaml"}


@pytest.mark.parametrize("path", sorted(API.glob("*.py")), ids=lambda p: p.name)
def test_api_module_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    allowed = ALLOWED | set(sys.stdlib_module_names)
    if path.name == "cli.py":
        allowed |= {"kubernaut"}
    assert imported - allowed == set()
