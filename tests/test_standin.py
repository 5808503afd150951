"""The conda-build stand-in must behave like conda-build 26.7.1 where the task suite depends on it.

These tests run without the shared corpus (tests/test_standin_vs_real.py replays it when present):
the repository's recipe/ (url source, fake tree, the real recipe/build.sh with python-recorder as
$PYTHON) and the path-source fixture tests/fixtures/standin/realcb-toy (compiled with gcc).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tools.paths import CONDA_BUILD_CONFIG, RECIPE_DIR, REPO_ROOT
from tools.recipe import variants

STANDIN = REPO_ROOT / "tests" / "standin" / "conda-build"
TOY = REPO_ROOT / "tests" / "fixtures" / "standin" / "realcb-toy"
TOY_PKG = "realcb-toy-1.0-cpu_mkl_py311_h96911f9_0.conda"
needs_recipe = pytest.mark.skipif(not (RECIPE_DIR / "meta.yaml").is_file(), reason="no recipe yet")


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
    """The stand-in with stdout and stderr in one stream, as a build log has them."""
    return subprocess.run(
        [str(STANDIN), str(recipe), *map(str, args)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )


def repo_args(croot, override, *extra):
    return ["--croot", croot, "-m", CONDA_BUILD_CONFIG, "-m", override, *extra]


def records(work: Path) -> list[dict]:
    path = work / "python-recorder.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def tree(croot: Path) -> set[str]:
    return {str(p.relative_to(croot)) for p in croot.rglob("*")}


def pkg_members(package: Path) -> list[str]:
    with zipfile.ZipFile(package) as zf:
        inner = [n for n in zf.namelist() if n.startswith("pkg-")]
        assert len(inner) == 1 and sorted(zf.namelist())[0] == "info-" + inner[0][4:]
        with tarfile.open(fileobj=io.BytesIO(zf.read(inner[0]))) as tar:
            return tar.getnames()


@pytest.fixture
def toy(tmp_path):
    """A copy of the path-source fixture recipe (tests may edit it)."""
    recipe = tmp_path / "realcb-toy"
    shutil.copytree(TOY, recipe)
    return recipe


# --------------------------------------------------------------------------- command line


def test_version_says_stand_in(env, tmp_path):
    out = subprocess.run([str(STANDIN), "--version"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "STAND-IN" in out.stdout
    docstring = STANDIN.read_text().split('"""')[1]
    assert "STAND-IN" in docstring
    for source in ("conda_build/build.py", "conda_build/environ.py", "toy_14", "toy_15"):
        assert source in docstring
    assert "shared/reference" not in STANDIN.read_text()


@pytest.mark.parametrize("flag", ["--bogus", "--dirty=1", "--croot"])
def test_unknown_or_malformed_flags_are_argparse_errors(env, tmp_path, flag):
    out = run([flag], env, tmp_path)
    assert out.returncode == 2 and "usage: conda-build" in out.stdout


@pytest.mark.parametrize("flag", ["--check", "--skip-existing", "-s"])
def test_real_flag_not_emulated_is_refused(env, tmp_path, flag):
    out = run(["--croot", tmp_path / "c", flag], env, tmp_path, TOY)
    assert out.returncode == 2 and "does not emulate" in out.stdout


def test_test_needs_a_package_file(env, tmp_path):
    out = run(["--test", "--croot", tmp_path / "c"], env, tmp_path, TOY)
    assert out.returncode == 2 and "--test needs a package file" in out.stdout


# --------------------------------------------------------------------------- work dir and cleanup


