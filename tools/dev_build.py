"""``nox -s dev_build``: a fast iteration build of one variant, with nothing edited by hand.

Three steps: gather facts (I/O: variants, work dir, fingerprint record, GPUs, ccache, memory),
make the plan (pure functions over those facts, one dataclass), then execute it (move the old work
dir aside, write the override and ccache config, run conda-build logged, summarise, validate).

Reuse, as the real conda-build 26.7 behaves (conda_build/build.py, ``build()`` and
``build_tree()``): a successful run WITHOUT ``--dirty`` always ends by renaming ``<croot>/work`` to
``work_moved_<dist>_<subdir>_main_build_loop``, even with ``--no-remove-work-dir`` or
``--no-test``; ``--dirty`` alone lets the test phase rename it to ``work_moved_<dist>_<subdir>``;
only ``--dirty --no-remove-work-dir`` leaves it in place. With ``--dirty`` conda-build also keeps a
non-empty ``_build_env``. So every dev_build run passes both flags, the first one included, and a
fresh build is made by moving ``work/`` and ``_build_env/`` aside (never deleting them) before the
run. See CONTRIBUTING.md, "How dev_build reuses the work dir".
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools import files as fileops  # `files` is the recipe-files parameter below
from tools import platforms
from tools.build import ccache as ccache_mod
from tools.build import cli_flags as conda_build_cli
from tools.build import conda_build, cuda_arch, jobs, lock, progress
from tools.cli import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ArgumentParser, ToolError
from tools.paths import CONDA_BUILD_CONFIG, DEV_DIR, LOGS_DIR, RECIPE_DIR
from tools.recipe import variants
from tools.recipe.knobs import RELEASE_TEST_LEVEL, TEST_LEVELS
from tools.recipe.options import DEFAULT_PYTHON, add_recipe_options, add_variant_options
from tools.recipe.sections import TEST_KEY, hash_recipe, recipe_fingerprint
from tools.text import counts_text, duration_text, strip_controls

PROG = "nox -s dev_build --"

# How much of PyTorch's suite a dev build's test phase runs (the recipe knob PYTORCH_TEST_LEVEL):
# smoke by default, a few core files in minutes, since the release level takes hours and a dev
# iteration first needs to know the build works; release always runs the release level.
DEFAULT_TEST_LEVEL = "smoke"
FINGERPRINT_FILE = "dev_build-fingerprint.json"
# Per variant: the packages its last dev_build made, from which recipe test section, and the last
# validated log (dev_test tests those packages; see tools/dev_test.py).
PACKAGES_FILE = "dev_build-packages.json"
LOCK_FILE = "dev_build.lock"
OVERRIDE_FILE = "variant.yaml"
# What conda-build reuses under --dirty (its build prefix, not only the work dir): a fresh build
# moves all of it aside, into one folder per fresh build.
REUSED_BY_CONDA_BUILD = ("work", "_build_env")
MOVED_ASIDE_PREFIX = "dev_build_moved_"


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    cuda: bool = False
    cuda_version: str | None = None
    arch: str | None = None
    python: str = DEFAULT_PYTHON
    blas: str | None = None
    croot: Path = DEV_DIR
    jobs: int | None = None
    mode: str = "auto"  # auto | reuse | fresh
    test_level: str = DEFAULT_TEST_LEVEL
    dry_run: bool = False
    format: str = "text"
    conda_build: str | None = None
    ccache: bool = True
    recipe_dir: Path = RECIPE_DIR
    variant_config: Path = CONDA_BUILD_CONFIG
    log_dir: Path = LOGS_DIR
    extra: tuple[str, ...] = ()
    tests_off_by_extra: bool = False  # conda-build's own --no-test / -b given after "--"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


_positive_int.__name__ = "positive integer"


def parse_args(argv: Sequence[str]) -> Options:
    argv, extra = conda_build_cli.split_extra(argv)
    p = ArgumentParser(
        prog=PROG,
        description="Build and test one variant fast: stable paths, --dirty reuse when the recipe "
        "is unchanged, ccache, the local GPU's CUDA arch only. Arguments after a "
        "second '--' go to conda-build.",
    )
    add_variant_options(p)
    p.add_argument(
        "--arch",
        metavar="LIST",
        help="TORCH_CUDA_ARCH_LIST, e.g. 8.6 or '8.6;9.0' (default: the local GPUs)",
    )
    p.add_argument(
        "--croot",
        type=Path,
        default=DEV_DIR,
        help="conda-build root, fixed for stable paths (default build_artifacts/dev)",
    )
    p.add_argument(
        "--jobs",
        type=_positive_int,
        metavar="N",
        help="parallel compile jobs (default: from cores and free memory)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fresh", action="store_true", help="always build from a fresh work dir")
    mode.add_argument(
        "--reuse", action="store_true", help="reuse the work dir even if the recipe changed"
    )
    tests = p.add_mutually_exclusive_group()
    tests.add_argument(
        "--tests",
        choices=TEST_LEVELS,
        default=DEFAULT_TEST_LEVEL,
        metavar="LEVEL",
        help=f"how much of PyTorch's suite runs: {', '.join(TEST_LEVELS)} "
        f"(default {DEFAULT_TEST_LEVEL}; core is the release level)",
    )
    tests.add_argument(
        "--no-test",
        action="store_true",
        help="same as --tests none: import checks and pip check only, no validation",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan; run and write nothing")
    p.add_argument(
        "--format", choices=("text", "json"), default="text", help="plan format for --dry-run"
    )
    conda_build.add_conda_build_option(p)
    p.add_argument("--no-ccache", action="store_true", help="build without ccache")
    add_recipe_options(p)
    p.add_argument(
        "--log-dir",
        type=Path,
        default=LOGS_DIR,
        help="where build logs go (default build_artifacts/logs)",
    )
    a = p.parse_args(argv)
    if a.format != "text" and not a.dry_run:
        raise ToolError("--format only applies to --dry-run", EXIT_USAGE)
    # Read as conda-build reads them (prefixes, attached values): nothing may move the build out
    # of the locked, fingerprinted croot or change the variant.
    given = conda_build_cli.check(extra, conda_build_cli.ALWAYS_REFUSED, "dev_build")
    return Options(
        cuda=a.cuda or a.cuda_version is not None,
        cuda_version=a.cuda_version,
        arch=a.arch,
        python=a.python,
        blas=a.blas,
        croot=a.croot.expanduser().absolute(),
        jobs=a.jobs,
        mode="fresh" if a.fresh else "reuse" if a.reuse else "auto",
        test_level="none" if a.no_test else a.tests,
        dry_run=a.dry_run,
        format=a.format,
        conda_build=a.conda_build,
        ccache=not a.no_ccache,
        recipe_dir=a.recipe_dir.absolute(),
        variant_config=a.variant_config.absolute(),
        log_dir=a.log_dir.absolute(),
        extra=tuple(extra),
        tests_off_by_extra=conda_build_cli.tests_off(given),
    )


def variant_argv(
    *, python: str, cuda: bool, cuda_version: str | None, blas: str | None
) -> list[str]:
    """The variant options that pick this variant again (for messages naming a command)."""
    argv = [] if python == DEFAULT_PYTHON else ["--python", python]
    if cuda_version:
        argv += ["--cuda-version", cuda_version]
    elif cuda:
        argv.append("--cuda")
    return argv + (["--blas", blas] if blas else [])


# --------------------------------------------------------------------------- pure planning


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split(".") if x.isdigit())


def choose_variant(
    all_variants: Sequence[variants.Variant],
    *,
    python: str,
    cuda: bool,
    cuda_version: str | None,
    blas: str | None,
) -> variants.Variant:
    """One variant: the python, CPU or the (newest or given) CUDA, the (first or given) BLAS."""
    found = [v for v in all_variants if v.python == python]
    if not found:
        pythons = sorted({v.python or "?" for v in all_variants}, key=_version_key)
        raise ToolError(
            f"no variant for python {python}; choose --python from: {', '.join(pythons)}",
            EXIT_USAGE,
        )
    if cuda:
        cudas = sorted(
            {v.cuda_version for v in found if v.is_cuda and v.cuda_version}, key=_version_key
        )
        if not cudas:
            raise ToolError(f"the matrix has no CUDA variant for python {python}", EXIT_USAGE)
        wanted = cuda_version or cudas[-1]
        if wanted not in cudas:
            raise ToolError(
                f"no CUDA {wanted} variant; choose --cuda-version from: {', '.join(cudas)}",
                EXIT_USAGE,
            )
        found = [v for v in found if v.cuda_version == wanted]
    else:
        found = [v for v in found if not v.is_cuda and v.values.get("gpu_variant", "cpu") == "cpu"]
        if not found:
            raise ToolError(f"the matrix has no CPU variant for python {python}", EXIT_USAGE)
    if blas:
        blases = list(dict.fromkeys(v.values.get("blas_impl", "") for v in found))
        found = [v for v in found if v.values.get("blas_impl") == blas]
        if not found:
            raise ToolError(
                f"no variant with BLAS {blas!r}; choose --blas from: {', '.join(blases)}",
                EXIT_USAGE,
            )
    return found[0]  # matrix order: the first blas_impl value is the default


def fingerprint(files: Mapping[str, str], variant: variants.Variant) -> str:
    """dev_build's work dir fingerprint: the recipe files but the test section, and the
    variant's name and values."""
    return recipe_fingerprint(
        files,
        test_section=False,
        variant=variant.name,
        values=dict(sorted(variant.values.items())),
    )


