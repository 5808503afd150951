"""Release pre-flight: refuse in one line, before hours are spent, what would fail or ship wrong.

Checks, in this order, each a ``ToolError`` (exit 2) with what is wrong and what to do:

1. conda-build is found (``tools.build.conda_build.find_conda_build``);
2. the git tree is clean (``git status --porcelain``), since a release builds committed recipes
   only; ``--allow-dirty`` skips this;
3. a GPU is visible when CUDA variants are selected: their package tests assert
   ``torch.cuda.is_available()``;
4. the free disk space where the artifacts go covers the estimate for the variants to build.

Disk estimate per variant (a build folder with sources, build and host prefixes, test prefix and
the package; measured builds of PyTorch 2.x take ~15-20 GB CPU and ~40-50 GB CUDA, plus headroom):
CPU 25 GB, CUDA 60 GB. Every variant keeps its own croot, so the estimates add up.

Test knob: ``PYTORCH_RELEASE_FREE_BYTES=<integer>`` replaces the free-space probe
(``shutil.disk_usage``) with that number of bytes. It exists so that tests can exercise the refusal;
do not set it for a real release.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.cli import ToolError

GB = 10**9
CPU_VARIANT_BYTES = 25 * GB
CUDA_VARIANT_BYTES = 60 * GB
FREE_BYTES_ENV = "PYTORCH_RELEASE_FREE_BYTES"


@dataclass(frozen=True)
class DiskCheck:
    needed: int
    free: int
    probed: Path  # the existing folder whose file system was measured
    source: str  # "disk_usage" or the test knob's name

    @property
    def ok(self) -> bool:
        return self.free >= self.needed

    def line(self, n_cpu: int, n_cuda: int) -> str:
        return (
            f"disk: ~{fmt_gb(self.needed)} needed for {n_cpu} CPU x {fmt_gb(CPU_VARIANT_BYTES)}"
            f" + {n_cuda} CUDA x {fmt_gb(CUDA_VARIANT_BYTES)}, {fmt_gb(self.free)} free"
            f" at {self.probed}" + (f" (from {self.source})" if self.source != "disk_usage" else "")
        )


def fmt_gb(n: int) -> str:
    return f"{n / GB:.0f} GB" if n >= GB else f"{n / GB:.2f} GB"


def disk_estimate(variants: Sequence) -> tuple[int, int, int]:
    """Return (bytes needed, number of CPU variants, number of CUDA variants)."""
    n_cuda = sum(1 for v in variants if v.is_cuda)
    n_cpu = len(variants) - n_cuda
    return n_cpu * CPU_VARIANT_BYTES + n_cuda * CUDA_VARIANT_BYTES, n_cpu, n_cuda


def _existing_ancestor(path: Path) -> Path:
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path, environ: dict[str, str] | None = None) -> tuple[int, Path, str]:
    """Free bytes on the file system that will hold ``path`` (which may not exist yet).

    ``PYTORCH_RELEASE_FREE_BYTES`` in ``environ`` (default: the process environment) replaces the
    probe; a value that is not a non-negative integer is a ToolError.
    """
    env = os.environ if environ is None else environ
    probed = _existing_ancestor(path)
    raw = env.get(FREE_BYTES_ENV)
    if raw is not None and raw != "":
        try:
            value = int(raw)
            if value < 0:
                raise ValueError
        except ValueError:
            raise ToolError(
                f"{FREE_BYTES_ENV}={raw!r} is not a byte count; unset it (it is a test knob)"
            ) from None
        return value, probed, FREE_BYTES_ENV
    return shutil.disk_usage(probed).free, probed, "disk_usage"


def check_no_dev_knobs(environ: dict[str, str] | None = None) -> str:
    """Refuse when a development knob is set: a release never builds with one.

    A package built with any knob of ``tools.recipe.KNOBS`` set carries the development mark in its
    build string (recipe/meta.yaml), so it could never be published; the knobs are removed from
    conda-build's environment anyway, but a knob left in the caller's shell is a sign of a dev
    session, and silence would hide it.
    """
    from tools.recipe.knobs import KNOBS

    env = os.environ if environ is None else environ
    found = [k for k in KNOBS if env.get(k)]
    if found:
        raise ToolError(
            f"development knob(s) {', '.join(found)} set in the environment: a "
            "release never builds with them (its packages would carry the _dev "
            f"mark); unset them first: unset {' '.join(found)}"
        )
    return "development knobs: none set"


def check_disk(variants: Sequence, path: Path, environ: dict[str, str] | None = None) -> str:
    """Return the info line, or raise ToolError when the estimate exceeds the free space."""
    needed, n_cpu, n_cuda = disk_estimate(variants)
    free, probed, source = free_bytes(path, environ)
    check = DiskCheck(needed, free, probed, source)
    line = check.line(n_cpu, n_cuda)
    if not check.ok:
        raise ToolError(
            f"not enough free disk space: {line}; free space or pass --output-folder/--artifacts "
            "on a bigger disk, or build fewer variants (--variant/--python)"
        )
    return line


def git_dirty_paths(repo_root: Path) -> list[str]:
    """Paths ``git status --porcelain`` reports in ``repo_root`` (untracked files included)."""
    git = shutil.which("git")
    if git is None:
        raise ToolError(
            "git not found: a release builds committed recipes only and checks the tree with git; "
            "install git, or pass --allow-dirty"
        )
    proc = subprocess.run(
        [git, "status", "--porcelain"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["git status failed"])[0]
        raise ToolError(
            f"cannot check the git tree at {repo_root} ({first}); a release builds committed "
            "recipes only: run it from a git checkout, or pass --allow-dirty"
        )
    return [line[3:] for line in proc.stdout.splitlines() if line.strip()]


def check_git_clean(repo_root: Path, allow_dirty: bool = False) -> str:
    if allow_dirty:
        return "git: tree not checked (--allow-dirty)"
    dirty = git_dirty_paths(repo_root)
    if dirty:
        shown = ", ".join(dirty[:3]) + (f" and {len(dirty) - 3} more" if len(dirty) > 3 else "")
        raise ToolError(
            f"the git tree is dirty ({len(dirty)} changed: {shown}); a release builds committed "
            "recipes only: commit or stash the changes, or pass --allow-dirty"
        )
    return "git: tree clean"


def check_gpu(variants: Sequence, gpus_visible: Callable[[], bool] | None = None) -> str | None:
    """CUDA variants need a visible GPU: their tests assert torch.cuda.is_available()."""
    cuda = [v.name for v in variants if v.is_cuda]
    if not cuda:
        return None
    if gpus_visible is None:
        from tools.build import cuda_arch

        gpus_visible = cuda_arch.gpus_visible
    if not gpus_visible():
        raise ToolError(
            f"--cuda selects {len(cuda)} CUDA variant(s) but no NVIDIA GPU is visible (NVML); "
            "their tests assert torch.cuda.is_available(): run on a GPU machine, or drop --cuda"
        )
    return f"gpu: visible, {len(cuda)} CUDA variant(s)"


def check_conda_build(explicit: str | None = None) -> str:
    from tools.build.conda_build import find_conda_build

    return find_conda_build(explicit)


def run_preflight(
    *,
    variants_to_build: Sequence,
    conda_build: str | None,
    repo_root: Path,
    allow_dirty: bool,
    disk_path: Path,
    gpus_visible: Callable[[], bool] | None = None,
    environ: dict[str, str] | None = None,
    collect: bool = False,
) -> tuple[str | None, list[str], list[str]]:
    """Run every check in order; return (conda-build path, info lines, refusals).

    ``variants_to_build`` are the selected variants a resume does not skip: they decide the GPU
    check (a CUDA variant among them) and the disk estimate. By default the first refusal is
    raised as a ToolError; with ``collect`` (a dry run) every check runs and the refusals are
    returned instead.
    """
    exe: str | None = None
    lines: list[str] = []
    problems: list[str] = []

    def conda() -> str:
        nonlocal exe
        exe = check_conda_build(conda_build)
        return f"conda-build: {exe}"

    checks: list[Callable[[], str | None]] = [
        conda,
        lambda: check_git_clean(repo_root, allow_dirty),
        lambda: check_no_dev_knobs(environ),
        lambda: check_gpu(variants_to_build, gpus_visible),
        lambda: check_disk(variants_to_build, disk_path, environ),
    ]
    for check in checks:
        try:
            line = check()
        except ToolError as exc:
            if not collect:
                raise
            problems.append(exc.message)
            continue
        if line:
            lines.append(line)
    return exe, lines, problems