def test_plain_run_renames_work_and_cleans_up(env, tmp_path, toy):
    """Without --dirty: work/ ends as work_moved_<dist>_<subdir>_main_build_loop (empty: the test
    phase moved its content to work_moved_<dist>_<subdir>); test prefix, test_tmp go."""
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "--no-build-id"], env, tmp_path, toy)
    assert out.returncode == 0, out.stdout
    dist = TOY_PKG[: -len(".conda")]
    moved = croot / f"work_moved_{dist}_linux-64"
    loop = croot / f"work_moved_{dist}_linux-64_main_build_loop"
    assert (moved / "hello.c").is_file() and loop.is_dir() and not any(loop.iterdir())
    assert not (croot / "work").exists() and not (croot / "test_tmp").exists()
    assert not [p for p in croot.iterdir() if p.name.startswith(("_h_env", "_test_env"))]
    text = out.stdout
    assert f"Copying {toy / 'src'} to {croot / 'work'}/" in text
    assert f"source tree in: {croot / 'work'}" in text
    assert "Using previously unpacked" not in text
    assert f"Renaming work directory '{croot / 'work'}' to '{moved}'" in text
    assert f"shutil.move(work)={croot / 'work'}, dest={loop})" in text
    assert "Leaving build/test directories" not in text


def test_existing_work_moved_destination_is_replaced_not_numbered(env, tmp_path, toy):
    croot = tmp_path / "croot"
    for _ in range(2):
        assert run(["--croot", croot, "--no-build-id"], env, tmp_path, toy).returncode == 0
    moved = sorted(p.name for p in croot.iterdir() if p.name.startswith("work_moved_"))
    assert len(moved) == 2 and moved[1].endswith("_main_build_loop")


@pytest.mark.parametrize("flag", ["--no-remove-work-dir", "--no-test"])
def test_without_dirty_work_is_renamed_at_the_end_anyway(env, tmp_path, toy, flag):
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "--no-build-id", flag], env, tmp_path, toy)
    assert out.returncode == 0, out.stdout
    loop = croot / f"work_moved_{TOY_PKG[:-6]}_linux-64_main_build_loop"
    assert (loop / "hello.c").is_file() and not (croot / "work").exists()
    if flag == "--no-remove-work-dir":
        assert "WARNING: Not moving work directory after build." in out.stdout


def test_dirty_alone_test_phase_moves_work_and_everything_stays(env, tmp_path, toy):
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "--no-build-id", "--dirty"], env, tmp_path, toy)
    assert out.returncode == 0, out.stdout
    work = croot / "work"
    assert work.is_dir() and not any(work.iterdir())
    assert (croot / f"work_moved_{TOY_PKG[:-6]}_linux-64" / "hello.c").is_file()
    assert (croot / "test_tmp" / "conda_test_runner.sh").is_file()
    test_prefix = [p for p in croot.iterdir() if p.name.startswith("_test_env_placehold")]
    assert len(test_prefix) == 1 and len(str(test_prefix[0])) == 253
    assert "Leaving build/test directories:\n  Work:\n " + f"{work} \n" in out.stdout
    assert "_main_build_loop" not in out.stdout
    marker = test_prefix[0] / "marker"
    marker.write_text("")
    again = run(["--croot", croot, "--no-build-id", "--dirty"], env, tmp_path, toy)
    assert again.returncode == 0, again.stdout
    assert test_prefix[0].is_dir() and not marker.exists()  # the test env is always recreated


def test_dirty_no_remove_work_dir_keeps_work_and_reuses_it(env, tmp_path, toy):
    croot = tmp_path / "croot"
    args = ["--croot", croot, "--no-build-id", "--dirty", "--no-remove-work-dir"]
    first = run(args, env, tmp_path, toy)
    assert first.returncode == 0, first.stdout
    assert (croot / "work" / "hello.c").is_file()
    (toy / "src" / "hello.c").write_text("this would not compile\n")
    second = run(args, env, tmp_path, toy)
    assert second.returncode == 0, second.stdout  # the old copy was used, silently
    assert "Copying " not in second.stdout and "source tree in: " in second.stdout