def describe_changes(old: Mapping, files: Mapping[str, str], variant: variants.Variant) -> str:
    """Why a recorded fingerprint does not match: which files or what variant changed."""
    reasons = []
    if old.get("variant") != variant.name or old.get("values") != variant.values:
        reasons.append(f"variant changed ({old.get('variant')} -> {variant.name})")
    old_files = old.get("files") or {}
    changed = sorted(f for f in files if f in old_files and old_files[f] != files[f])
    added = sorted(f for f in files if f not in old_files)
    removed = sorted(f for f in old_files if f not in files)
    for label, names in (("changed", changed), ("added", added), ("removed", removed)):
        if names:
            reasons.append(f"{label}: {', '.join(names)}")
    return "; ".join(reasons) or "fingerprint differs"


def decide_reuse(
    mode: str,
    *,
    work_nonempty: bool,
    record: Mapping | None,
    files: Mapping[str, str],
    variant: variants.Variant,
) -> tuple[bool, str]:
    """(reuse?, reason). Reuse only a non-empty work dir whose recorded fingerprint matches."""
    current = fingerprint(files, variant)
    matches = bool(record) and record.get("fingerprint") == current  # type: ignore[union-attr]
    if mode == "fresh":
        return False, "--fresh given"
    if mode == "reuse":
        if not work_nonempty:
            raise ToolError(
                "--reuse given, but there is no work dir to reuse; run without --reuse", EXIT_USAGE
            )
        if matches:
            return True, "--reuse given (recipe and patches unchanged)"
        why = describe_changes(record, files, variant) if record else "no fingerprint record"
        return True, f"--reuse given although the recipe differs from the work dir's ({why})"
    if not work_nonempty:
        return False, "no previous work dir"
    if not record:
        return False, "the work dir has no fingerprint record (not made by dev_build)"
    if matches and (record.get("files") or {}).get(TEST_KEY) not in (None, files.get(TEST_KEY)):
        return (
            True,
            "only meta.yaml's test section changed since the work dir was created: "
            "nothing to recompile, conda-build packages and tests again",
        )
    if matches:
        return (
            True,
            f"recipe, patches and variant unchanged since the work dir was created "
            f"({record.get('created', '?')})",
        )
    return (
        False,
        f"recipe or variant changed since the work dir was created: "
        f"{describe_changes(record, files, variant)}",
    )


