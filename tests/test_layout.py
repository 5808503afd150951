"""tools/ imports only downward (CONTRIBUTING.md, "Layout"): the shared top-level helpers import
nothing of the subpackages; each subpackage imports the helpers, itself and the subpackages
before it; the sessions (dev_build, dev_test) sit on top; nothing imports a session but a
session or the noxfile."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
HELPERS = {"cli", "paths", "platforms", "text", "files"}
ORDER = ["recipe", "build", "validate_logs", "release", "bench"]  # a subpackage's allowed past
SESSIONS = {"dev_build", "dev_test"}


def unit(module: str) -> str:
    """tools.validate_logs.rules -> validate_logs; tools.cli -> cli."""
    return module.split(".")[1]


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "tools":
                found |= {f"tools.{a.name}" for a in node.names}
            elif node.module.startswith("tools."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tools.")}
    return found


MODULES = sorted(p for p in TOOLS.rglob("*.py") if "__pycache__" not in p.parts)


def allowed(me: str, other: str) -> bool:
    if other == me or other in HELPERS:
        return True
    if me in HELPERS:
        return False
    if me in SESSIONS:
        return other in ORDER or other in SESSIONS
    if other in SESSIONS:
        return False
    return other in ORDER and ORDER.index(other) < ORDER.index(me)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(TOOLS)) for p in MODULES])
def test_imports_go_downward(path: Path):
    rel = path.relative_to(TOOLS)
    me = rel.parts[0].removesuffix(".py")
    if me == "__init__":
        return
    wrong = sorted(m for m in imports_of(path) if not allowed(me, unit(m)))
    assert wrong == [], f"tools/{rel} imports upward or sideways: {wrong}"


def test_every_module_is_in_a_known_place():
    top = {p.stem for p in TOOLS.glob("*.py")} - {"__init__"}
    subpackages = {p.name for p in TOOLS.iterdir() if (p / "__init__.py").is_file()}
    assert top == HELPERS | SESSIONS
    assert subpackages == set(ORDER)