def test_work_left_by_a_failed_build_is_reused_without_dirty(env, tmp_path, toy):
    croot = tmp_path / "croot"
    good = (toy / "build.sh").read_text()
    (toy / "build.sh").write_text("touch reuse_marker\nexit 7\n")
    failed = run(["--croot", croot, "--no-build-id"], env, tmp_path, toy)
    assert failed.returncode == 1
    assert (croot / "work" / "reuse_marker").is_file()
    host = [p for p in croot.iterdir() if p.name.startswith("_h_env_placehold")]
    assert len(host) == 1 and len(str(host[0])) == 255  # left for inspection
    (toy / "build.sh").write_text(good + "test -f reuse_marker\n")
    again = run(["--croot", croot, "--no-build-id"], env, tmp_path, toy)
    assert again.returncode == 0, again.stdout
    assert "Copying " not in again.stdout


def test_build_id_folder_goes_after_success_and_stays_with_dirty(env, tmp_path, toy):
    croot = tmp_path / "croot"
    assert run(["--croot", croot], env, tmp_path, toy).returncode == 0
    assert sorted(p.name for p in croot.iterdir()) == ["linux-64", "noarch"]
    args = ["--croot", croot, "--dirty", "--no-remove-work-dir", "--no-test"]
    for _ in range(2):
        out = run(args, env, tmp_path, toy)
        assert out.returncode == 0, out.stdout
    folders = [p for p in croot.iterdir() if re.fullmatch(r"realcb-toy_\d{13}", p.name)]
    assert len(folders) == 1  # --dirty reused the newest matching folder
    assert "Copying " not in out.stdout
    assert "There are currently 1 accumulated." in out.stdout


# --------------------------------------------------------------------------- environments


@needs_recipe
def test_dirty_reuses_build_env_plain_run_recreates_it(env, tmp_path, override):
    """build.py: with --dirty a non-empty _build_env is reused; the host prefix never is."""
    croot = tmp_path / "croot"
    base = repo_args(croot, override, "--no-build-id", "--no-test")
    assert run([*base, "--dirty", "--no-remove-work-dir"], env, tmp_path).returncode == 0
    marker = croot / "_build_env" / "marker"
    marker.write_text("kept?")
    out = run([*base, "--dirty", "--no-remove-work-dir"], env, tmp_path)
    assert out.returncode == 0, out.stdout
    assert marker.is_file()
    rec = records(croot / "work")[-1]["env"]
    assert rec["BUILD_PREFIX"] == str(croot / "_build_env") != rec["PREFIX"]
    assert f"source activate  {croot / '_build_env'} " in out.stdout
    out = run(base, env, tmp_path)
    assert out.returncode == 0, out.stdout
    assert not (croot / "_build_env").exists()  # recreated, then cleaned up
    moved = croot / [p.name for p in croot.iterdir() if p.name.endswith("_main_build_loop")][0]
    assert len(records(moved)) == 3 and records(moved)[-1]["env"]["DIRTY"] == ""


@needs_recipe
def test_url_source_fake_tree_and_patches_not_reapplied_to_reused_work(env, tmp_path, override):
    recipe = tmp_path / "recipe"
    shutil.copytree(RECIPE_DIR, recipe)
    patch = recipe / "0001-standin-test.patch"
    patch.write_text("--- a/setup.py\n+++ b/setup.py\n")
    meta = recipe / "meta.yaml"
    meta.write_text(
        meta.read_text().replace(
            "  sha256: {{ sha256 }}\n",
            "  sha256: {{ sha256 }}\n  patches:\n    - 0001-standin-test.patch\n",
        )
    )
    croot = tmp_path / "croot"
    args = repo_args(
        croot, override, "--no-build-id", "--dirty", "--no-remove-work-dir", "--no-test"
    )
    first = run(args, env, tmp_path, recipe)
    assert first.returncode == 0, first.stdout
    assert "Applying patch:" in first.stdout and "Copying " not in first.stdout
    assert (croot / "work" / "setup.py").is_file()  # the fake tree
    applied = (croot / "work" / ".standin-applied-patches").read_text()
    patch.write_text("--- a/setup.py\n+++ b/setup.py\n@@ changed\n")
    second = run(args, env, tmp_path, recipe)
    assert second.returncode == 0, second.stdout
    assert "Applying patch:" not in second.stdout  # silently NOT re-applied, as conda-build
    assert (croot / "work" / ".standin-applied-patches").read_text() == applied
    recs = records(croot / "work")
    assert [r["env"].get("DIRTY") for r in recs] == ["1", "1"]
    assert recs[0]["cwd"] == recs[1]["cwd"] == str(croot / "work")  # same paths on both runs
    assert recs[0]["env"]["PREFIX"] == recs[1]["env"]["PREFIX"]
    assert recs[0]["env"]["PYTHON"] == recs[0]["env"]["PREFIX"] + "/bin/python"


