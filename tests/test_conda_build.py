"""tools/build/conda_build.py: finding conda-build, its argv, and the logged, interruptible run."""

from __future__ import annotations

import io
import os
import signal
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from tools.build import conda_build
from tools.cli import ToolError


def _script(path, body):
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_on_path_then_conda_exe_then_clear_error(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(bin_dir / "conda-build", "print('x')\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    assert conda_build.find_conda_build() == str(bin_dir / "conda-build")

    base = tmp_path / "base" / "bin"
    base.mkdir(parents=True)
    _script(base / "conda-build", "")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("CONDA_EXE", str(base / "conda"))
    assert conda_build.find_conda_build() == str(base / "conda-build")

    monkeypatch.delenv("CONDA_EXE")
    with pytest.raises(ToolError) as err:
        conda_build.find_conda_build()
    assert err.value.exit_code == 2
    assert "conda install -n base -c conda-forge conda-build" in err.value.message


def test_explicit_path_must_be_executable(tmp_path):
    not_exec = tmp_path / "conda-build"
    not_exec.write_text("")
    with pytest.raises(ToolError, match="not an executable file"):
        conda_build.find_conda_build(str(not_exec))
    with pytest.raises(ToolError, match="not an executable file"):
        conda_build.find_conda_build(str(tmp_path / "missing"))
    not_exec.chmod(0o755)
    assert conda_build.find_conda_build(str(not_exec)) == str(not_exec.resolve())


def test_build_argv_is_a_list_with_real_flags(tmp_path):
    argv = conda_build.build_argv(
        "conda-build",
        recipe_dir=tmp_path / "recipe",
        croot=tmp_path / "croot",
        variant_files=[tmp_path / "cbc.yaml", tmp_path / "v.yaml"],
        dirty=True,
        no_build_id=True,
        no_remove_work_dir=True,
        extra=["--debug"],
    )
    assert argv == [
        "conda-build",
        str(tmp_path / "recipe"),
        "--croot",
        str(tmp_path / "croot"),
        "-m",
        str(tmp_path / "cbc.yaml"),
        "-m",
        str(tmp_path / "v.yaml"),
        "--no-build-id",
        "--dirty",
        "--no-remove-work-dir",
        "--debug",
    ]
    plain = conda_build.build_argv(
        "cb", recipe_dir="r", croot="c", variant_files=[], output_folder="out", no_test=True
    )
    assert plain == ["cb", "r", "--croot", "c", "--output-folder", "out", "--no-test"]


def test_run_logged_streams_raw_to_log_and_clean_to_terminal(tmp_path):
    child = _script(
        tmp_path / "child",
        (
            "import sys, time\n"
            "print('\\x1b[31mFAILED\\x1b[0m test_x', flush=True)\n"
            "print('to stderr', file=sys.stderr, flush=True)\n"
            "sys.stdout.buffer.write(b'bad byte \\xff\\n'); sys.stdout.flush()\n"
            "sys.exit(3)\n"
        ),
    )
    log = tmp_path / "logs" / "run.log"
    term = io.StringIO()
    result = conda_build.run_logged([str(child)], dict(os.environ), log, out=term)
    assert result.returncode == 3 and not result.interrupted and result.log_path == log
    raw = log.read_bytes()
    assert b"\x1b[31mFAILED\x1b[0m test_x\n" in raw  # raw bytes in the log
    assert b"to stderr\n" in raw  # stderr merged
    assert b"bad byte \xff\n" in raw
    shown = term.getvalue()
    assert "FAILED test_x\n" in shown and "\x1b" not in shown


def test_log_is_written_while_the_child_runs(tmp_path):
    child = _script(
        tmp_path / "child", ("import time\nprint('first line', flush=True)\ntime.sleep(30)\n")
    )
    log = tmp_path / "run.log"
    seen = {}

    def watch():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if log.exists() and b"first line" in log.read_bytes():
                seen["ok"] = True
                os.kill(os.getpid(), signal.SIGTERM)  # then end the run: forwarded to the child
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    result = conda_build.run_logged([str(child)], dict(os.environ), log, echo=False)
    assert seen.get("ok"), "the line was not in the log while the child was still running"
    assert result.interrupted and result.returncode == -signal.SIGTERM


def test_sigint_is_forwarded_once_and_the_child_is_waited_for(tmp_path):
    """The child runs in its own process group: it gets each Ctrl-C exactly once (from us), may
    clean up, and its last words still reach the log."""
    child = _script(
        tmp_path / "child",
        (
            "import signal, sys, time\n"
            "count = 0\n"
            "def on_int(*a):\n"
            "    global count\n"
            "    count += 1\n"
            "signal.signal(signal.SIGINT, on_int)\n"
            "print('ready', flush=True)\n"
            "deadline = time.monotonic() + 20\n"
            "while not count and time.monotonic() < deadline:\n"
            "    time.sleep(0.01)\n"
            "time.sleep(0.5)  # a second signal would arrive now\n"
            "print(f'child got SIGINT {count} time(s), cleaning up', flush=True)\n"
            "sys.exit(130)\n"
        ),
    )
    log = tmp_path / "run.log"

    def interrupt():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if log.exists() and b"ready" in log.read_bytes():
                os.kill(os.getpid(), signal.SIGINT)  # what a terminal Ctrl-C does to us
                return
            time.sleep(0.02)

    threading.Thread(target=interrupt, daemon=True).start()
    before = signal.getsignal(signal.SIGINT)
    result = conda_build.run_logged([str(child)], dict(os.environ), log, echo=False)
    assert result.interrupted and result.returncode == 130
    assert b"child got SIGINT 1 time(s), cleaning up" in log.read_bytes()
    assert signal.getsignal(signal.SIGINT) is before  # our handler is removed afterwards


def test_env_is_exactly_what_is_given(tmp_path):
    child = _script(tmp_path / "child", "import os\nprint(sorted(os.environ))\n")
    log = tmp_path / "run.log"
    conda_build.run_logged([str(child)], {"ONLY_THIS": "1", "PATH": os.defpath}, log, echo=False)
    text = log.read_text()
    assert "'ONLY_THIS'" in text and "HOME" not in text


# --------------------------------------------------------------------------- failure causes

FIXTURES = Path(__file__).parent / "fixtures" / "conda_build"  # real conda-build output


@pytest.mark.parametrize("case", ["solve_failed_host", "solve_failed_run"])
def test_a_failed_solve_is_explained_in_one_line(case):
    line = conda_build.explain_failure(FIXTURES / f"{case}.log", "nox -s dev_build --")
    assert line is not None and "\n" not in line
    assert "missing {'zlib'}" in line
    assert "`nox -s dev_build -- -- -c conda-forge`" in line and "condarc" in line


def test_other_failures_and_missing_logs_have_no_explanation(tmp_path):
    log = tmp_path / "build.log"
    log.write_text(
        "Traceback (most recent call last):\nconda_build.exceptions."
        "BuildScriptException: Command '['/bin/bash']' returned non-zero exit "
        "status 7.\n"
    )
    assert conda_build.explain_failure(log, "p") is None
    assert conda_build.explain_failure(tmp_path / "absent.log", "p") is None


def test_failure_explanation_reads_only_the_tail_and_strips_controls(tmp_path):
    log = tmp_path / "build.log"
    with open(log, "wb") as fh:
        fh.write(b"PackagesNotFoundError: far too early\n")
        fh.write(b"x" * (conda_build._TAIL_BYTES + 10) + b"\n")
        fh.write(
            b"DependencyNeedsBuildingError: Unsatisfiable dependencies for platform "
            b"linux-64: {'\x1b]52;c;aGk=\x07evil'}\n"
        )
    line = conda_build.explain_failure(log, "p")
    assert line is not None and "\x1b" not in line and "far too early" not in line
