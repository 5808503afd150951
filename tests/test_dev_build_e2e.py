"""dev_build end to end: tools.dev_build.main and `nox -s dev_build` with the conda-build stand-in
running the real recipe/build.sh (python-recorder as $PYTHON)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import dev_build
from tools.build import lock
from tools.cli import run_main
from tools.paths import RECIPE_DIR, REPO_ROOT

PATCH = "0001-dev-build-test.patch"
pytestmark = pytest.mark.skipif(not (RECIPE_DIR / "meta.yaml").is_file(), reason="no recipe yet")


@pytest.fixture
def box(session_box):
    """The session sandbox (tests/conftest.py) with one patch added to its recipe copy."""
    recipe = session_box.recipe
    (recipe / PATCH).write_text("--- a/setup.py\n+++ b/setup.py\n@@ -1 +1 @@\n-a\n+b\n")
    meta = recipe / "meta.yaml"
    text = meta.read_text()
    assert "  sha256: {{ sha256 }}\n" in text
    meta.write_text(
        text.replace(
            "  sha256: {{ sha256 }}\n", f"  sha256: {{{{ sha256 }}}}\n  patches:\n    - {PATCH}\n"
        )
    )
    return session_box


def run(box, capsys, *extra):
    code = run_main("nox -s dev_build --", dev_build.main, [*box.args, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def start_slow_dev_build(box) -> subprocess.Popen:
    """dev_build in a process of its own, with the stand-in's build sleeping 60 s (to be killed)."""
    env = {**os.environ, "CONDA_BUILD_STANDIN_SLEEP": "60", "PYTHONPATH": str(REPO_ROOT)}
    code = (
        "import sys; from tools.cli import run_main; from tools import dev_build; "
        "sys.exit(run_main('nox -s dev_build --', dev_build.main, sys.argv[1:]))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *box.args],
        env=env,
        cwd=box.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    return proc


def records(work: Path) -> list[dict]:
    path = work / "python-recorder.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def logs(box) -> list[Path]:
    """Build logs in the order the runs happened (names may share a second)."""
    return sorted(box.logs.glob("dev-*.log"), key=lambda p: p.stat().st_mtime_ns)


def moved_aside(box) -> list[Path]:
    return sorted(box.croot.glob(f"{dev_build.MOVED_ASIDE_PREFIX}*"))


def test_fresh_then_dirty_then_patch_edit(box, capsys):
    code, out, _ = run(box, capsys)
    assert code == 0, out
    assert "work dir:    fresh: no previous work dir" in out
    assert "tests:       PASS" in out
    work = box.croot / "work"
    assert f"now: {work} (kept for the next run)" in out
    first = records(work)
    # Every run passes --dirty --no-remove-work-dir, the first too: without --dirty conda-build
    # renames work/ at the end of a successful run and nothing could be reused.
    assert len(first) == 1 and first[0]["env"]["DIRTY"] == "1"
    assert first[0]["argv"] == [
        "-m",
        "pip",
        "install",
        ".",
        "--no-deps",
        "--no-build-isolation",
        "-vv",
    ]
    first_log = logs(box)[0].read_text()
    assert "Applying patch:" in first_log and "source tree in:" in first_log
    assert not moved_aside(box)
    assert (box.croot / "_build_env").is_dir()

    code, out, _ = run(box, capsys)
    assert code == 0, out
    assert "work dir:    reuse: recipe, patches and variant unchanged" in out
    both = records(work)
    assert len(both) == 2 and both[1]["env"]["DIRTY"] == "1"
    assert both[0]["cwd"] == both[1]["cwd"] == str(work)
    assert both[0]["env"]["PREFIX"] == both[1]["env"]["PREFIX"]  # stable paths for ccache
    second_log = logs(box)[-1].read_text()
    assert "source tree in:" in second_log  # conda-build prints it for a reused tree too
    assert "Applying patch:" not in second_log
    assert "Using previously unpacked source tree" not in second_log  # no such line exists

    (box.recipe / PATCH).write_text("--- a/setup.py\n+++ b/setup.py\n@@ -1 +1 @@\n-a\n+c\n")
    code, out, _ = run(box, capsys)
    assert code == 0, out
    assert f"changed: {PATCH}" in out
    (aside,) = moved_aside(box)
    assert len(records(aside / "work")) == 2  # the old work dir, kept whole
    assert (aside / "_build_env").is_dir()  # conda-build --dirty would reuse its build tools
    assert (aside / dev_build.FINGERPRINT_FILE).is_file()
    assert len(records(work)) == 1  # a fresh one
    assert "Applying patch:" in logs(box)[-1].read_text()
    assert f"previous work/ kept at {aside / 'work'}" in out
    assert f"previous _build_env/ kept at {aside / '_build_env'}" in out
    assert len(logs(box)) == 3  # one log per run, even within the same second
    assert all(log.read_text().count("BUILD START:") == 1 for log in logs(box))


def test_a_failed_solve_says_which_channel_in_one_line(box, capsys, tmp_path):
    """conda-build's own output of a solve without the needed channel, replayed as it was
    (tests/fixtures/conda_build/solve_failed_host.log, real conda-build 26.7.1)."""
    fixture = Path(__file__).parent / "fixtures" / "conda_build" / "solve_failed_host.log"
    replay = tmp_path / "replay-conda-build"
    replay.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"sys.stdout.write(open({str(fixture)!r}).read())\nsys.exit(1)\n"
    )
    replay.chmod(0o755)
    args = [a if a != str(box.standin) else str(replay) for a in box.args]
    code = run_main("nox -s dev_build --", dev_build.main, args)
    out = capsys.readouterr().out
    assert code == 1
    (cause,) = [x for x in out.splitlines() if x.startswith("  cause:")]
    assert "missing {'zlib'}" in cause and "`nox -s dev_build -- -- -c conda-forge`" in cause
    assert "DependencyNeedsBuildingError" in logs(box)[-1].read_text()  # the log is kept