@needs_recipe
def test_build_sh_environment(env, tmp_path, override):
    """toy_14_passthrough_probe: what passes from the caller to build.sh, and what does not."""
    croot = tmp_path / "croot"
    caller = {
        **env,
        "MAX_JOBS": "3",
        "CCACHE_DIR": "/elsewhere",
        "SOMETHING_ELSE": "x",
        "MAKEFLAGS": "-j7",
        "LC_ALL": "C.UTF-8",
        "CFLAGS": "-Dprobe",
        "PYTHONPATH": "/p",
        "http_proxy": "http://127.0.0.1:9",
        "no_proxy": "localhost",
    }
    out = run(
        repo_args(croot, override, "--no-build-id", "--dirty", "--no-remove-work-dir", "--no-test"),
        caller,
        tmp_path,
    )
    assert out.returncode == 0, out.stdout
    rec = records(croot / "work")[0]["env"]
    assert rec["MAX_JOBS"] == "3"  # listed in script_env
    for name in (
        "CCACHE_DIR",
        "SOMETHING_ELSE",
        "PYTHONPATH",
        "http_proxy",
        "no_proxy",
        "python",
        "numpy",
        "zip_keys",
    ):
        assert name not in rec, name
    for name in ("MAKEFLAGS", "LC_ALL", "CFLAGS", "HOME", "LANG"):
        assert rec[name] == caller[name], name
    assert rec["blas_impl"] == "mkl" and rec["gpu_variant"] == "cpu"  # variant keys exported
    assert rec["c_compiler"] == "gcc" and rec["cpu_optimization_target"] == "nocona"
    assert rec["PKG_CONFIG_PATH"] == rec["PREFIX"] + "/lib/pkgconfig"
    assert rec["CPU_COUNT"] == str(os.cpu_count())
    assert (rec["CONDA_PY"], rec["PY_VER"], rec["NPY_VER"]) == ("311", "3.11", "2")
    assert (rec["PIP_NO_INDEX"], rec["DIRTY"], rec["PKG_HASH"]) == ("True", "1", "1234567")
    assert rec["PATH"].endswith(":" + env["PATH"])
    assert (
        "UserWarning: The environment variable 'TORCH_CUDA_ARCH_LIST' specified in "
        "script_env is undefined.\n  warnings.warn(\n"
    ) in out.stdout
    assert (
        "UserWarning: The environment variable 'MAX_JOBS' is being passed through with "
        "value '3'.  If you are splitting build and test phases with --no-test, please "
        "ensure that this value is also set similarly at test time."
    ) in out.stdout
    assert out.stdout.count("'MAX_JOBS' is being passed through") == 2  # render, packaging


@needs_recipe
def test_inherited_conda_py_narrows_python(env, tmp_path):
    croot = tmp_path / "croot"
    out = run(
        ["--croot", croot, "-m", CONDA_BUILD_CONFIG, "--no-build-id", "--no-test"],
        {**env, "CONDA_PY": "312"},
        tmp_path,
    )
    assert out.returncode == 0, out.stdout
    assert "py312" in next((croot / "linux-64").iterdir()).name


