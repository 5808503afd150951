"""nox -s release: selection, listing, pre-flight refusals, dry run, and whole releases run
against the strict conda-build stand-in (tests/standin/conda-build) with chosen failures."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tools.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE, run_main
from tools.paths import CONDA_BUILD_CONFIG, RECIPE_DIR, REPO_ROOT
from tools.recipe import sections
from tools.recipe.rendering import recipe_version
from tools.recipe.variants import matrix, to_json
from tools.release import flow as release
from tools.release.state import BUILD_FAILED, BUILT, ReleaseState, VariantRecord, save_state
from tools.validate_logs import log_outcome

STANDIN = REPO_ROOT / "tests" / "standin" / "conda-build"
PROG = release.PROG
BIG = str(10**15)  # PYTORCH_RELEASE_FREE_BYTES for runs that must pass the disk check


def run(argv):
    return run_main(PROG, release.main, argv)


def only_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def env(monkeypatch):
    """A clean caller environment: no stand-in knobs, no dev knobs, plenty of (reported) disk."""
    for name in (
        *release.DEV_KNOBS,
        "CONDA_BUILD_STANDIN_FAIL_BUILD",
        "CONDA_BUILD_STANDIN_FAIL_TESTS",
        "CONDA_BUILD_STANDIN_SLEEP",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTORCH_RELEASE_FREE_BYTES", BIG)
    return monkeypatch


def four() -> list[str]:
    return [v.name for v in matrix()[:4]]


def release_argv(tmp_path, names, *more, artifacts=None):
    """A release of ``names`` with the stand-in, into ``artifacts`` (default tmp_path/rel)."""
    folder = str(tmp_path / "rel" if artifacts is None else artifacts)
    argv = ["--artifacts", folder, "--conda-build", str(STANDIN), "--allow-dirty"]
    for n in names:
        argv += ["--variant", n]
    return argv + list(more)


def recorded_env(root: Path, name: str) -> dict:
    """The environment build.sh gave $PYTHON (tests/standin/python-recorder's record), read from
    the variant's pytorch package: conda-build deletes the build folder after a successful build."""
    import io
    import tarfile

    line = next(
        x
        for x in (root / "logs" / f"{name}.log").read_text().splitlines()
        if x.startswith("BUILD START: ")
    )
    first = ast.literal_eval(line.removeprefix("BUILD START: "))[0]
    (package,) = (root / "channel").glob(f"*/{first}")
    with zipfile.ZipFile(package) as zf:
        (pkg,) = [n for n in zf.namelist() if n.startswith("pkg-")]
        with tarfile.open(fileobj=io.BytesIO(zf.read(pkg))) as tar:
            member = tar.extractfile("python-recorder.jsonl")
            assert member is not None
            return json.loads(member.read().decode().splitlines()[-1])["env"]


def release_plan(tmp_path, environ) -> release.VariantPlan:
    """The plan a release makes for the matrix's first variant, with ``environ`` as its caller's."""
    plan = release.VariantPlan(matrix()[0], "build", "test")
    layout = release.Layout(root=tmp_path / "rel", output_folder=tmp_path / "channel")
    release.fill_plans(
        [plan], "conda-build", [], layout, RECIPE_DIR, (CONDA_BUILD_CONFIG,), environ
    )
    return plan


def version_dir(tmp_path) -> Path:
    (d,) = (tmp_path / "rel").iterdir()
    return d


# ------------------------------------------------------------------------------ pure functions


def test_recipe_options_are_dev_builds_and_the_old_spellings_still_work():
    from tools import dev_build

    parser = release.build_parser()
    args = parser.parse_args(["--variant-config", "a.yaml", "--config", "b.yaml", "--recipe", "r"])
    assert args.variant_config == [Path("a.yaml"), Path("b.yaml")]
    assert args.recipe_dir == Path("r")
    args = parser.parse_args(["--recipe-dir", "s"])
    assert args.recipe_dir == Path("s") and args.variant_config is None
    assert parser.parse_args([]).recipe_dir == RECIPE_DIR
    shown = parser.format_help()
    assert "--recipe-dir DIR" in shown and "--variant-config FILE" in shown
    assert "--recipe " not in shown and "--config" not in shown  # hidden aliases
    opts = dev_build.parse_args(["--recipe-dir", "r", "--variant-config", "v.yaml"])
    assert (opts.recipe_dir.name, opts.variant_config.name) == ("r", "v.yaml")


def test_dev_build_and_release_hash_the_same_recipe_files_the_same_way(tmp_path, monkeypatch):
    """One recipe hash for both sessions: the same files (patches in, __pycache__ out), read by
    sections.hash_recipe; they differ only in the test section, which release counts."""
    from tools import dev_build

    recipe = tmp_path / "recipe"
    shutil.copytree(RECIPE_DIR, recipe, ignore=shutil.ignore_patterns("__pycache__"))
    variant = matrix()[0]
    seen: list[dict] = []
    real = sections.hash_recipe
    monkeypatch.setattr(sections, "hash_recipe", lambda d: seen.append(real(d)) or seen[-1])

    def both() -> tuple[str, str]:
        dev = dev_build.fingerprint(sections.hash_recipe(recipe), variant)
        return dev, release.release_fingerprint(recipe, (CONDA_BUILD_CONFIG,))

    before = both()
    assert len(seen) == 2 and seen[0] == seen[1]  # the same files, hashed the same way
    assert {"meta.yaml", "build.sh", dev_build.TEST_KEY} <= set(seen[0])
    for cache in (recipe / "__pycache__", recipe / "patches" / "__pycache__"):
        cache.mkdir(parents=True)
        (cache / "run_selected_tests.cpython-311.pyc").write_bytes(b"\x00compiled")
    assert both() == before  # __pycache__ is skipped by both
    assert not any("__pycache__" in name for name in seen[-1])
    (recipe / "patches" / "fix.patch").write_text("--- a\n+++ b\n")
    patched = both()
    assert patched[0] != before[0] and patched[1] != before[1]  # a new patch counts for both
    meta = recipe / "meta.yaml"
    meta.write_text(meta.read_text().replace("\ntest:\n", "\ntest:\n  # test only\n", 1))
    test_only = both()
    assert test_only[0] == patched[0] and test_only[1] != patched[1]


def test_forbidden_conda_build_args(capsys):
    release.check_extra(["--stats-file", "s.json", "-c", "conda-forge"])
    for bad in (["--dirty"], ["--croot=/x"], ["-m", "x.yaml"], ["--no-test"]):
        assert run(["--list", "--", *bad]) == EXIT_USAGE
        assert "not allowed in a release" in only_line(capsys.readouterr().err)


def test_release_env_removes_dev_knobs_and_keeps_the_rest(tmp_path):
    base = {
        "PATH": "/bin",
        "TORCH_CUDA_ARCH_LIST": "8.6",
        "PYTORCH_CCACHE": "/x/ccache",
        "CCACHE_CONFIGPATH": "/x/c.conf",
        "MAX_JOBS": "3",
        "PYTORCH_SKIP_TESTS": "1",
        "CONDA_PY": "311",
        "CONDA_BUILD_STANDIN_SLEEP": "1",
    }
    plan = release_plan(tmp_path, base)
    env, changed, removed = plan.env, plan.env_set, plan.env_removed
    assert env == {"PATH": "/bin", "CONDA_BUILD_STANDIN_SLEEP": "1"}
    assert changed == {}
    assert sorted(removed) == sorted(k for k in release.DEV_KNOBS if k in base)
    assert "MAX_JOBS" not in env


def test_progress_line_estimates_from_earlier_durations():
    # two CPU variants took 1h and 1h10m: six CPU variants left (this one included) = 6h30m
    left = release.estimate_left({False: [3600, 4200], True: []}, [False] * 6)
    line = release.progress_line(3, 8, "py312-cpu-mkl", 7800, left)
    assert line == "[3/8] py312-cpu-mkl  elapsed 2h10m  ~6h30m left"
    assert "estimated after the first variant" in release.progress_line(1, 8, "a", 0, None)
    assert release.estimate_left({False: [], True: []}, [False]) is None


def test_estimate_uses_each_kind_s_own_mean():
    durations = {False: [3600.0], True: [4 * 3600.0, 2 * 3600.0]}
    assert release.estimate_left(durations, [False, True, True]) == 3600 + 2 * 3 * 3600
    # no CUDA variant finished yet: the mean of every earlier variant stands in
    assert release.estimate_left({False: [100.0, 300.0]}, [True]) == 200.0


def test_skip_only_built_and_passed_with_the_same_recipe():
    done = VariantRecord("a", BUILT, 0, "pass", fingerprint="f1")
    assert release.skip_reason(done, "f1", restart=False)
    assert release.skip_reason(done, "f1", restart=True) is None
    assert release.skip_reason(done, "f2", restart=False) is None
    assert "changed" in release.build_reason(done, "f2", restart=False)
    for rec in (
        VariantRecord("a", BUILT, 0, "fail", fingerprint="f1"),
        VariantRecord("a", BUILT, 0, "error", fingerprint="f1"),
        VariantRecord("a", BUILD_FAILED, 1, "fail", fingerprint="f1"),
        VariantRecord("a", "interrupted", -2, None, fingerprint="f1"),
        None,
    ):
        assert release.skip_reason(rec, "f1", restart=False) is None


# Hand-written logs in conda-build's format (docs/FACTS.md, "Command line and log")
# with a PyTorch suite in the format of docs/FACTS.md, "PyTorch's test output".
_PKG = "/b/linux-64/pytorch-2.13.0-cpu_mkl_py311h1234567_0.conda"
_META = "/b/linux-64/pytorch-cpu-2.13.0-cpu_mkl_py311h1234567_0.conda"
_SUITE = """\
+ python ./test/run_test.py --core --continue-through-error
Running all tests
Running test_nn 1/1 ... [2026-11-25 10:00:00.000000]
============================= test session starts ==============================
platform linux -- Python 3.11.9, pytest-8.3.4, pluggy-1.5.0
collecting ... collected 3 items

test_nn.py::TestNN::test_a PASSED [0.0112s] [ 33%]
test_nn.py::TestNN::test_b PASSED [0.0112s] [ 66%]
test_nn.py::TestNN::test_c PASSED [0.0112s] [100%]

============================== 3 passed in 0.05s ===============================
+ pip check
No broken requirements found.
"""


def _log(with_suite: bool) -> str:
    suite = _SUITE if with_suite else "+ pip check\nNo broken requirements found.\n"
    return (
        f"BUILD START: ['{Path(_PKG).name}', '{Path(_META).name}']\n"
        "Packaging pytorch\nPackaging pytorch-cpu\n"
        f"TEST START: {_PKG}\nimport: 'torch'\n{suite}TEST END: {_PKG}\n"
        f"TEST START: {_META}\nimport: 'torch'\nTEST END: {_META}\n"
        "# Automatic uploading is disabled\n"
    )


def test_log_outcome_accepts_a_metapackage_without_suite_only_beside_a_suite(tmp_path):
    log = tmp_path / "py311-cpu-mkl.log"
    log.write_text(_log(with_suite=True))
    verdict, counts, reasons = log_outcome(log)
    assert (verdict, counts.passed, reasons) == ("pass", 3, [])

    log.write_text(_log(with_suite=False))  # e.g. PYTORCH_SKIP_TESTS=1 leaked into the build
    verdict, counts, reasons = log_outcome(log)
    assert verdict == "fail" and counts.passed == 0
    assert any(r.startswith("tests did not run: no package ran a test suite") for r in reasons)

    log.write_text(f"BUILD START: ['{Path(_PKG).name}']\nPackaging pytorch\n")  # no test phase
    verdict, _, reasons = log_outcome(log)
    assert verdict == "fail" and reasons

    log.write_text("")
    assert log_outcome(log)[0] == "fail"


def test_log_outcome_applies_known_failures(tmp_path, capsys):
    log = tmp_path / "py311-cpu-mkl.log"
    one_failed = _SUITE.replace("test_c PASSED", "test_c FAILED").replace(
        "3 passed", "1 failed, 2 passed"
    )
    log.write_text(_log(with_suite=True).replace(_SUITE, one_failed))
    verdict, counts, _ = log_outcome(log)
    assert (verdict, counts.failed) == ("fail", 1)  # 1 of 3: over the 1% limit
    known = tmp_path / "known.yaml"
    known.write_text(
        "- test: test_nn.py::TestNN::test_c\n  reason: flaky on this runner\n"
        "  when: {variant: py311-*}\n"
    )
    assert log_outcome(log, known)[0] == "pass"
    known.write_text(
        "- test: test_nn.py::TestNN::test_c\n  reason: other variants only\n"
        "  when: {variant: py312-*}\n"
    )
    assert log_outcome(log, known)[0] == "fail"
    # a bad file is refused before anything runs
    known.write_text("- test: x\n")
    assert run(["--dry-run", "--known-failures", str(known)]) == EXIT_USAGE
    assert "'reason' is required" in only_line(capsys.readouterr().err)


# ------------------------------------------------------------------------------ listing


def test_list_json_is_the_matrix(capsys):
    assert run(["--list", "--format", "json"]) == EXIT_OK
    out = capsys.readouterr().out
    assert json.loads(out) == to_json(matrix(cuda=False))
    assert out.count("\n") == 1  # one line: ready for $GITHUB_OUTPUT


def test_list_cuda_adds_the_cuda_variants(capsys):
    assert run(["--list", "--format", "json"]) == EXIT_OK
    cpu = json.loads(capsys.readouterr().out)
    assert run(["--list", "--cuda", "--format", "json"]) == EXIT_OK
    full = json.loads(capsys.readouterr().out)
    assert full == to_json(matrix(cuda=True))
    cuda_names = {v.name for v in matrix(cuda=True) if v.is_cuda}
    assert cuda_names, "the matrix has CUDA variants"
    assert not cuda_names & {e["name"] for e in cpu}
    assert {e["name"] for e in full} == {e["name"] for e in cpu} | cuda_names


def test_list_text_and_filters(capsys):
    py = matrix()[0].python
    assert run(["--list", "--python", py]) == EXIT_OK
    out = capsys.readouterr().out
    names = [v.name for v in matrix() if v.python == py]
    for n in names:
        assert n in out
    assert f"{len(names)} variant(s), 0 CUDA" in out
    cuda = next(v for v in matrix(cuda=True) if v.is_cuda)
    assert run(["--list", "--variant", cuda.name, "--format", "json"]) == EXIT_OK
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == [cuda.name]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--list", "--variant", "py99-cpu-mkl"], "unknown variant 'py99-cpu-mkl'"),
        (["--list", "--python", "2.7"], "unknown Python version 2.7"),
        (["--list", "--resume", "--restart"], "not allowed with argument"),
    ],
)
def test_bad_selection_is_one_line_exit_2(capsys, argv, needle):
    assert run(argv) == EXIT_USAGE
    assert needle in only_line(capsys.readouterr().err)