def test_cuda_arch_reaches_build_sh(box, capsys):
    code, out, _ = run(box, capsys, "--cuda", "--arch", "8.6")
    assert code == 0, out
    env = records(box.croot / "work")[0]["env"]
    assert env["TORCH_CUDA_ARCH_LIST"] == "8.6"
    assert env["USE_CUDA"] == "1"
    assert env["CMAKE_CUDA_COMPILER_LAUNCHER"] == env["PYTORCH_CCACHE"]
    assert Path(env["CCACHE_CONFIGPATH"]).read_text().count("base_dir = " + str(box.croot)) == 1
    assert "py311-cuda" in logs(box)[-1].name
    assert "CUDA arch:   8.6" in out


def test_no_test_skips_suite_and_validation(box, capsys, monkeypatch):
    monkeypatch.setenv("CONDA_PY", "312")  # would silently narrow python: must not leak
    code, out, _ = run(box, capsys, "--no-test", "--jobs", "3")
    assert code == 0, out
    env = records(box.croot / "work")[0]["env"]
    assert env["MAX_JOBS"] == env["CPU_COUNT"] == "3" and env["PYTORCH_TEST_LEVEL"] == "none"
    assert env.get("CONDA_PY", "311") == "311"  # conda-build's own value, never the caller's
    assert "py311" in next((box.croot / "linux-64").iterdir()).name
    log = logs(box)[-1].read_text()
    assert "PyTorch test suite skipped" in log and "test session starts" not in log
    assert "tests:       off (--tests none), not validated" in out


def test_build_failure_non_zero_and_log_kept(box, capsys, monkeypatch):
    monkeypatch.setenv("CONDA_BUILD_STANDIN_FAIL_BUILD", "all")
    code, out, _ = run(box, capsys)
    assert code == 1
    assert "build:       FAILED (conda-build exit status 1)" in out
    log = logs(box)[-1]
    assert "BuildScriptException" in log.read_text()
    assert f"log:         {log}" in out
    assert not (box.croot / dev_build.LOCK_FILE).exists()


def test_failing_tests_fail_the_run(box, capsys, monkeypatch):
    monkeypatch.setenv("CONDA_BUILD_STANDIN_FAIL_TESTS", "all")
    code, out, _ = run(box, capsys)
    assert code == 1, out
    assert "build:       succeeded" in out and "tests:       FAIL" in out