# --------------------------------------------------------------------------- packages and tests


def test_package_holds_prefix_files_and_test_phase_installs_them(env, tmp_path, toy):
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "--no-build-id"], {**env, "OUTSIDE": "seen"}, tmp_path, toy)
    assert out.returncode == 0, out.stdout
    package = croot / "linux-64" / TOY_PKG
    assert "bin/realcb-hello" in pkg_members(package)
    assert "number of files: 1" in out.stdout
    text = out.stdout
    assert f"TEST START: {package}" in text and f"TEST END: {package}" in text
    assert "\n+ realcb-hello\n560\n" in text  # really installed and run from the test prefix
    assert text.index("+ exit 0") < text.index("TEST END")
    assert f"    realcb-toy: 1.0-cpu_mkl_py311_h96911f9_0 {croot.as_uri()}" in text


def test_test_only_uses_the_recipe_stored_in_the_package(env, tmp_path, toy):
    croot = tmp_path / "croot"
    assert run(["--croot", croot, "--no-build-id", "--no-test"], env, tmp_path, toy).returncode == 0
    meta = toy / "meta.yaml"
    meta.write_text(meta.read_text().replace("    - realcb-hello\n", "    - exit 9\n"))
    shutil.rmtree(croot / [p.name for p in croot.iterdir() if p.name.endswith("build_loop")][0])
    out = subprocess.run(
        [str(STANDIN), "--test", f"croot/linux-64/{TOY_PKG}", "--croot", croot],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout
    text = out.stdout
    assert text.startswith(f"TEST START: croot/linux-64/{TOY_PKG}\n")
    assert "+ realcb-hello\n" in text and "exit 9" not in text
    assert f"TEST END: croot/linux-64/{TOY_PKG}\n" in text
    assert "\nAll tests passed\n" in text and "There are currently 1 accumulated." in text
    folder = [p for p in croot.iterdir() if re.fullmatch(r"realcb-toy_\d{13}", p.name)]
    assert len(folder) == 1
    # The build-id folder keeps its test env, test_tmp and the (empty) work dir moved into it;
    # the flat croot's work/ and test_tmp/ go (test_only_on_dev_croot).
    kept = sorted(re.sub(r"_placehold.*", "", p.name) for p in folder[0].iterdir())
    assert kept == ["_test_env", "test_tmp", "work"] and not any((folder[0] / "work").iterdir())
    assert not (croot / "work").exists() and not (croot / "test_tmp").exists()
    assert "Renaming work directory" not in text  # the moved work/ was empty


def dev_croot(env, tmp_path, toy):
    """The croot dev_build leaves: flat, with a full work/ (--dirty --no-remove-work-dir)."""
    croot = tmp_path / "croot"
    out = run(
        ["--croot", croot, "--no-build-id", "--dirty", "--no-remove-work-dir"], env, tmp_path, toy
    )
    assert out.returncode == 0, out.stdout
    assert (croot / "work" / "hello.c").is_file()
    return croot


def run_test_only(croot, env, cwd, *flags):
    return subprocess.run(
        [str(STANDIN), "--test", str(croot / "linux-64" / TOY_PKG), "--croot", str(croot), *flags],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )


def test_test_only_on_a_dev_croot_moves_work_into_a_new_build_id_folder(env, tmp_path, toy):
    """test_only_on_dev_croot: the dev work dir leaves <croot>/work for <name>_<id>/work, and the
    croot's (empty) work/ is what gets renamed to <name>_<id>/work_moved_<dist>_<subdir>."""
    croot = dev_croot(env, tmp_path, toy)
    out = run_test_only(croot, env, tmp_path)
    assert out.returncode == 0, out.stdout
    folder = [p for p in croot.iterdir() if re.fullmatch(r"realcb-toy_\d{13}", p.name)]
    assert len(folder) == 1
    moved = folder[0] / f"work_moved_{TOY_PKG[:-6]}_linux-64"
    assert (folder[0] / "work" / "hello.c").is_file() and moved.is_dir()
    assert not any(moved.iterdir())
    assert not (croot / "work").exists() and not (croot / "test_tmp").exists()
    # config.clean() of the flat croot's Config also takes its test prefix: here (same path) the
    # one the dev build made (the recorded one stayed: it was padded for another croot path).
    assert not [p for p in croot.iterdir() if p.name.startswith("_test_env")]
    text = out.stdout
    assert f"Renaming work directory '{croot / 'work'}' to '{moved}'\n" in text
    assert text.index("Renaming work directory") < text.index("UserWarning")
    assert "--dirty flag and --keep-old-work not specified." in text
    assert "There are currently 1 accumulated." in text


def test_test_only_dirty_no_remove_keeps_the_dev_work_dir(env, tmp_path, toy):
    croot = dev_croot(env, tmp_path, toy)
    out = run_test_only(croot, env, tmp_path, "--no-build-id", "--dirty", "--no-remove-work-dir")
    assert out.returncode == 0, out.stdout
    assert (croot / "work" / "hello.c").is_file()
    assert not [p for p in croot.iterdir() if re.search(r"\d{13}|work_moved", p.name)]
    text = out.stdout
    assert "WARNING: Not moving work directory after build." in text
    assert f"Leaving build/test directories:\n  Work:\n {croot / 'work'} \n" in text
    assert "Renaming work directory" not in text and "Removing build/test folder" not in text


@pytest.mark.parametrize(
    "flags",
    [
        ["--no-build-id"],
        ["--no-build-id", "--no-remove-work-dir"],
        ["--dirty"],
        ["--dirty", "--no-remove-work-dir"],
    ],
)
def test_test_only_unmeasured_combinations_are_refused(env, tmp_path, toy, flags):
    croot = dev_croot(env, tmp_path, toy)
    before = tree(croot)
    out = run_test_only(croot, env, tmp_path, *flags)
    assert out.returncode == 2 and "was not measured" in out.stdout
    assert tree(croot) == before


def test_failing_test_command_moves_package_to_broken(env, tmp_path, toy):
    meta = toy / "meta.yaml"
    meta.write_text(
        meta.read_text().replace("    - realcb-hello\n", "    - realcb-hello\n    - exit 3\n")
    )
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "--no-build-id"], env, tmp_path, toy)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert f"WARNING: Tests failed for {TOY_PKG} - moving package to {croot / 'broken'}" in lines
    assert "Traceback (most recent call last):" in lines
    runner = croot / "test_tmp" / "conda_test_runner.sh"
    assert (
        f"subprocess.CalledProcessError: Command '['/bin/bash', '-o', 'errexit', "
        f"'{runner}']' returned non-zero exit status 3."
    ) in lines
    assert lines[-1] == f"conda_build.exceptions.CondaBuildUserError: TESTS FAILED: {TOY_PKG}"
    assert (croot / "broken" / TOY_PKG).is_file() and not (croot / "linux-64" / TOY_PKG).exists()
    assert runner.is_file() and (croot / "work").is_dir()  # nothing cleaned up


