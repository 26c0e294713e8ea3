"""The structure docs/architecture.md promises, for what import-linter cannot see.

import-linter (pyproject.toml, run by ``tasks.py test``) holds the layers and the one
door. These hold the two rules it has no contract for: a project import inside a
function (the way a crossing used to be hidden) and a module grown past 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rules", "engine", "notifications", "web", "samverkan")
MAX_LINES = 500


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts)


def _project_imports_inside_functions(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                names = [a.name for a in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                names = [inner.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] in PACKAGES:
                    found.append(f"{path.relative_to(ROOT)}:{inner.lineno}: {name}")
    return found


def test_the_packages_are_where_the_architecture_says() -> None:
    assert all((ROOT / pkg / "__init__.py").is_file() for pkg in PACKAGES)
    assert len(_modules()) > 40


def test_no_module_imports_a_project_module_inside_a_function() -> None:
    found = [hit for path in _modules() for hit in _project_imports_inside_functions(path)]
    assert found == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
