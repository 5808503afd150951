"""Release pre-flight: each refusal is one line, exit 2; the disk probe is controllable."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.cli import EXIT_USAGE, ToolError
from tools.release import preflight


@dataclass(frozen=True)
class V:  # the two attributes pre-flight reads from tools.recipe.variants.Variant
    name: str
    is_cuda: bool


CPU = [V("py311-cpu-mkl", False), V("py312-cpu-mkl", False)]
CUDA = [V("py311-cuda12.8-mkl", True)]


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    (repo / "meta.yaml").write_text("package: {name: x}\n")
    _git(repo, "add", "meta.yaml")
    _git(repo, "commit", "-q", "-m", "init")
    return repo


def test_clean_tree_passes(repo):
    assert preflight.check_git_clean(repo) == "git: tree clean"


@pytest.mark.parametrize("change", ["modify", "untracked"])
def test_dirty_tree_is_refused_unless_allowed(repo, change):
    if change == "modify":
        (repo / "meta.yaml").write_text("package: {name: y}\n")
    else:
        (repo / "hack.patch").write_text("x\n")
    with pytest.raises(ToolError) as err:
        preflight.check_git_clean(repo)
    msg = err.value.message
    assert err.value.exit_code == EXIT_USAGE
    assert "dirty" in msg and "--allow-dirty" in msg and "\n" not in msg
    assert ("meta.yaml" if change == "modify" else "hack.patch") in msg
    assert "not checked" in preflight.check_git_clean(repo, allow_dirty=True)


def test_not_a_git_checkout_is_refused(tmp_path):
    with pytest.raises(ToolError, match="cannot check the git tree.*--allow-dirty"):
        preflight.check_git_clean(tmp_path)


def test_disk_estimate_per_variant():
    needed, n_cpu, n_cuda = preflight.disk_estimate(CPU + CUDA)
    assert (n_cpu, n_cuda) == (2, 1)
    assert needed == 2 * preflight.CPU_VARIANT_BYTES + preflight.CUDA_VARIANT_BYTES == 110 * 10**9


def test_disk_refusal_prints_the_estimate(tmp_path):
    env = {preflight.FREE_BYTES_ENV: str(40 * 10**9)}
    with pytest.raises(ToolError) as err:
        preflight.check_disk(CPU, tmp_path / "release" / "2.5.1", env)
    msg = err.value.message
    assert msg.startswith("not enough free disk space")
    assert "~50 GB needed for 2 CPU x 25 GB + 0 CUDA x 60 GB, 40 GB free" in msg
    assert str(tmp_path) in msg  # the existing folder that was measured


def test_disk_enough_passes_and_probe_measures_existing_parent(tmp_path):
    line = preflight.check_disk(
        CPU[:1], tmp_path / "not" / "yet", {preflight.FREE_BYTES_ENV: str(25 * 10**9)}
    )
    assert line.startswith("disk: ~25 GB needed") and "25 GB free" in line
    # the real probe: the first existing ancestor of a path that does not exist yet
    free, probed, source = preflight.free_bytes(tmp_path / "a" / "b", {})
    assert probed == tmp_path and source == "disk_usage"
    assert free == pytest.approx(shutil.disk_usage(tmp_path).free, rel=0.01)


def test_nothing_to_build_needs_no_disk(tmp_path):
    assert preflight.check_disk([], tmp_path, {preflight.FREE_BYTES_ENV: "0"}).startswith(
        "disk: ~0.00 GB needed"
    )


def test_bad_free_bytes_knob(tmp_path):
    with pytest.raises(ToolError, match="not a byte count"):
        preflight.free_bytes(tmp_path, {preflight.FREE_BYTES_ENV: "lots"})


def test_gpu_needed_only_for_cuda_variants():
    assert preflight.check_gpu(CPU, gpus_visible=lambda: False) is None
    assert "visible" in preflight.check_gpu(CUDA, gpus_visible=lambda: True)
    with pytest.raises(ToolError, match="no NVIDIA GPU is visible") as err:
        preflight.check_gpu(CPU + CUDA, gpus_visible=lambda: False)
    assert "1 CUDA variant" in err.value.message


def test_preflight_order_conda_build_first(tmp_path, repo):
    (repo / "meta.yaml").write_text("dirty\n")
    with pytest.raises(ToolError, match="not an executable file"):
        preflight.run_preflight(
            variants_to_build=CPU,
            conda_build=str(tmp_path / "nope"),
            repo_root=repo,
            allow_dirty=False,
            disk_path=tmp_path,
        )


def test_preflight_collects_every_refusal_for_a_dry_run(tmp_path, repo):
    (repo / "meta.yaml").write_text("dirty\n")
    exe, lines, problems = preflight.run_preflight(
        variants_to_build=CPU + CUDA,
        conda_build=str(tmp_path / "nope"),
        repo_root=repo,
        allow_dirty=False,
        disk_path=tmp_path,
        gpus_visible=lambda: False,
        environ={preflight.FREE_BYTES_ENV: "0", "MAX_JOBS": "4"},
        collect=True,
    )
    assert exe is None and lines == []
    assert [p.split(" ")[0:2] for p in problems] == [
        ["conda-build", repr(str(tmp_path / "nope"))],
        ["the", "git"],
        ["development", "knob(s)"],
        ["--cuda", "selects"],
        ["not", "enough"],
    ]


def test_preflight_passes_with_info_lines(tmp_path, repo):
    standin = Path(__file__).parent / "standin" / "conda-build"
    exe, lines, problems = preflight.run_preflight(
        variants_to_build=CUDA,
        conda_build=str(standin),
        repo_root=repo,
        allow_dirty=False,
        disk_path=tmp_path,
        gpus_visible=lambda: True,
        environ={preflight.FREE_BYTES_ENV: str(61 * 10**9)},
    )
    assert exe == str(standin.resolve()) and problems == []
    assert lines == [
        f"conda-build: {exe}",
        "git: tree clean",
        "development knobs: none set",
        "gpu: visible, 1 CUDA variant(s)",
        f"disk: ~60 GB needed for 0 CPU x 25 GB + 1 CUDA x 60 GB, 61 GB free at "
        f"{tmp_path} (from {preflight.FREE_BYTES_ENV})",
    ]