@needs_recipe
def test_repo_recipe_names_and_markers(env, tmp_path, override):
    croot = tmp_path / "croot"
    out = run(repo_args(croot, override), env, tmp_path)
    assert out.returncode == 0, out.stdout
    pkgs = sorted(p.name for p in (croot / "linux-64").iterdir())
    assert [re.sub(r"_h[0-9a-f]{7}_", "_h<hash>_", p) for p in pkgs] == [
        "pytorch-2.13.0-cpu_mkl_py311_h<hash>_100.conda",
        "pytorch-cpu-2.13.0-cpu_mkl_py311_h<hash>_100.conda",
    ]
    assert not [p for p in croot.iterdir() if re.fullmatch(r"pytorch_\d{13}", p.name)]
    text = out.stdout
    for marker in (
        "BUILD START: [",
        "source tree in: ",
        "export PREFIX=",
        "export SRC_DIR=",
        "Packaging pytorch\n",
        "TEST START: ",
        "import: 'torch'",
        "+ python ./test/run_test.py",
        "+ exit 0",
        "TEST END: ",
        "Renaming work directory ",
        "#" * 84,
        "Total time: ",
    ):
        assert marker in text, marker


def test_build_failure_exit_1_with_traceback(env, tmp_path, toy):
    (toy / "build.sh").write_text("echo failing\nexit 7\n")
    croot = tmp_path / "croot"
    out = run(["--croot", croot, "--no-build-id"], env, tmp_path, toy)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    script = croot / "work" / "conda_build.sh"
    assert lines[-1] == (
        "conda_build.exceptions.BuildScriptException: Command '['/bin/bash', "
        f"'-o', 'errexit', '{script}']' returned non-zero exit status 7."
    )
    assert lines.count("Traceback (most recent call last):") == 2
    assert "The above exception was the direct cause of the following exception:" in lines
    assert "TEST START" not in out.stdout
    assert script.is_file()  # left for inspection / reuse


