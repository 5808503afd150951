"""End to end against a REAL conda-build (opt-in): dev_build's reuse cycle, and a release that is
interrupted while its second variant builds and then resumed.

CI has no conda-build, so this module runs only when ``PYTORCH_TASKS_REAL_CONDA_BUILD`` names a
conda-build executable; ``PYTORCH_TASKS_REAL_CONDA_BUILD_CHANNEL=<url>`` adds
``--override-channels -c <url>`` for conda-build (after ``--``). The fixture recipe
(tests/fixtures/realcb/) has no requirements, so an empty indexed channel is enough::

    PYTORCH_TASKS_REAL_CONDA_BUILD=/path/to/conda-build \\
    PYTORCH_TASKS_REAL_CONDA_BUILD_CHANNEL=file:///path/to/empty/channel \\
        python -m pytest -s tests/test_real_conda_build.py

With ``-s`` the summary of every dev_build run and the release's own lines are printed.

The fixture: the real recipe's knob contract (``build: script_env``), a path source of 41 C/C++
units compiled unconditionally through ``"$PYTORCH_CCACHE" gcc``, one patch (against NOTES.txt),
a build.sh that reports whether it saw the previous build's work dir (a marker file there) and can
be held (``<recipe>/../hold-<blas_impl>``), and test commands that run the program and print
pytest-style lines for validate_logs. Its variant config gives py311-cpu-mkl and
py312-cpu-openblas.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import dev_build, dev_test
from tools.cli import run_main
from tools.paths import REPO_ROOT

CONDA_BUILD_ENV = "PYTORCH_TASKS_REAL_CONDA_BUILD"
CHANNEL_ENV = "PYTORCH_TASKS_REAL_CONDA_BUILD_CHANNEL"
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "realcb"
PATCH = "0001-notes-status.patch"
MARKER = ".realcb-work-marker"  # written by the fixture's build.sh in its work dir
DEV_VARIANT = "py311-cpu-mkl"  # dev_build's default: python 3.11, CPU, the first BLAS
VARIANTS = ("py311-cpu-mkl", "py312-cpu-openblas")
UNITS = 1 + len(list((FIXTURE / "src" / "units").glob("unit*.c*")))  # main.c + units/
HOLD_TIMEOUT_S = 150
RUN_TIMEOUT_S = 300

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get(CONDA_BUILD_ENV),
        reason=f"needs a real conda-build: set {CONDA_BUILD_ENV}=/path/to/conda-build (and "
        f"{CHANNEL_ENV}=<channel url> where no default channel is reachable)",
    ),
]


def _real_conda_build() -> str:
    path = Path(os.environ[CONDA_BUILD_ENV]).expanduser()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{CONDA_BUILD_ENV}={path} is not an executable file")
    return str(path)


def _conda_build_extra() -> list[str]:
    channel = os.environ.get(CHANNEL_ENV)
    return ["--", "--override-channels", "-c", channel] if channel else []


@pytest.fixture
def box(tmp_path, monkeypatch):
    """A copy of the fixture recipe (the tests edit it), and per-test croot, logs and ccache."""
    root = tmp_path / "realcb"
    shutil.copytree(FIXTURE, root)
    # Per test: ccache's cache dir is $XDG_CACHE_HOME/pytorch-conda-tasks/ccache (tools.ccache).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for name in ("CONDA_PY", "PYTORCH_SKIP_TESTS", "PYTORCH_CCACHE_REMOTE"):
        monkeypatch.delenv(name, raising=False)
    # conda-build also reads a conda_build_config.yaml in its current directory: not the repo's.
    monkeypatch.chdir(tmp_path)
    b = type("Box", (), {})()
    b.tmp, b.root = tmp_path, root
    b.recipe, b.variants = root / "recipe", root / "variants.yaml"
    b.croot, b.logs = tmp_path / "croot", tmp_path / "logs"
    b.conda_build = _real_conda_build()
    return b


# --------------------------------------------------------------------------- dev_build


def _session_args(box) -> list[str]:
    """dev_build's and dev_test's options for the fixture recipe, croot, logs and conda-build."""
    return [
        "--recipe-dir",
        str(box.recipe),
        "--variant-config",
        str(box.variants),
        "--croot",
        str(box.croot),
        "--log-dir",
        str(box.logs),
        "--conda-build",
        box.conda_build,
    ]


def _dev_build(box, capsys, label: str) -> tuple[int, str, str]:
    args = [*_session_args(box), *_conda_build_extra()]
    code = run_main("nox -s dev_build --", dev_build.main, args)
    out, err = capsys.readouterr()
    head = "=" * 30 + " dev_build summary "
    summary = out[out.index(head) :] if head in out else "(no summary)\n" + out[-4000:] + err
    with capsys.disabled():
        print(f"\n--- dev_build run {label}: exit {code}\n{summary.rstrip()}", flush=True)
    return code, out, summary


def _summary_field(summary: str, name: str) -> str:
    m = re.search(rf"^  {re.escape(name)}:\s+(.*)$", summary, re.M)
    assert m, f"no '{name}:' line in the summary:\n{summary}"
    return m.group(1)


def _ccache(summary: str) -> tuple[float, int, int]:
    text = _summary_field(summary, "ccache")
    m = re.match(r"([\d.]+)% \((\d+) hits, (\d+) misses\)", text)
    assert m, f"no ccache hit rate in the summary: {text!r}"
    return float(m.group(1)), int(m.group(2)), int(m.group(3))


def _build_sh(out: str, what: str) -> str:
    """A line build.sh printed (``REALCB <what>: ...``), from the streamed conda-build output."""
    m = re.search(rf"^REALCB {re.escape(what)}: (.*)$", out, re.M)
    assert m, f"build.sh printed no 'REALCB {what}:' line"
    return m.group(1)


def _marker(box, work: Path) -> str:
    """The count build.sh left in ``work``: how many builds that work dir has seen."""
    path = work / MARKER
    assert path.is_file(), (
        f"{work} was not kept (no {MARKER}); the croot holds: "
        f"{sorted(p.name for p in box.croot.iterdir())}"
    )
    return path.read_text().strip()


def _check_passed(code: int, out: str, summary: str) -> None:
    assert code == 0, summary
    assert _summary_field(summary, "build") == "succeeded", summary
    assert _summary_field(summary, "variant") == DEV_VARIANT
    assert _summary_field(summary, "tests").startswith("PASS (2 passed, 0 failed"), summary
    assert f"REALCB compiled {UNITS} units" in out


def test_dev_build_fresh_reuse_then_patch_edit(box, capsys):
    try:
        from tools.build import ccache

        ccache.find_ccache()
    except Exception as exc:  # ToolError: no ccache wheel beside this Python, none on PATH
        pytest.skip(f"dev_build needs a ccache here: {exc}")

    # 1. fresh: nothing to reuse; every unit misses the (empty, per-test) cache.
    code, out, summary = _dev_build(box, capsys, "1 (fresh)")
    _check_passed(code, out, summary)
    assert _summary_field(summary, "work dir").startswith("fresh"), summary
    assert _build_sh(out, "work dir") == "fresh (no marker)"
    assert _build_sh(out, "notes") == "status: patched"
    _rate, hits, misses = _ccache(summary)
    assert hits + misses == UNITS, summary
    work = box.croot / "work"
    # Kept for the next run: conda-build ran with --dirty --no-remove-work-dir.
    assert _marker(box, work) == "1"

    # 2. unchanged: the work dir is reused (build.sh sees its marker), ccache serves every unit.
    code, out, summary = _dev_build(box, capsys, "2 (unchanged)")
    _check_passed(code, out, summary)
    assert _summary_field(summary, "work dir").startswith("reused"), summary
    assert _build_sh(out, "work dir") == "previous work dir seen (marker of build 1)"
    rate, hits, misses = _ccache(summary)
    assert hits + misses == UNITS and rate >= 99.0, summary
    assert _marker(box, work) == "2"
    assert not list(box.croot.glob(dev_build.MOVED_ASIDE_PREFIX + "*"))

    # 3. the patch edited: fresh again, the old work dir moved aside (not deleted); the recompile
    #    at the same paths still hits ccache.
    patch = box.recipe / PATCH
    text = patch.read_text()
    assert "+status: patched\n" in text
    patch.write_text(text.replace("+status: patched\n", "+status: patched again\n"))
    code, out, summary = _dev_build(box, capsys, "3 (patch edited)")
    _check_passed(code, out, summary)
    assert _summary_field(summary, "work dir").startswith("fresh"), summary
    assert PATCH in summary, summary  # the reason names the changed file
    assert _build_sh(out, "work dir") == "fresh (no marker)"
    assert _build_sh(out, "notes") == "status: patched again"
    rate, hits, misses = _ccache(summary)
    assert hits + misses == UNITS and rate >= 99.0, summary
    assert _marker(box, work) == "1"
    moved = sorted(box.croot.glob(dev_build.MOVED_ASIDE_PREFIX + "*"))
    assert len(moved) == 1, sorted(p.name for p in box.croot.iterdir())
    old_work = moved[0] / "work"
    assert _marker(box, old_work) == "2"  # run 2's work dir, intact
    assert "status: patched\n" in (old_work / "NOTES.txt").read_text()
    assert str(old_work) in summary, summary


# --------------------------------------------------------------------------- dev_test


def _dev_test(box, capsys, label: str, *extra: str) -> tuple[int, str]:
    args = [*_session_args(box), *extra, *_conda_build_extra()]
    code = run_main(dev_test.PROG, dev_test.main, args)
    out, err = capsys.readouterr()
    head = "=" * 30 + " dev_test summary "
    summary = out[out.index(head) :] if head in out else "(no summary)\n" + out[-4000:] + err
    with capsys.disabled():
        print(f"\n--- dev_test run {label}: exit {code}\n{summary.rstrip()}", flush=True)
    return code, out + err


def test_dev_test_fails_one_test_then_passes_it(box, capsys, monkeypatch):
    """dev_build once (one test fails), then dev_test --failed-only until green: only the failed
    test runs, from the package dev_build made, and dev_build's work dir survives."""
    monkeypatch.setenv("REALCB_BREAK_UNITS", "1")  # the test phase sees the caller's environment
    code, out, summary = _dev_build(box, capsys, "1 (one test fails)")
    assert code == 1 and _summary_field(summary, "tests").startswith("FAIL"), summary
    work = box.croot / "work"
    assert _marker(box, work) == "1"

    code, out = _dev_test(box, capsys, "1 (still broken)", "--failed-only")
    assert code == 1, out
    assert "still failing: 1 (test_realcb.py::TestDemo::test_units)" in out
    assert "REALCB selection" in out and "test_runs PASSED" not in out.split("REALCB selection")[1]

    monkeypatch.delenv("REALCB_BREAK_UNITS")
    code, out = _dev_test(box, capsys, "2 (fixed)", "--failed-only")
    assert code == 0, out
    assert "fixed: 1 (test_realcb.py::TestDemo::test_units)" in out
    assert _marker(box, work) == "1"  # conda-build --test left dev_build's work dir in place
    code, out, summary = _dev_build(box, capsys, "2 (after dev_test: reused)")
    _check_passed(code, out, summary)
    assert _summary_field(summary, "work dir").startswith("reused"), summary