# ------------------------------------------------------------------------------ pre-flight


def test_conda_build_missing_is_refused(tmp_path, env, capsys):
    env.setenv("PATH", str(tmp_path))  # no conda-build on PATH
    env.delenv("CONDA_EXE", raising=False)
    code = run(["--artifacts", str(tmp_path / "rel"), "--allow-dirty", "--variant", four()[0]])
    assert code == EXIT_USAGE
    assert "conda-build not found" in only_line(capsys.readouterr().err)
    assert not (tmp_path / "rel").exists()


def test_dirty_tree_is_refused(tmp_path, env, capsys):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "recipe-hack.patch").write_text("uncommitted\n")
    env.setattr(release, "REPO_ROOT", repo)
    argv = [
        "--artifacts",
        str(tmp_path / "rel"),
        "--conda-build",
        str(STANDIN),
        "--variant",
        four()[0],
    ]
    assert run(argv) == EXIT_USAGE
    line = only_line(capsys.readouterr().err)
    assert "git tree is dirty" in line and "recipe-hack.patch" in line and "--allow-dirty" in line
    assert not (tmp_path / "rel").exists()


def test_disk_space_refusal_prints_the_estimate(tmp_path, env, capsys):
    env.setenv("PYTORCH_RELEASE_FREE_BYTES", str(60 * 10**9))
    argv = release_argv(tmp_path, four()[:3])
    assert run(argv) == EXIT_USAGE
    line = only_line(capsys.readouterr().err)
    assert "not enough free disk space" in line
    assert "~75 GB needed for 3 CPU x 25 GB + 0 CUDA x 60 GB, 60 GB free" in line
    assert not (tmp_path / "rel").exists()