@needs_recipe
def test_build_failure_knob(env, tmp_path, override):
    croot = tmp_path / "croot"
    out = run(
        repo_args(croot, override, "--no-build-id"),
        {**env, "CONDA_BUILD_STANDIN_FAIL_BUILD": "py311-cpu-mkl"},
        tmp_path,
    )
    assert out.returncode == 1
    assert re.search(
        r"BuildScriptException: Command '\['/bin/bash', '-o', 'errexit', "
        r"'.*conda_build.sh'\]' returned non-zero exit status 1\.",
        out.stdout,
    )
    assert "TEST START" not in out.stdout


@needs_recipe
def test_failing_tests_knob_still_exits_0_but_says_so(env, tmp_path, override):
    croot = tmp_path / "croot"
    out = run(
        repo_args(croot, override, "--no-build-id"),
        {**env, "CONDA_BUILD_STANDIN_FAIL_TESTS": "all"},
        tmp_path,
    )
    assert out.returncode == 0, out.stdout
    assert "Fatal Python error: Segmentation fault" in out.stdout
    assert "FAILED" in out.stdout
    assert "+ true" in out.stdout.splitlines()  # bash echoes it: run_test.py exited non-zero


@needs_recipe
def test_missing_output_folder_is_created_and_skip_tests(env, tmp_path, override):
    out_dir = tmp_path / "channel"
    out = run(
        [
            "--croot",
            tmp_path / "croot",
            "-m",
            CONDA_BUILD_CONFIG,
            "-m",
            override,
            "--output-folder",
            out_dir,
        ],
        {**env, "PYTORCH_SKIP_TESTS": "1"},
        tmp_path,
    )
    assert out.returncode == 0, out.stdout
    assert any(p.suffix == ".conda" for p in (out_dir / "linux-64").iterdir())
    assert (out_dir / "noarch").is_dir()
    assert "PYTORCH_SKIP_TESTS=1, PyTorch test suite skipped" in out.stdout
    assert "test session starts" not in out.stdout


@needs_recipe
def test_sigint_kills_build_and_leaves_work(env, tmp_path, override):
    import signal
    import time

    croot = tmp_path / "croot"
    proc = subprocess.Popen(
        [
            str(STANDIN),
            str(RECIPE_DIR),
            "--croot",
            str(croot),
            "-m",
            str(CONDA_BUILD_CONFIG),
            "-m",
            str(override),
            "--no-build-id",
        ],
        env={**env, "CONDA_BUILD_STANDIN_SLEEP": "30"},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if b"Building CXX object" in line:
            break
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert (croot / "work" / "setup.py").exists()