def test_conda_build_missing_is_one_line_exit_2(box, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(box.root / "empty"))
    monkeypatch.delenv("CONDA_EXE", raising=False)
    args = [a for a in box.args]
    i = args.index("--conda-build")
    del args[i : i + 2]
    code = run_main("nox -s dev_build --", dev_build.main, args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "conda install -n base -c conda-forge conda-build" in err
    assert not logs(box) and not box.croot.exists()


@pytest.mark.slow
def test_sigint_mid_build_keeps_log_and_work_and_concurrent_run_is_refused(box, capsys):
    proc = start_slow_dev_build(box)
    seen = []
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        seen.append(line.decode())
        if b"Building CXX object" in line or time.monotonic() > deadline:
            break
    assert any("Building CXX object" in x for x in seen), "".join(seen)

    # A second dev_build on the same croot is refused while the first runs.
    refused = run_main("nox -s dev_build --", dev_build.main, box.args)
    err = capsys.readouterr().err
    assert refused == 2 and f"another dev_build (pid {proc.pid}" in err

    proc.send_signal(signal.SIGINT)  # to dev_build only: it forwards to conda-build's group
    rest, _ = proc.communicate(timeout=60)
    out = "".join(seen) + rest.decode()
    assert proc.returncode == 130, out
    log = logs(box)[-1]
    assert "Building CXX object" in log.read_text()
    assert "build:       interrupted" in out and f"log:         {log}" in out
    assert f"{box.croot / 'work'}" in out
    assert (box.croot / "work" / "setup.py").exists()  # work kept for the next run
    assert not (box.croot / dev_build.LOCK_FILE).exists()


def test_stale_lock_from_a_crashed_run_is_taken_over(box, capsys):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    held = lock.acquire(box.croot / dev_build.LOCK_FILE)
    data = json.loads(held.path.read_text())
    data["pid"] = int(dead)
    held.path.write_text(json.dumps(data))
    code, out, _ = run(box, capsys, "--no-test")
    assert code == 0, out
    assert f"took over a stale lock of dev_build pid {dead}" in out


@pytest.mark.slow
def test_nox_session_dry_run_plans(tmp_path):
    if not shutil.which("nox"):
        pytest.skip("nox not on PATH")
    env = {k: v for k, v in os.environ.items() if k != "CONDA_EXE"}
    env["PATH"] = os.pathsep.join(
        p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "conda-build").exists()
    )

    def dry_run(*args: str) -> subprocess.CompletedProcess:
        argv = ["nox", "-s", "dev_build", "--", "--dry-run", *args]
        return subprocess.run(
            [*argv, "--croot", str(tmp_path / "croot")],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    out = dry_run("--format", "json")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["variant"]["python"] == "3.11" and plan["cuda_arch_list"] is None
    assert plan["croot"] == str(tmp_path / "croot") and "--no-build-id" in plan["argv"]
    text = dry_run("--cuda", "--arch", "8.6")
    assert text.returncode == 0, text.stderr
    assert "CUDA arch:   8.6" in text.stdout and "TORCH_CUDA_ARCH_LIST=8.6" in text.stdout
    assert not (tmp_path / "croot").exists()


@pytest.mark.skipif(not shutil.which("gcc"), reason="gcc not on PATH")
def test_ccache_hit_rate_of_this_build_is_reported(box, capsys, tmp_path):
    """A tiny conda-build substitute compiles through the ccache and config dev_build hands it
    (PYTORCH_CCACHE, CCACHE_CONFIGPATH), as build.sh would; the summary reports the hit rate."""
    fake = tmp_path / "fake-conda-build"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import os, pathlib, subprocess\n"
        "src = pathlib.Path(os.environ['CCACHE_CONFIGPATH']).parent / 'work' / 'a.c'\n"
        "src.parent.mkdir(parents=True, exist_ok=True)\n"
        "src.write_text('int f(void) { return 42; }\\n')\n"
        "for _ in range(4):\n"
        "    subprocess.run([os.environ['PYTORCH_CCACHE'], 'gcc', '-c', str(src), '-o',\n"
        "                    str(src.with_suffix('.o'))], check=True)\n"
    )
    fake.chmod(0o755)
    args = [a if a != str(box.standin) else str(fake) for a in box.args]
    code = run_main("nox -s dev_build --", dev_build.main, [*args, "--no-test"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ccache:      75.0% (3 hits, 1 misses)" in out


def test_conda_builds_own_no_test_after_double_dash_skips_validation(box, capsys):
    code, out, _ = run(box, capsys, "--", "--no-test")
    assert code == 0, out
    assert "TEST START" not in logs(box)[-1].read_text()
    assert "tests:       off (conda-build's test phase switched off), not validated" in out


@pytest.mark.slow
def test_kill_9_leaves_no_unseen_build_and_no_trusted_half_built_work_dir(box, capsys):
    """dev_build killed with SIGKILL: its conda-build (own session) runs on. The lock names that
    process group, so the next run is refused while it lives; once it is gone the next run takes
    the lock over, and as no fingerprint was recorded it moves the half-built work dir aside."""
    proc = start_slow_dev_build(box)
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if b"Building CXX object" in line or time.monotonic() > deadline:
            break
    owner = json.loads((box.croot / dev_build.LOCK_FILE).read_text())
    child = owner["child_pgid"]
    proc.kill()
    proc.wait(timeout=30)
    try:
        assert lock.group_alive(child)  # conda-build survived its caller
        refused = run_main("nox -s dev_build --", dev_build.main, box.args)
        err = capsys.readouterr().err
        assert refused == 2 and f"process group {child}) still runs" in err
        assert f"kill -TERM -{child}" in err
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while lock.group_alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (box.croot / dev_build.FINGERPRINT_FILE).exists()
    code, out, _ = run(box, capsys, "--no-test")
    assert code == 0, out
    assert "took over a stale lock" in out
    assert "work dir:    fresh: the work dir has no fingerprint record" in out
    (aside,) = moved_aside(box)
    assert (aside / "work").is_dir()


@pytest.mark.parametrize("where", ["file", "proc"])
def test_unusable_croot_is_one_line_exit_2(box, capsys, where):
    if where == "file":
        croot = box.root / "croot-file"
        croot.write_text("not a folder")
    else:
        if not Path("/proc/self").is_dir():
            pytest.skip("no /proc")
        croot = Path("/proc/self/croot")
    args = [str(croot) if a == str(box.croot) else a for a in box.args]
    code = run_main("nox -s dev_build --", dev_build.main, args)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot use" in err and "--croot" in err