def test_cuda_refused_through_real_nvml_without_gpu(tmp_path, env, capsys):
    from tools.build import cuda_arch

    if cuda_arch.gpus_visible():
        pytest.skip("a GPU is visible here: the refusal cannot happen")
    assert run([*release_argv(tmp_path, []), "--cuda", "--python", matrix()[0].python]) == 2
    assert "no NVIDIA GPU is visible" in only_line(capsys.readouterr().err)


def test_cuda_without_gpu_is_refused(tmp_path, env, capsys):
    from tools.build import cuda_arch

    env.setattr(cuda_arch, "gpus_visible", lambda nvml=None: False)
    cuda = next(v.name for v in matrix(cuda=True) if v.is_cuda)
    assert run(release_argv(tmp_path, [cuda])) == EXIT_USAGE
    assert "no NVIDIA GPU is visible" in only_line(capsys.readouterr().err)


# ------------------------------------------------------------------------------ dry run


def test_dry_run_prints_every_plan_and_writes_nothing(tmp_path, env, capsys):
    env.setenv("TORCH_CUDA_ARCH_LIST", "8.6")
    env.setenv("MAX_JOBS", "2")
    rel = tmp_path / "rel"
    assert (
        run(
            [
                "--artifacts",
                str(rel),
                "--dry-run",
                "--format",
                "json",
                "--conda-build",
                str(STANDIN),
                "--allow-dirty",
                "--",
                "--stats-file",
                "s",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    plans = json.loads(captured.out)
    assert [p["name"] for p in plans] == [v.name for v in matrix()]
    version = plans[0]["croot"].split(os.sep)[-2]
    for p in plans:
        assert p["action"] == "build" and p["reason"] == "not built yet"
        argv = p["argv"]
        assert argv[0] == str(STANDIN.resolve())
        assert argv[argv.index("--croot") + 1] == str(rel / version / p["name"])
        assert argv[argv.index("--output-folder") + 1] == str(rel / version / "channel")
        m_files = [argv[i + 1] for i, a in enumerate(argv) if a == "-m"]
        assert m_files[-1] == str(rel / version / "overrides" / f"{p['name']}.yaml")
        assert "--dirty" not in argv and "--no-build-id" not in argv
        assert argv[-2:] == ["--stats-file", "s"]
        assert p["env"]["removed"] == ["MAX_JOBS", "TORCH_CUDA_ARCH_LIST"]
        assert p["override_content"].startswith(f"# variant: {p['name']}\n")
        assert p["log"] == str(rel / version / "logs" / f"{p['name']}.log")
    assert not rel.exists()


def test_dry_run_text_without_conda_build(tmp_path, env, capsys):
    env.setenv("PATH", str(tmp_path))
    env.delenv("CONDA_EXE", raising=False)
    rel = tmp_path / "rel"
    assert run(["--artifacts", str(rel), "--dry-run", "--cuda"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "a real run would refuse: conda-build not found" in out
    assert "a real run would refuse: --cuda selects" in out or "gpu: visible" in out
    for i, v in enumerate(matrix(cuda=True), 1):
        assert f"[{i}/{len(matrix(cuda=True))}] {v.name}: build" in out
    assert out.count("  argv: ") == len(matrix(cuda=True))
    assert not rel.exists()


# ------------------------------------------------------------------------------ whole releases


@pytest.mark.slow
def test_four_variants_one_build_failure_one_test_failure(tmp_path, env, capsys):
    names = four()
    env.setenv("CONDA_BUILD_STANDIN_FAIL_BUILD", names[1])
    env.setenv("CONDA_BUILD_STANDIN_FAIL_TESTS", names[2])
    # conda-build's own overrides left in the shell must not reach it (CONDA_PY would narrow the
    # python list to 3.12 for every variant)
    env.setenv("CONDA_PY", "312")
    env.setenv("CONDA_NPY", "126")
    code = run(release_argv(tmp_path, names))
    out = capsys.readouterr().out
    assert code == EXIT_FAIL
    root = version_dir(tmp_path)

    report = json.loads((root / "release-report.json").read_text())
    rows = {r["name"]: r for r in report["variants"]}
    assert list(rows) == names and report["verdict"] == "fail"
    assert (rows[names[0]]["build"], rows[names[0]]["verdict"]) == (BUILT, "pass")
    assert (rows[names[1]]["build"], rows[names[1]]["verdict"]) == (BUILD_FAILED, "fail")
    assert rows[names[1]]["reasons"][0] == "conda-build exited with status 1"
    assert (rows[names[2]]["build"], rows[names[2]]["verdict"]) == (BUILT, "fail")
    assert (rows[names[3]]["build"], rows[names[3]]["verdict"]) == (BUILT, "pass")
    # the stand-in's suite: 5 tests, 2 files; the failing one loses test_cat and test_view
    assert rows[names[0]]["counts"]["passed"] == 5 and rows[names[0]]["counts"]["failed"] == 0
    assert rows[names[2]]["counts"]["failed"] >= 1
    for n in names:
        assert rows[n]["log"] == f"logs/{n}.log"
        assert rows[n]["elapsed"] > 0

    md = (root / "release-report.md").read_text()
    for n in names:
        assert f"[logs/{n}.log](logs/{n}.log)" in md
    assert f"| {names[1]} | build-failed | fail |" in md
    assert f"| {names[2]} | built | fail |" in md
    assert f"| {names[0]} | built | pass | 5 | 0 |" in md
    with zipfile.ZipFile(root / "log_files.zip") as zf:
        assert sorted(zf.namelist()) == sorted(f"logs/{n}.log" for n in names)
        assert b"BuildScriptException" in zf.read(f"logs/{names[1]}.log")

    # each variant: its own croot, its own log, packages in the one channel
    for n in names:
        assert (root / n).is_dir()
        assert "BUILD START:" in (root / "logs" / f"{n}.log").read_text()
    channel = {p.name for p in (root / "channel").glob("*/*.conda")}
    for n in names:  # BUILD START lists the package files conda-build is about to make
        line = next(
            x
            for x in (root / "logs" / f"{n}.log").read_text().splitlines()
            if x.startswith("BUILD START: ")
        )
        files = set(ast.literal_eval(line.removeprefix("BUILD START: ")))
        assert files and (files <= channel) == (n != names[1]), n
        assert not files & channel or n != names[1]
    # what the PyTorch build saw (the recorder $PYTHON, run by the real build.sh): release defaults
    seen = recorded_env(root, names[0])
    assert seen["MAX_JOBS"] == seen["CPU_COUNT"] != "3"
    assert seen["USE_CCACHE"] == "0" and "CMAKE_CXX_COMPILER_LAUNCHER" not in seen

    state = json.loads((root / "state.json").read_text())
    assert set(state["variants"]) == set(names)
    assert "[4/4] " in out and "release: FAIL" in out

    # Rerun without the failure knobs: the two good variants are skipped, the others rebuilt.
    env.delenv("CONDA_BUILD_STANDIN_FAIL_BUILD")
    env.delenv("CONDA_BUILD_STANDIN_FAIL_TESTS")
    assert run(release_argv(tmp_path, names)) == EXIT_OK
    out = capsys.readouterr().out
    assert f"[1/4] {names[0]}  skipped" in out and f"[4/4] {names[3]}  skipped" in out
    assert f"[2/4] {names[1]}  elapsed" in out and "(last attempt: build-failed)" in out
    assert f"[3/4] {names[2]}  elapsed" in out and "(last attempt: built, tests fail)" in out
    report = json.loads((root / "release-report.json").read_text())
    assert report["verdict"] == "pass"
    assert [r["from_earlier_run"] for r in report["variants"]] == [True, False, False, True]
    previous = sorted(p.name for p in (root / "logs" / "previous").iterdir())
    assert [p.split(".")[0] for p in previous] == sorted([names[1], names[2]])

    # --restart would build all four again
    assert run([*release_argv(tmp_path, names), "--restart", "--dry-run"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.count(": build (--restart)") == 4


def test_corrupt_state_is_reported_and_treated_as_empty(tmp_path, env, capsys):
    names = four()[:2]
    version = recipe_version()
    fingerprint = release.release_fingerprint(RECIPE_DIR, (CONDA_BUILD_CONFIG,))
    state = ReleaseState(version)
    for n in names:
        state.record(
            VariantRecord(n, BUILT, 0, "pass", [], {"passed": 5}, 3.0, f"logs/{n}.log", fingerprint)
        )
    path = tmp_path / "rel" / version / "state.json"
    save_state(state, path)
    argv = [*release_argv(tmp_path, names), "--dry-run"]
    assert run(argv) == EXIT_OK
    out = capsys.readouterr().out
    assert out.count("skip (built and validated (pass) by an earlier run)") == 2

    path.write_text(path.read_text()[:100])  # truncated, as by a full disk or a copy cut short
    assert run(argv) == EXIT_OK
    captured = capsys.readouterr()
    line = only_line(captured.err)
    assert line.startswith(f"warning: state file {path} is corrupt (")
    assert line.endswith("treating it as empty: every selected variant will be built")
    assert captured.out.count(": build (not built yet)") == 2


def test_ccache_is_refused_a_release_builds_without_knobs(tmp_path, env, capsys):
    assert run([*release_argv(tmp_path, four()[:1]), "--ccache"]) == EXIT_USAGE
    assert "_dev mark" in only_line(capsys.readouterr().err)
    assert not (tmp_path / "rel").exists()


@pytest.mark.parametrize(
    "knob", ["TORCH_CUDA_ARCH_LIST", "PYTORCH_SKIP_TESTS", "PYTORCH_CCACHE", "MAX_JOBS"]
)
def test_a_dev_knob_left_in_the_shell_is_refused_before_anything_is_built(
    tmp_path, env, capsys, knob
):
    env.setenv(knob, "1")
    assert run(release_argv(tmp_path, four()[:1])) == EXIT_USAGE
    line = only_line(capsys.readouterr().err)
    assert f"development knob(s) {knob} set" in line and f"unset {knob}" in line
    assert not (tmp_path / "rel" / recipe_version(RECIPE_DIR) / "state.json").exists()


def test_a_second_release_of_the_same_version_is_refused(tmp_path, env, capsys):
    from tools.build import lock

    version = recipe_version()
    held = lock.acquire(tmp_path / "rel" / version / "release.lock", what="release")
    try:
        assert run(release_argv(tmp_path, four()[:1])) == EXIT_USAGE
    finally:
        held.release()
    line = only_line(capsys.readouterr().err)
    assert line.startswith(f"{PROG}: error: another release (pid {os.getpid()}")
    assert not (tmp_path / "rel" / version / "logs").exists()


# ------------------------------------------------------------------------------ kill and resume


def _wait_for(predicate, proc, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"release ended early with {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.parametrize("signame", ["SIGKILL", "SIGTERM"])
def test_kill_in_variant_3_then_resume(tmp_path, signame):
    import signal
    import sys

    names = four()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in release.DEV_KNOBS and not k.startswith("CONDA_BUILD_STANDIN_")
    }
    env.update(
        PYTORCH_RELEASE_FREE_BYTES=BIG, CONDA_BUILD_STANDIN_SLEEP="0.4", PYTHONPATH=str(REPO_ROOT)
    )
    argv = [sys.executable, "-m", "tools.release", *release_argv(tmp_path, names)]
    log3 = None
    with open(tmp_path / "first.out", "wb") as out:
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:

            def in_variant_3():
                nonlocal log3
                logs = list((tmp_path / "rel").glob(f"*/logs/{names[2]}.log"))
                if not logs:
                    return False
                log3 = logs[0]
                return "Building CXX object" in log3.read_text(errors="replace")

            _wait_for(in_variant_3, proc)
            proc.send_signal(getattr(signal, signame))
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    root = log3.parents[1]
    state = json.loads((root / "state.json").read_text())["variants"]
    assert [state[n]["build"] for n in names[:2]] == [BUILT, BUILT]
    assert names[3] not in state
    if signame == "SIGKILL":
        assert code == -signal.SIGKILL
        assert names[2] not in state
        # conda-build runs in its own session and outlives its killed caller; the lock names its
        # process group, so the next release waits for it (tests/test_dev_build.py shows the
        # refusal). Let it end before resuming.
        from tools.build import lock

        child = json.loads((root / "release.lock").read_text())["child_pgid"]
        deadline = time.monotonic() + 60
        while lock.group_alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not lock.group_alive(child)
    else:  # forwarded to conda-build, recorded, reported, exit 130
        assert code == 130
        assert state[names[2]]["build"] == "interrupted"
        report = json.loads((root / "release-report.json").read_text())
        assert report["verdict"] == "fail"
        assert [r["build"] for r in report["variants"]] == [BUILT, BUILT, "interrupted", "not-run"]
    assert "BUILD START" in log3.read_text()  # the log of the killed variant was kept

    env["CONDA_BUILD_STANDIN_SLEEP"] = "0"
    second = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stdout + second.stderr
    out = second.stdout
    assert f"[1/4] {names[0]}  skipped" in out and f"[2/4] {names[1]}  skipped" in out
    assert f"[3/4] {names[2]}  elapsed" in out and f"[4/4] {names[3]}  elapsed" in out
    assert "~" in out.split(f"[3/4] {names[2]}")[1].splitlines()[0]  # estimate from 1-2
    # SIGKILL left the lock behind; its owner is gone, so it is taken over with a note
    assert ("took over a stale lock" in second.stderr) == (signame == "SIGKILL")
    why = "not built yet" if signame == "SIGKILL" else "last attempt: interrupted"
    assert f"({why})" in out
    final = json.loads((root / "state.json").read_text())["variants"]
    assert all(final[n]["build"] == BUILT and final[n]["verdict"] == "pass" for n in names)
    # the interrupted attempt's log was moved aside, not deleted
    assert list((root / "logs" / "previous").glob(f"{names[2]}.*.log"))


# ------------------------------------------------------------------------------ through nox


@pytest.mark.slow
def test_through_real_nox(tmp_path):
    import sys

    if (
        subprocess.run([sys.executable, "-m", "nox", "--version"], capture_output=True).returncode
        != 0
    ):
        pytest.skip("nox is not installed in this interpreter")
    env = {k: v for k, v in os.environ.items() if k not in ("CONDA_EXE",)}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    nox = [sys.executable, "-m", "nox", "-f", str(REPO_ROOT / "noxfile.py"), "-s", "release", "--"]
    listing = subprocess.run(
        [*nox, "--list", "--cuda", "--format", "json"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout) == to_json(matrix(cuda=True))

    dry = subprocess.run(
        [*nox, "--dry-run", "--artifacts", str(tmp_path / "rel")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dry.returncode == 0, dry.stderr
    for v in matrix():
        assert f"] {v.name}: build" in dry.stdout
    assert "a real run would refuse: conda-build not found" in dry.stdout
    assert not (tmp_path / "rel").exists()


def test_an_empty_fingerprint_never_skips_a_variant():
    rec = VariantRecord("py311-cpu-mkl", BUILT, 0, "pass", fingerprint="")
    assert release.skip_reason(rec, "abc", restart=False) is None
    assert (
        release.build_reason(rec, "abc", restart=False)
        == "recipe or variant config changed since it was built"
    )


def test_report_table_prints_markup_and_controls_as_plain_text(capsys):
    report = {
        "version": "2.13.0",
        "verdict": "fail",
        "variants": [
            {
                "name": "py311-[bold]x[/]",
                "build": BUILT,
                "verdict": "fail",
                "counts": {"failed": 1},
                "elapsed": 1.0,
                "log": "logs/\x1b]52;c;aGk=\x07a.log",
                "from_earlier_run": False,
            }
        ],
    }
    release.print_report_table(report, Path("/tmp/[/x]"))
    out = capsys.readouterr().out
    assert "py311-[bold]x[/]" in out and "[/x]" in out
    assert "\x1b]52" not in out


def test_artifacts_path_with_markup_survives_the_whole_release(tmp_path, env, capsys):
    (name,) = four()[:1]
    artifacts = tmp_path / "[/x]"
    code = run(release_argv(tmp_path, [name], artifacts=artifacts))
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "[/x]" in out
    assert (artifacts / recipe_version(RECIPE_DIR) / "release-report.md").is_file()


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_unusable_artifacts_folder_is_one_line_exit_2(tmp_path, env, capsys, kind):
    artifacts = tmp_path / "art"
    if kind == "file":
        artifacts.write_text("not a folder")
    else:
        artifacts.mkdir()
        artifacts.chmod(0o500)
        if os.access(artifacts, os.W_OK):  # root ignores permissions
            artifacts.chmod(0o700)
            pytest.skip("running as a user that can write anywhere")
    try:
        code = run(release_argv(tmp_path, four()[:1], artifacts=artifacts))
    finally:
        artifacts.chmod(0o700)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "cannot use" in only_line(err) and "--artifacts" in err


def test_release_folder_under_proc_is_one_line_exit_2(tmp_path, env, capsys):
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    code = run(release_argv(tmp_path, four()[:1], artifacts="/proc/self/nonexistent"))
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "cannot use" in only_line(err)


def test_a_dev_marked_package_is_never_published(tmp_path):
    log = tmp_path / "v.log"
    log.write_text(
        "BUILD START: ['pytorch-2.13.0-cpu_mkl_py311_h1_0_dev.conda', "
        "'pytorch-cpu-2.13.0-cpu_mkl_py311_h2_0_dev.conda']\n"
        "BUILD START: ['pytorch-2.13.0-cpu_mkl_py312_h1_0.conda']\n"
    )
    assert release.dev_marked_packages(log) == [
        "pytorch-2.13.0-cpu_mkl_py311_h1_0_dev.conda",
        "pytorch-cpu-2.13.0-cpu_mkl_py311_h2_0_dev.conda",
    ]
    assert release.dev_marked_packages(tmp_path / "missing.log") == []