@dataclass(frozen=True)
class Facts:
    """Everything the plan depends on that comes from outside (gathered by ``gather_facts``)."""

    variants: list[variants.Variant]
    recipe_files: dict[str, str]
    work_nonempty: bool
    reused_dirs: tuple[str, ...]  # which of REUSED_BY_CONDA_BUILD exist in the croot now
    record: dict | None
    conda_build: str
    conda_build_found: bool
    ccache: ccache_mod.CcacheTool | None
    ccache_cache_dir: Path
    cuda_arch_list: str | None
    jobs: jobs.Jobs
    environ: dict[str, str]
    now: _dt.datetime
    subdir: str


@dataclass
class Plan:
    variant: variants.Variant
    croot: Path
    work_dir: Path
    reuse: bool
    reuse_reason: str
    fingerprint: str
    move_aside_to: Path | None  # fresh build: the folder work/ and _build_env/ go to
    move_aside_names: tuple[str, ...]  # which of them exist (REUSED_BY_CONDA_BUILD)
    override_path: Path
    override_content: str
    cuda_arch_list: str | None
    jobs: jobs.Jobs
    ccache: ccache_mod.CcacheTool | None
    ccache_config_path: Path | None
    ccache_settings: dict[str, str]
    conda_build: str
    conda_build_found: bool
    argv: list[str]
    env: dict[str, str]
    env_unset: list[str]
    full_env: dict[str, str] = field(repr=False)
    log_path: Path = Path()
    stats_log: Path | None = None
    lock_path: Path = Path()
    fingerprint_path: Path = Path()
    test_level: str = DEFAULT_TEST_LEVEL
    tests_off_by_extra: bool = False  # conda-build's own --no-test / -b given after "--"
    subdir: str = "linux-64"
    recipe_files: dict[str, str] = field(default_factory=dict, repr=False)
    moved: list[Path] = field(default_factory=list)  # filled by execute: what was moved aside
    recipe_dir: Path = RECIPE_DIR

    @property
    def no_test(self) -> bool:
        return self.test_level == "none"

    def to_dict(self) -> dict:
        return {
            "argv": self.argv,
            "env": self.env,
            "env_unset": self.env_unset,
            "croot": str(self.croot),
            "work_dir": str(self.work_dir),
            "reuse": self.reuse,
            "reuse_reason": self.reuse_reason,
            "move_aside_to": str(self.move_aside_to) if self.move_aside_to else None,
            "move_aside": list(self.move_aside_names),
            "variant": {"name": self.variant.name, **self.variant.values},
            "override_file": {"path": str(self.override_path), "content": self.override_content},
            "cuda_arch_list": self.cuda_arch_list,
            "jobs": {"count": self.jobs.count, "reason": self.jobs.reason},
            "ccache": {
                "executable": self.ccache.path if self.ccache else None,
                "version": self.ccache.version if self.ccache else None,
                "origin": self.ccache.origin if self.ccache else None,
                "config_path": str(self.ccache_config_path) if self.ccache_config_path else None,
                "settings": {
                    k: (ccache_mod.redact(v) if k == "remote_storage" else v)
                    for k, v in self.ccache_settings.items()
                },
            },
            "conda_build": {"path": self.conda_build, "found": self.conda_build_found},
            "log_path": str(self.log_path),
            "tests": not (self.no_test or self.tests_off_by_extra),
            "test_level": self.test_level,
        }


