"""Fixtures shared by the session tests (dev_build, dev_test end to end)."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest

from tools.paths import RECIPE_DIR, REPO_ROOT

STANDIN = REPO_ROOT / "tests" / "standin" / "conda-build"

# Outside settings that would change what a session or the stand-in does (the stand-in's fault
# injection, conda-build's CONDA_PY, the recipe's knobs for the tests).
_CLEARED_ENV = (
    "CONDA_BUILD_STANDIN_FAIL_BUILD",
    "CONDA_BUILD_STANDIN_FAIL_TESTS",
    "CONDA_BUILD_STANDIN_SLEEP",
    "CONDA_BUILD_STANDIN_FLAKY",
    "CONDA_PY",
    "PYTORCH_SKIP_TESTS",
    "PYTORCH_TEST_LEVEL",
    "PYTORCH_TEST_SELECTION",
)


@pytest.fixture
def session_box(tmp_path, monkeypatch):
    """A sandbox for a session run: a copy of the recipe (tracked files are never edited), a
    croot, a log folder and HOME under tmp_path, the cwd there, no outside knobs, and ``args``
    pointing the session at them and at the conda-build stand-in."""
    recipe = tmp_path / "recipe"
    shutil.copytree(RECIPE_DIR, recipe)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path)
    box = SimpleNamespace(
        root=tmp_path,
        recipe=recipe,
        croot=tmp_path / "croot",
        logs=tmp_path / "logs",
        standin=STANDIN,
    )
    box.args = [
        "--croot",
        str(box.croot),
        "--log-dir",
        str(box.logs),
        "--recipe-dir",
        str(recipe),
        "--conda-build",
        str(STANDIN),
    ]
    return box
