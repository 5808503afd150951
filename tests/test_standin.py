"""The conda-build stand-in must behave like conda-build where the task suite depends on it
(facts: ../shared/reference/conda-build.md). Runs the real recipe/build.sh."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tools import variants
from tools.paths import CONDA_BUILD_CONFIG, RECIPE_DIR, REPO_ROOT

STANDIN = REPO_ROOT / "tests" / "standin" / "conda-build"
pytestmark = pytest.mark.skipif(not (RECIPE_DIR / "meta.yaml").is_file(), reason="no recipe yet")


@pytest.fixture
def env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}


@pytest.fixture
def override(tmp_path):
    variant = variants.find_variant(variants.load_variants(), "py311-cpu-mkl")
    return variants.write_override([variant], tmp_path / "variant.yaml")


def run(args, env, cwd, recipe=RECIPE_DIR):
    return subprocess.run([str(STANDIN), str(recipe), *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def records(work: Path) -> list[dict]:
    path = work / "python-recorder.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_version_says_stand_in(env, tmp_path):
    out = subprocess.run([str(STANDIN), "--version"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "STAND-IN" in out.stdout
    assert "STAND-IN" in STANDIN.read_text().split('"""')[1]


@pytest.mark.parametrize("flag", ["--bogus", "--dirty=1", "--croot"])
def test_unknown_or_malformed_flags_are_argparse_errors(env, tmp_path, flag):
    out = run([flag], env, tmp_path)
    assert out.returncode == 2 and "usage: conda-build" in out.stderr


def test_real_flag_not_emulated_is_refused(env, tmp_path):
    out = run(["--croot", tmp_path / "c", "--check"], env, tmp_path)
    assert out.returncode == 2 and "does not emulate" in out.stderr


def test_build_id_layout_and_work_moved_by_test_phase(env, tmp_path, override):
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "-m", CONDA_BUILD_CONFIG, "-m", override], env, tmp_path)
    assert out.returncode == 0, out.stderr
    folders = [p for p in croot.iterdir() if re.fullmatch(r"pytorch_\d{13}", p.name)]
    assert len(folders) == 1
    folder = folders[0]
    assert (folder / "_build_env").is_dir() and (folder / "test_tmp").is_dir()
    host = [p for p in folder.iterdir() if p.name.startswith("_h_env_placehold")]
    assert len(host) == 1 and len(str(host[0])) == 255
    assert not (folder / "work").exists()  # moved by the test phase
    moved = [p for p in folder.iterdir() if p.name.startswith("work_moved_")]
    assert len(moved) == 1 and records(moved[0])
    pkgs = sorted(p.name for p in (croot / "linux-64").iterdir())
    assert pkgs[0].startswith("pytorch-2.") and pkgs[0].endswith(".conda")
    text = out.stdout + out.stderr
    for marker in ("BUILD START: [", "export PREFIX=", "export SRC_DIR=", "Packaging pytorch",
                   "TEST START: ", "import: 'torch'", "+ python ./test/run_test.py",
                   "TEST END: ", "#" * 84, "Total time: "):
        assert marker in text, marker


def test_no_build_id_dirty_reuses_work_and_skips_patches(env, tmp_path, override):
    recipe = tmp_path / "recipe"
    shutil.copytree(RECIPE_DIR, recipe)
    patch = recipe / "0001-standin-test.patch"
    patch.write_text("--- a/setup.py\n+++ b/setup.py\n")
    meta = recipe / "meta.yaml"
    meta.write_text(meta.read_text().replace(
        "  sha256: {{ sha256 }}\n",
        "  sha256: {{ sha256 }}\n  patches:\n    - 0001-standin-test.patch\n"))
    croot = tmp_path / "croot"
    args = ["--croot", croot, "-m", CONDA_BUILD_CONFIG, "-m", override, "--no-build-id",
            "--no-remove-work-dir"]
    first = run(args, env, tmp_path, recipe)
    assert first.returncode == 0, first.stderr
    assert "Applying patch:" in first.stdout
    applied = (croot / "work" / ".standin-applied-patches").read_text()
    patch.write_text("--- a/setup.py\n+++ b/setup.py\n@@ changed\n")
    second = run([*args, "--dirty"], env, tmp_path, recipe)
    assert second.returncode == 0, second.stderr
    assert "Applying patch:" not in second.stdout  # silently NOT re-applied, as conda-build
    assert (croot / "work" / ".standin-applied-patches").read_text() == applied
    recs = records(croot / "work")
    assert [r["env"].get("DIRTY") for r in recs] == ["", "1"]
    assert recs[0]["cwd"] == recs[1]["cwd"] == str(croot / "work")  # same paths on both runs
    assert recs[0]["env"]["PREFIX"] == recs[1]["env"]["PREFIX"]