def make_plan(opts: Options, facts: Facts) -> Plan:
    """The whole run, decided from options and facts only (pure)."""
    variant = choose_variant(
        facts.variants,
        python=opts.python,
        cuda=opts.cuda,
        cuda_version=opts.cuda_version,
        blas=opts.blas,
    )
    croot = opts.croot
    work = croot / "work"
    reuse, reason = decide_reuse(
        opts.mode,
        work_nonempty=facts.work_nonempty,
        record=facts.record,
        files=facts.recipe_files,
        variant=variant,
    )
    stamp = facts.now.strftime("%Y%m%d-%H%M%S")
    move_to = None if reuse or not facts.reused_dirs else croot / f"{MOVED_ASIDE_PREFIX}{stamp}"
    override_path = croot / OVERRIDE_FILE
    log_path = opts.log_dir / f"dev-{stamp}-{variant.name}.log"
    settings: dict[str, str] = {
        "MAX_JOBS": str(facts.jobs.count),
        "CPU_COUNT": str(facts.jobs.count),
    }
    ccache_settings: dict[str, str] = {}
    ccache_config = stats_log = None
    if opts.ccache:
        stats_log = ccache_mod.stats_log_for(log_path)
        ccache_config = croot / ccache_mod.CONFIG_FILE
        ccache_settings = ccache_mod.config_settings(
            croot=croot,
            cache_dir=facts.ccache_cache_dir,
            stats_log=stats_log,
            environ=facts.environ,
        )
        if facts.ccache:
            ccache_mod.check_version_for(ccache_settings, facts.ccache)
        settings.update(ccache_mod.build_environment(facts.ccache, ccache_config))
    if facts.cuda_arch_list:
        settings["TORCH_CUDA_ARCH_LIST"] = facts.cuda_arch_list
    settings["PYTORCH_TEST_LEVEL"] = opts.test_level
    full_env, changed, removed = conda_build.child_environment(facts.environ, settings)
    argv = conda_build.build_argv(
        facts.conda_build,
        recipe_dir=opts.recipe_dir,
        croot=croot,
        variant_files=[opts.variant_config, override_path],
        dirty=True,
        no_build_id=True,
        no_remove_work_dir=True,
        extra=opts.extra,
    )
    return Plan(
        variant=variant,
        croot=croot,
        work_dir=work,
        reuse=reuse,
        reuse_reason=reason,
        fingerprint=fingerprint(facts.recipe_files, variant),
        move_aside_to=move_to,
        move_aside_names=() if move_to is None else facts.reused_dirs,
        override_path=override_path,
        override_content=variants.override_yaml([variant]),
        cuda_arch_list=facts.cuda_arch_list,
        jobs=facts.jobs,
        ccache=facts.ccache,
        ccache_config_path=ccache_config,
        ccache_settings=ccache_settings,
        conda_build=facts.conda_build,
        conda_build_found=facts.conda_build_found,
        argv=argv,
        env=changed,
        env_unset=removed,
        full_env=full_env,
        log_path=log_path,
        stats_log=stats_log,
        lock_path=croot / LOCK_FILE,
        fingerprint_path=croot / FINGERPRINT_FILE,
        test_level=opts.test_level,
        subdir=facts.subdir,
        recipe_files=dict(facts.recipe_files),
        tests_off_by_extra=opts.tests_off_by_extra,
        recipe_dir=opts.recipe_dir,
    )