# --------------------------------------------------------------------------- release


def _release_lines(text: str) -> str:
    """The release's own lines: progress and outcome per variant, then the report."""
    lines = text.splitlines()
    results = [i for i, line in enumerate(lines) if re.match(r"\[\d+/\d+\] \S+: ", line)]
    tail_from = results[-1] + 1 if results else len(lines)
    own = [
        line
        for line in lines[:tail_from]
        if re.match(r"(\[\d+/\d+\] |pre-flight: |  earlier log |note: |warning: )", line)
    ]
    return "\n".join(own + lines[tail_from:])


def _wait_for(path: Path, proc: subprocess.Popen, out_path: Path) -> None:
    deadline = time.monotonic() + HOLD_TIMEOUT_S
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(
                f"release exited ({proc.returncode}) before variant 2 was held:\n"
                + out_path.read_text(errors="replace")[-6000:]
            )
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(
                f"variant 2 never reached build.sh's hold within {HOLD_TIMEOUT_S}s:\n"
                + out_path.read_text(errors="replace")[-6000:]
            )
        time.sleep(0.2)


def test_release_interrupted_then_resumed(box):
    artifacts = box.tmp / "release"
    argv = [
        sys.executable,
        "-m",
        "tools.release",
        "--recipe",
        str(box.recipe),
        "--config",
        str(box.variants),
        "--artifacts",
        str(artifacts),
        "--conda-build",
        box.conda_build,
        "--allow-dirty",
        *_conda_build_extra(),
    ]
    env = dict(
        os.environ,
        PYTORCH_RELEASE_FREE_BYTES=str(10**15),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    hold = box.root / "hold-openblas"  # <recipe>/../hold-<blas_impl>: only variant 2 waits
    reached = hold.with_name(hold.name + ".reached")
    hold.touch()

    # First run: variant 1 builds; variant 2 is held in build.sh, then the release is interrupted
    # (SIGINT to its process group, as Ctrl-C would; it passes it on to conda-build's group).
    first_out = box.tmp / "release-1.out"
    with open(first_out, "wb") as fh:
        proc = subprocess.Popen(
            argv,
            cwd=box.tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for(reached, proc, first_out)
            os.killpg(proc.pid, signal.SIGINT)
            code = proc.wait(timeout=RUN_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    hold.unlink()
    out = first_out.read_text(errors="replace")
    print(
        f"\n--- release run 1 (interrupted during variant 2): exit {code}\n{_release_lines(out)}",
        flush=True,
    )
    assert code == 130, out[-6000:]
    assert re.search(rf"^\[1/2\] {VARIANTS[0]}: built, tests pass \(2 passed", out, re.M), out
    assert re.search(rf"^\[2/2\] {VARIANTS[1]}: interrupted", out, re.M), out
    root = artifacts / "1.0"
    state = json.loads((root / "state.json").read_text())
    records = state["variants"]
    assert records[VARIANTS[0]]["build"] == "built" and records[VARIANTS[0]]["verdict"] == "pass"
    assert records[VARIANTS[1]]["build"] == "interrupted"

    # Resumed: variant 1 skipped as already built, variant 2 built; a passing report.
    done = subprocess.run(
        argv,
        cwd=box.tmp,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    out = done.stdout.decode(errors="replace")
    print(
        f"\n--- release run 2 (resumed): exit {done.returncode}\n{_release_lines(out)}", flush=True
    )
    assert done.returncode == 0, out[-6000:]
    assert re.search(rf"^\[1/2\] {VARIANTS[0]}  skipped: built and validated", out, re.M), out
    assert re.search(rf"^\[2/2\] {VARIANTS[1]}: built, tests pass \(2 passed", out, re.M), out
    assert "REALCB holding" not in out
    assert list((root / "logs" / "previous").glob(f"{VARIANTS[1]}.*.log"))  # interrupted log kept
    report = json.loads((root / "release-report.json").read_text())
    assert report["verdict"] == "pass", report
    rows = {r["name"]: r for r in report["variants"]}
    assert set(rows) == set(VARIANTS)
    assert all(r["build"] == "built" and r["verdict"] == "pass" for r in rows.values()), rows
    assert rows[VARIANTS[0]]["from_earlier_run"] and not rows[VARIANTS[1]]["from_earlier_run"]
    assert (root / "release-report.md").is_file() and (root / "log_files.zip").is_file()
    packages = sorted(p.name for p in (root / "channel").rglob("*.conda"))
    assert len(packages) == 2, packages
