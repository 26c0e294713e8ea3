"""The web reads through the engine's read models and changes through its commands, and nothing else of it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = sorted((ROOT / "web").rglob("*.py"))
PROJECT = ("engine", "rules", "notifications", "web", "samverkan")
# What the web may take from the engine: the one door, and the few values it is built with.
ENGINE = {
    "engine.api": None,  # any name
    "engine.api.commands": None,
    "engine.api.pages": None,
    "engine.api.pages_agreement": None,
    "engine.api.pages_dashboard": None,
    "engine.clock": None,
    "engine.keys": {"load_secret"},
    "engine.db": {"Database"},
    "engine.users": {"Person"},
    # Until h-report moves rendering to notifications.report; building the report goes through the read model.
    "engine.report": {"render_report"},
}


def _imports(path: Path) -> list[tuple[str, str | None, bool]]:
    """(module, name or None, inside a function) for every import in the file."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nested = {
        id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(f)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, id(node) in nested) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.module, a.name, id(node) in nested) for a in node.names]
    return found


@pytest.mark.parametrize("path", WEB, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_web_takes_from_the_engine_only_what_the_door_lets_through(path: Path) -> None:
    for module, name, inside in _imports(path):
        assert not module.startswith("sqlalchemy"), f"{module} in {path.name}"
        assert not (inside and module.split(".")[0] in PROJECT), f"{module} imported inside a function"
        if module.split(".")[0] != "engine":
            continue
        assert module in ENGINE, f"{path.name} imports {module}"
        allowed = ENGINE[module]
        assert allowed is None or name in allowed, f"{path.name} imports {name} from {module}"
    assert "transaction(" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [*WEB, *sorted((ROOT / "engine" / "api").glob("pages*.py"))], ids=lambda p: p.name)
def test_no_module_of_the_web_or_its_read_models_is_over_500_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 500