# --------------------------------------------------------------------------- facts (I/O)


def read_record(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def gather_facts(
    opts: Options,
    *,
    environ: Mapping[str, str] | None = None,
    nvml=None,
    now: _dt.datetime | None = None,
) -> Facts:
    environ = dict(os.environ if environ is None else environ)
    platform = platforms.host_platform()
    all_variants = variants.load_variants((opts.variant_config,), platform=platform)
    # The variant is chosen here too (cheaply, again in make_plan) to know the CUDA version.
    variant = choose_variant(
        all_variants,
        python=opts.python,
        cuda=opts.cuda,
        cuda_version=opts.cuda_version,
        blas=opts.blas,
    )
    arch = cuda_arch.resolve_arch_list(
        opts.arch, cuda=opts.cuda, cuda_version=variant.cuda_version, nvml=nvml
    )
    try:
        cb = conda_build.find_conda_build(opts.conda_build)
        cb_found = True
    except ToolError:
        if not opts.dry_run:
            raise
        cb, cb_found = opts.conda_build or "conda-build", False
    tool = None
    if opts.ccache:
        try:
            tool = ccache_mod.find_ccache()
        except ToolError:
            if not opts.dry_run:
                raise
    work = opts.croot / "work"
    work_nonempty = work.is_dir() and any(work.iterdir())
    reused = tuple(n for n in REUSED_BY_CONDA_BUILD if (opts.croot / n).exists())
    return Facts(
        variants=all_variants,
        recipe_files=hash_recipe(opts.recipe_dir),
        work_nonempty=work_nonempty,
        reused_dirs=reused,
        record=read_record(opts.croot / FINGERPRINT_FILE),
        conda_build=cb,
        conda_build_found=cb_found,
        ccache=tool,
        ccache_cache_dir=ccache_mod.default_cache_dir(environ),
        cuda_arch_list=arch,
        jobs=jobs.choose_jobs(opts.jobs, cuda=opts.cuda),
        environ=environ,
        now=now or _dt.datetime.now(),
        subdir=platform,
    )


# --------------------------------------------------------------------------- output


def plan_text(plan: Plan, *, dry_run: bool) -> str:
    d = plan.to_dict()
    cb = (
        plan.conda_build
        if plan.conda_build_found
        else f"{plan.conda_build} (not found: {conda_build.INSTALL_HINT})"
    )
    tool = (
        f"{plan.ccache.path} (ccache {plan.ccache.version}, {plan.ccache.origin})"
        if plan.ccache
        else ("not found" if plan.ccache_settings else "off (--no-ccache)")
    )
    lines = [
        "dev_build plan" + (" (dry run: nothing is run or written)" if dry_run else ""),
        f"  variant:     {plan.variant.name}",
        f"  conda-build: {cb}",
        f"  croot:       {plan.croot}",
        f"  work dir:    {'reuse' if plan.reuse else 'fresh'}: {plan.reuse_reason}",
    ]
    if plan.move_aside_to:
        lines.append(
            f"               {' and '.join(f'{n}/' for n in plan.move_aside_names)} "
            f"moved aside to {plan.move_aside_to}"
        )
    lines += [
        f"  CUDA arch:   {plan.cuda_arch_list or '- (CPU build)'}",
        f"  jobs:        {plan.jobs.count} ({plan.jobs.reason})",
        f"  ccache:      {tool}",
        "  tests:       "
        + (
            "none (import checks and pip check only, no validation)"
            if plan.no_test
            else "off (conda-build test phase off after '--', no validation)"
            if plan.tests_off_by_extra
            else f"{plan.test_level} (PYTORCH_TEST_LEVEL; release runs {RELEASE_TEST_LEVEL})"
        ),
        f"  log:         {plan.log_path}",
        "  environment given to conda-build (set or changed):",
        *[f"    {k}={v}" for k, v in plan.env.items()],
    ]
    if plan.env_unset:
        lines.append(f"    removed: {', '.join(plan.env_unset)}")
    lines += ["  command:", f"    {shlex.join(plan.argv)}"]
    if not dry_run:  # the files are written: name them
        lines.append(f"  override file: {plan.override_path}")
        if plan.ccache_config_path:
            lines.append(f"  ccache config: {plan.ccache_config_path}")
        return "\n".join(lines)
    lines += [
        f"  override file {plan.override_path} (not written):",
        *[f"    {x}" for x in plan.override_content.splitlines()],
    ]
    if plan.ccache_config_path:
        settings = d["ccache"]["settings"]
        lines += [
            f"  ccache config {plan.ccache_config_path} (not written):",
            *[f"    {line}" for line in ccache_mod.render_config(settings).splitlines()],
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- execution


def move_reused_aside(plan: Plan) -> list[Path]:
    """Fresh build: move what conda-build would reuse (and its fingerprint record) aside."""
    if plan.move_aside_to is None:
        if plan.fingerprint_path.exists():  # describes no work dir any more
            plan.fingerprint_path.unlink()
        return []
    plan.move_aside_to = folder = fileops.free_name(plan.move_aside_to)  # one folder per build
    moved = [
        fileops.move_aside(plan.croot / name, folder / name)
        for name in plan.move_aside_names
        if (plan.croot / name).exists()
    ]
    if plan.fingerprint_path.exists():  # the record belongs to the work dir it describes
        fileops.move_aside(plan.fingerprint_path, folder / plan.fingerprint_path.name)
    return moved


def write_record(plan: Plan) -> None:
    """Record the fingerprint of a fresh work dir once conda-build has exited.

    Written after the run, not before: a dev_build killed mid-build leaves a work dir without a
    record, which the next run moves aside instead of trusting it as "unchanged".
    """
    plan.fingerprint_path.write_text(
        json.dumps(
            {
                "fingerprint": plan.fingerprint,
                "variant": plan.variant.name,
                "values": plan.variant.values,
                "files": plan.recipe_files,
                "created": _dt.datetime.now().isoformat(timespec="seconds"),
            },
            indent=1,
        )
    )


def work_dir_after(plan: Plan, since: float) -> tuple[Path | None, str]:
    """(the work dir as it is after the run, what that means for the next run)."""
    work = plan.work_dir
    if work.is_dir() and any(work.iterdir()):
        return work, "kept for the next run"
    moved = sorted(
        (
            p
            for p in plan.croot.glob("work_moved_*")
            if p.is_dir() and p.stat().st_mtime >= since - 1
        ),
        key=lambda p: p.stat().st_mtime_ns,
    )
    if moved:
        return moved[-1], (
            "conda-build moved it there anyway; the next run starts fresh "
            "(its own --dirty/--no-remove-work-dir rules, see CONTRIBUTING.md)"
        )
    return None, "none left; the next run starts fresh"


def _packages(plan: Plan, since: float) -> list[Path]:
    """Packages this run made: in ``<croot>/<subdir>``, or ``<croot>/broken`` where conda-build
    moves a package whose tests failed."""
    found = []
    for folder in (plan.croot / plan.subdir, plan.croot / "broken"):
        if folder.is_dir():
            found += [
                p
                for p in folder.iterdir()
                if p.name.endswith((".conda", ".tar.bz2")) and p.stat().st_mtime >= since - 1
            ]
    return sorted(found)


def read_packages_record(croot: Path) -> dict[str, dict]:
    """variant name -> what its last dev_build made (``PACKAGES_FILE``); {} when unreadable."""
    data = read_record(croot / PACKAGES_FILE) or {}
    variants_ = data.get("variants")
    return (
        {k: v for k, v in variants_.items() if isinstance(v, dict)}
        if isinstance(variants_, dict)
        else {}
    )


def write_packages_record(croot: Path, name: str, entry: dict) -> None:
    """Set one variant's entry, keep the others (written aside, then renamed over)."""
    from tools.release.state import write_atomic

    records = read_packages_record(croot)
    records[name] = {**records.get(name, {}), **entry}
    write_atomic(
        croot / PACKAGES_FILE, json.dumps({"format": 1, "variants": records}, indent=1) + "\n"
    )


def execute(plan: Plan, *, out=None, held: lock.Lock | None = None) -> int:
    out = out or sys.stdout

    def say(text: str = "") -> None:  # paths and environment values come from the user
        print(strip_controls(text), file=out, flush=True)

    started = _dt.datetime.now().timestamp()
    if not plan.reuse:
        plan.moved = move_reused_aside(plan)
    plan.override_path.write_text(plan.override_content, encoding="utf-8")
    free_log = fileops.free_name(plan.log_path)  # two runs within one second: never append
    if free_log != plan.log_path:  # to another run's log
        plan.log_path = free_log
        if plan.stats_log:
            plan.stats_log = ccache_mod.stats_log_for(plan.log_path)
            plan.ccache_settings["stats_log"] = str(plan.stats_log)
    if plan.ccache_config_path:
        ccache_mod.write_config(plan.ccache_settings, plan.ccache_config_path)
    say(plan_text(plan, dry_run=False))
    say("")
    result = conda_build.run_logged(
        plan.argv,
        plan.full_env,
        plan.log_path,
        out=out,
        on_start=held.record_child if held else None,
        label="dev_build",
    )
    if not plan.reuse:
        write_record(plan)
    work_after, work_note = work_dir_after(plan, started)
    stats = ccache_mod.read_stats_log(plan.stats_log) if plan.stats_log else None
    packages = _packages(plan, started)
    if packages and not result.interrupted:
        write_packages_record(
            plan.croot,
            plan.variant.name,
            {
                "packages": [str(p) for p in packages],
                "log": str(plan.log_path),
                "recipe_dir": str(plan.recipe_dir),
                "test_section": plan.recipe_files.get(TEST_KEY),
                "built": _dt.datetime.now().isoformat(timespec="seconds"),
                "validated_log": None,
            },
        )

    say("")
    say("=" * 30 + " dev_build summary " + "=" * 31)
    if result.interrupted:
        build = f"interrupted (conda-build exit status {result.returncode})"
    elif result.returncode == 0:
        build = "succeeded"
    else:
        build = f"FAILED (conda-build exit status {result.returncode})"
    say(f"  build:       {build}")
    say(f"  variant:     {plan.variant.name}")
    say(f"  work dir:    {'reused' if plan.reuse else 'fresh'} ({plan.reuse_reason})")
    say(f"               now: {work_after or '-'} ({work_note})")
    for path in plan.moved:
        say(f"               previous {path.name}/ kept at {path}")
    say(f"  elapsed:     {duration_text(result.elapsed)}")
    say(f"  phases:      {progress.summarize(result.phases)}")
    say(f"  ccache:      {stats.describe() if stats else 'off'}")
    say(f"  CUDA arch:   {plan.cuda_arch_list or '- (CPU build)'}")
    say(f"  packages:    {', '.join(map(str, packages)) or 'none'}")
    say(f"  log:         {plan.log_path}")

    if result.interrupted:
        say("  tests:       not validated (interrupted)")
        return EXIT_INTERRUPTED
    if result.returncode != 0:
        cause = conda_build.explain_failure(plan.log_path, PROG)
        if cause:
            say(f"  cause:       {cause}")
        say("  tests:       not validated (build failed)")
        return EXIT_FAIL
    if plan.no_test or plan.tests_off_by_extra:
        why = "--tests none" if plan.no_test else "conda-build's test phase switched off"
        say(f"  tests:       off ({why}), not validated")
        return EXIT_OK
    from tools.validate_logs import log_outcome

    verdict, counts, reasons = log_outcome(plan.log_path)
    if packages:
        write_packages_record(plan.croot, plan.variant.name, {"validated_log": str(plan.log_path)})
    shown = counts_text(counts.to_dict())
    say(
        f"  tests:       {verdict.upper()} ({shown}); details: nox -s validate_logs -- "
        f"{plan.log_path}"
    )
    for reason in reasons:
        say(f"    - {reason}")
    return EXIT_OK if verdict == "pass" else EXIT_FAIL


def main(argv: Sequence[str]) -> int:
    opts = parse_args(argv)
    if opts.dry_run:
        facts = gather_facts(opts)
        plan = make_plan(opts, facts)
        if opts.format == "json":
            print(json.dumps(plan.to_dict(), indent=2))
        else:
            print(strip_controls(plan_text(plan, dry_run=True)))
        return EXIT_OK
    conda_build.find_conda_build(opts.conda_build)  # refuse before anything is written
    fileops.ensure_writable_dir(opts.croot, "the croot", "--croot")
    fileops.ensure_writable_dir(opts.log_dir, "the log folder", "--log-dir")
    with lock.acquire(
        opts.croot / LOCK_FILE, command=shlex.join(["nox", "-s", "dev_build", "--", *argv])
    ) as held:
        if held.message:
            print(strip_controls(f"dev_build: {held.message}"), flush=True)
        facts = gather_facts(opts)
        plan = make_plan(opts, facts)
        return execute(plan, held=held)
