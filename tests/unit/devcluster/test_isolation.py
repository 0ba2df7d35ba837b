"""Production packages never import devcluster (DESIGN.md section 2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[3]
_PRODUCTION = ("api", "webhook", "reconciler", "certs", "kubernaut")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", _PRODUCTION)
def test_production_package_does_not_import_devcluster(package: str) -> None:
    offenders = [
        str(path.relative_to(_ROOT))
        for path in sorted((_ROOT / package).rglob("*.py"))
        if any(name == "devcluster" or name.startswith("devcluster.") for name in _imports(path))
    ]
    assert offenders == []