def test_env_filtered_by_script_env(env, tmp_path, override):
    croot = tmp_path / "croot"
    env = {**env, "MAX_JOBS": "3", "CCACHE_DIR": "/elsewhere", "SOMETHING_ELSE": "x"}
    out = run(["--croot", croot, "-m", CONDA_BUILD_CONFIG, "-m", override, "--no-build-id",
               "--no-remove-work-dir"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    rec = records(croot / "work")[0]["env"]
    assert rec["MAX_JOBS"] == "3"  # listed in script_env
    assert "CCACHE_DIR" not in rec and "SOMETHING_ELSE" not in rec
    assert rec["blas_impl"] == "mkl" and rec["gpu_variant"] == "cpu"  # variant keys exported
    assert "python" not in rec
    assert ("The environment variable 'TORCH_CUDA_ARCH_LIST' specified in script_env is "
            "undefined.") in out.stderr


def test_inherited_conda_py_narrows_python(env, tmp_path):
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "-m", CONDA_BUILD_CONFIG, "--no-build-id", "--no-test"],
              {**env, "CONDA_PY": "312"}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "py312" in next((croot / "linux-64").iterdir()).name


def test_build_failure_exit_1(env, tmp_path, override):
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "-m", CONDA_BUILD_CONFIG, "-m", override, "--no-build-id"],
              {**env, "CONDA_BUILD_STANDIN_FAIL_BUILD": "py311-cpu-mkl"}, tmp_path)
    assert out.returncode == 1
    assert re.search(r"BuildScriptException: Command '\['/bin/bash', '-o', 'errexit', "
                     r"'.*conda_build.sh'\]' returned non-zero exit status 1\.", out.stderr)
    assert "TEST START" not in out.stdout
    assert (croot / "work").is_dir()  # left for inspection / reuse


def test_failing_tests_still_exit_0_but_say_so(env, tmp_path, override):
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "-m", CONDA_BUILD_CONFIG, "-m", override, "--no-build-id"],
              {**env, "CONDA_BUILD_STANDIN_FAIL_TESTS": "all"}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Fatal Python error: Segmentation fault" in out.stderr
    assert "FAILED" in out.stdout
    lines = out.stderr.splitlines()
    assert "+ true" in lines  # bash echoes it because run_test.py exited non-zero


def test_output_folder_and_skip_tests(env, tmp_path, override):
    out_dir = tmp_path / "channel"
    out_dir.mkdir()
    out = run(["--croot", tmp_path / "croot", "-m", CONDA_BUILD_CONFIG, "-m", override,
               "--output-folder", out_dir], {**env, "PYTORCH_SKIP_TESTS": "1"}, tmp_path)
    assert out.returncode == 0, out.stderr
    assert any(p.suffix == ".conda" for p in (out_dir / "linux-64").iterdir())
    assert "PYTORCH_SKIP_TESTS=1, PyTorch test suite skipped" in out.stdout
    assert "test session starts" not in out.stdout


def test_sigint_kills_build_and_leaves_work(env, tmp_path, override):
    import signal
    import time

    croot = tmp_path / "croot"
    proc = subprocess.Popen(
        [str(STANDIN), str(RECIPE_DIR), "--croot", str(croot), "-m", str(CONDA_BUILD_CONFIG),
         "-m", str(override), "--no-build-id"], env={**env, "CONDA_BUILD_STANDIN_SLEEP": "30"},
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if b"Building CXX object" in line:
            break
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert (croot / "work" / "setup.py").exists()


def test_dirty_with_build_id_reuses_the_only_matching_folder(env, tmp_path, override):
    croot = tmp_path / "croot"
    args = ["--croot", croot, "-m", CONDA_BUILD_CONFIG, "-m", override, "--no-remove-work-dir",
            "--no-test"]
    assert run(args, env, tmp_path).returncode == 0
    second = run([*args, "--dirty"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    folders = [p for p in croot.iterdir() if re.fullmatch(r"pytorch_\d{13}", p.name)]
    assert len(folders) == 1
    assert [r["env"]["DIRTY"] for r in records(folders[0] / "work")] == ["", "1"]
