"""``nox -s release``: build and validate every variant, resumably, with a release report.

Each selected variant is its own conda-build invocation (conda-build's ``--keep-going`` does not go
past a failed build), with release-grade settings: no ``--dirty``, no development knobs in the
environment (a knob set in the caller's shell is refused: a package built with one carries the
``_dev`` mark and is never published), no ccache. Per release version, everything lives under
``<artifacts>/<version>/`` (default ``build_artifacts/release/<version>/``)::

    <variant>/              the variant's croot
    overrides/<variant>.yaml  the -m file that narrows the matrix to this variant
    logs/<variant>.log      its conda-build output, streamed as it runs
    logs/previous/          logs of earlier attempts, moved aside before a variant is rebuilt
    channel/                packages of every variant (unless --output-folder)
    state.json              outcome per variant, rewritten atomically after each one
    release-report.md/.json the release report; log_files.zip: every variant's log

Exit status: 0 every selected variant built and passed validation; 1 one or more failed to build or
failed validation; 2 unusable input or a refused pre-flight; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tools import files
from tools.build import cli_flags as conda_build_cli
from tools.build.conda_build import CONDA_BUILD_OVERRIDES, add_conda_build_option
from tools.cli import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, ArgumentParser, ToolError
from tools.paths import CONDA_BUILD_CONFIG, RELEASE_DIR, REPO_ROOT
from tools.recipe import options as recipe_options
from tools.recipe import sections
from tools.recipe.knobs import DEV_MARK, KNOBS
from tools.recipe.variants import Variant
from tools.release import preflight
from tools.release.state import (
    BUILD_FAILED,
    BUILT,
    INTERRUPTED,
    PASS,
    ReleaseState,
    VariantRecord,
    load_state,
    save_state,
    write_atomic,
)
from tools.text import counts_text, duration_text, strip_controls
from tools.validate_logs import log_outcome

PROG = "nox -s release --"

# Development knobs of the recipe and the variables that make conda-build change the variant:
# removed from conda-build's environment (tools.build.conda_build.child_environment), so a release
# builds the release configuration.
DEV_KNOBS = (*KNOBS, *CONDA_BUILD_OVERRIDES)

# conda-build flags (argparse dests, tools.build.cli_flags) that would break what a release
# promises, on top of those no session allows; each with what to do instead.
_RELEASE_REFUSED = {
    **conda_build_cli.ALWAYS_REFUSED,
    "dirty": "a release always builds from fresh sources",
    "keep_old_work": "a release always builds from fresh sources",
    "no_build_id": "each release variant has its own croot with fresh build ids",
    "croot": "the croot is build_artifacts/release/<version>/<variant>/ (see --artifacts)",
    "output_folder": "use release's own --output-folder",
    **conda_build_cli.tests_off_refused("a release validates every variant's tests"),
    "variant_config_files": "the variant comes from --variant/--python/--cuda",
    "exclusive_config_files": "the variant comes from --variant/--python/--cuda",
    "python": "use release's own --python",
}


# --------------------------------------------------------------------------------------------
# Arguments and variant selection


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=PROG,
        description="Build every variant of the matrix (CPU-only unless --cuda), each validated by "
        "validate_logs, resumable, with a release report. Arguments after a second `--` go to "
        "conda-build.",
    )
    sel = parser.add_argument_group("selection")
    sel.add_argument("--cuda", action="store_true", help="add the CUDA variants (needs a GPU)")
    sel.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="only this variant (repeatable); naming a CUDA variant selects it",
    )
    sel.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="X.Y",
        help="only variants of this Python version (repeatable)",
    )
    sel.add_argument(
        "--list",
        action="store_true",
        help="print the selected matrix and exit (needs no conda-build, no GPU)",
    )
    sel.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="output of --list and --dry-run (json: [{name, variant}, ...])",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        dest="restart",
        action="store_false",
        default=False,
        help="skip variants built and validated by an earlier run (default)",
    )
    mode.add_argument(
        "--restart",
        dest="restart",
        action="store_true",
        help="ignore the state file: build every selected variant",
    )
    run = parser.add_argument_group("build")
    run.add_argument(
        "--output-folder",
        type=Path,
        metavar="DIR",
        help="where the packages go (default <artifacts>/<version>/channel)",
    )
    run.add_argument(
        "--artifacts",
        type=Path,
        default=RELEASE_DIR,
        metavar="DIR",
        help="release root (default build_artifacts/release)",
    )
    run.add_argument("--ccache", action="store_true", help=argparse.SUPPRESS)  # refused
    run.add_argument(
        "--allow-dirty",
        action="store_true",
        help="build even if the git tree has uncommitted changes",
    )
    add_conda_build_option(run)
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print each variant's argv, environment and paths; run and write nothing",
    )
    run.add_argument(
        "--known-failures",
        type=Path,
        metavar="FILE",
        help="validate_logs' known-failures YAML, applied to every variant's log",
    )
    run.add_argument(
        "--report-from",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="build nothing: merge the state files of separate runs (found under "
        "DIR, repeatable) into one report of the selected matrix",
    )
    recipe_options.add_recipe_options(parser, release=True)
    return parser


def check_extra(extra: Sequence[str]) -> None:
    """Refuse, in one line, conda-build arguments that a release decides itself."""
    conda_build_cli.check(extra, _RELEASE_REFUSED, "a release")


def select_variants(
    all_variants: Sequence, *, cuda: bool, names: Sequence[str], pythons: Sequence[str]
) -> list:
    """The variants to release, in matrix order.

    Without ``names``: the CPU variants, plus the CUDA ones with ``cuda``. ``names`` picks variants
    from the whole matrix (a CUDA variant named explicitly is selected without ``--cuda``).
    ``pythons`` then keeps the variants of those Python versions. An unknown name or Python
    version, or a filter that leaves nothing, is a ToolError.
    """
    from tools.recipe.variants import find_variant

    if names:
        wanted = {find_variant(all_variants, n).name for n in names}
        chosen = [v for v in all_variants if v.name in wanted]
    else:
        chosen = [v for v in all_variants if cuda or not v.is_cuda]
    if pythons:
        known = sorted({v.python for v in all_variants})
        unknown = [p for p in pythons if p not in known]
        if unknown:
            raise ToolError(
                f"unknown Python version {', '.join(unknown)}; the matrix has: {', '.join(known)}"
            )
        chosen = [v for v in chosen if v.python in set(pythons)]
    if not chosen:
        raise ToolError(
            f"the filters leave no variant to release; see the matrix with: {PROG} --list --cuda"
        )
    return chosen


def list_text(variants: Sequence) -> str:
    """A plain table: the name and every matrix key whose value differs between the variants."""
    keys: list[str] = []
    for v in variants:
        for k in v.values:
            if k not in keys and len({w.values.get(k) for w in variants}) > 1:
                keys.append(k)
    rows = [["variant", *keys]] + [[v.name, *(v.values.get(k, "") for k in keys)] for v in variants]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    n_cuda = sum(1 for v in variants if v.is_cuda)
    lines.append(f"{len(variants)} variant(s), {n_cuda} CUDA")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Plans


@dataclass
class Layout:
    """Where one release version keeps its files."""

    root: Path  # <artifacts>/<version>
    output_folder: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def report_md(self) -> Path:
        return self.root / "release-report.md"

    @property
    def report_json(self) -> Path:
        return self.root / "release-report.json"

    @property
    def logs_zip(self) -> Path:
        return self.root / "log_files.zip"

    def croot(self, name: str) -> Path:
        return self.root / name

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def override(self, name: str) -> Path:
        return self.root / "overrides" / f"{name}.yaml"


@dataclass
class VariantPlan:
    variant: Variant
    action: str  # "build" or "skip"
    reason: str
    argv: list[str] = field(default_factory=list)
    env_set: dict[str, str] = field(default_factory=dict)
    env_removed: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict, repr=False)  # all conda-build gets
    croot: Path | None = None
    log: Path | None = None
    override: Path | None = None
    override_content: str = ""

    def to_dict(self, output_folder: Path) -> dict:
        return {
            "name": self.variant.name,
            "variant": dict(self.variant.values),
            "action": self.action,
            "reason": self.reason,
            "argv": self.argv,
            "env": {"set": self.env_set, "removed": self.env_removed},
            "croot": str(self.croot) if self.croot else None,
            "log": str(self.log) if self.log else None,
            "override": str(self.override) if self.override else None,
            "override_content": self.override_content,
            "output_folder": str(output_folder),
        }


def release_fingerprint(recipe_dir: Path, config_paths: Sequence[Path]) -> str:
    """What a resume compares: dev_build's recipe fingerprint over the same recipe files, the
    test section included (a package carries its tests), and the variant configs' names and
    contents. A resume skips only what the same recipe and configs built."""
    configs = []
    for path in map(Path, config_paths):
        try:
            configs.append([path.name, hashlib.sha256(path.read_bytes()).hexdigest()])
        except OSError:
            configs.append([path.name, "<unreadable>"])
    files = sections.hash_recipe(Path(recipe_dir))
    return sections.recipe_fingerprint(files, test_section=True, configs=configs)[:16]


def skip_reason(record: VariantRecord | None, fingerprint: str, restart: bool) -> str | None:
    """Why a variant may be skipped, or None when it must be built."""
    if restart or record is None or not record.done:
        return None
    if record.fingerprint != fingerprint:  # an empty one matches nothing
        return None
    return "built and validated (pass) by an earlier run"


def build_reason(record: VariantRecord | None, fingerprint: str, restart: bool) -> str:
    if restart:
        return "--restart"
    if record is None:
        return "not built yet"
    if record.done and record.fingerprint != fingerprint:
        return "recipe or variant config changed since it was built"
    if record.build != BUILT:
        return f"last attempt: {record.build}"
    return f"last attempt: built, tests {record.verdict}"


# --------------------------------------------------------------------------------------------
# Formatting


def dev_marked_packages(log: Path) -> list[str]:
    """Package files named on the log's ``BUILD START:`` lines whose build string ends in the
    development mark (recipe/meta.yaml adds it when any knob is set)."""
    import ast

    found: list[str] = []
    try:
        with open(log, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("BUILD START: ["):
                    with contextlib.suppress(ValueError, SyntaxError):
                        names = ast.literal_eval(line.removeprefix("BUILD START: ").strip())
                        found += [
                            n
                            for n in names
                            if isinstance(n, str)
                            and n.removesuffix(".conda").removesuffix(".tar.bz2").endswith(DEV_MARK)
                        ]
    except OSError:
        return []
    return found


def estimate_left(
    durations: Mapping[bool, Sequence[float]], remaining: Sequence[bool]
) -> float | None:
    """Seconds left for the ``remaining`` variants (True = CUDA), from earlier durations.

    A CUDA build takes much longer than a CPU one, so each kind is estimated from the mean of its
    own kind when there is one, else from the mean of every earlier variant; None before any.
    """
    every = [d for kind in durations.values() for d in kind]
    if not every:
        return None
    overall = sum(every) / len(every)
    total = 0.0
    for is_cuda in remaining:
        same = durations.get(is_cuda) or []
        total += sum(same) / len(same) if same else overall
    return total


def progress_line(index: int, total: int, name: str, elapsed: float, left: float | None) -> str:
    """``[3/8] py312-cpu-mkl  elapsed 2h10m  ~4h left``."""
    estimate = (
        f"~{duration_text(left)} left"
        if left is not None
        else "time left: estimated after the first variant"
    )
    return f"[{index}/{total}] {name}  elapsed {duration_text(elapsed)}  {estimate}"


# --------------------------------------------------------------------------------------------
# Validation


# --------------------------------------------------------------------------------------------
# Report


def report_dict(
    version: str,
    selected: Sequence,
    state: ReleaseState,
    attempted: set[str],
    layout: Layout,
    *,
    missing_label: str = "not-run",
) -> dict:
    """The release report; a variant not attempted by this run shows its earlier outcome."""
    rows = []
    for v in selected:
        rec = state.get(v.name)
        rows.append(
            {
                "name": v.name,
                "variant": dict(v.values),
                "build": rec.build if rec else missing_label,
                "returncode": rec.returncode if rec else None,
                "verdict": rec.verdict if rec else None,
                "counts": rec.counts if rec else {},
                "reasons": rec.reasons if rec else [],
                "elapsed": rec.elapsed if rec else None,
                "log": rec.log if rec else None,
                "from_earlier_run": rec is not None and v.name not in attempted,
            }
        )
    ok = all(r["build"] == BUILT and r["verdict"] == PASS for r in rows)
    return {
        "version": version,
        "verdict": PASS if ok else "fail",
        "variants": rows,
        "output_folder": str(layout.output_folder),
        "log_files_zip": layout.logs_zip.name,
        "generated_at": _now(),
    }


_MD_TEMPLATE = """\
# PyTorch {{ r.version }} release report: {{ r.verdict | upper }}

| variant | build | tests | passed | failed | errors | skipped | time | log |
| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |
{% for v in r.variants -%}
| {{ v.name }}{{ " (earlier run)" if v.from_earlier_run }} | {{ v.build }} \
| {{ v.verdict or "-" }} \
| {{ v.counts.passed if v.counts else "-" }} | {{ v.counts.failed if v.counts else "-" }} \
| {{ v.counts.errors if v.counts else "-" }} | {{ v.counts.skipped if v.counts else "-" }} \
| {{ dur(v.elapsed) if v.elapsed is not none else "-" }} \
| {% if v.log %}[{{ v.log }}]({{ v.log }}){% else %}-{% endif %} |
{% endfor %}
{%- set failing = r.variants | selectattr("reasons") | list %}
{%- if failing %}

## Why variants failed
{% for v in failing %}
- **{{ v.name }}**: {{ v.reasons | join("; ") | e }}
{%- endfor %}
{% endif %}

Packages: `{{ r.output_folder }}`. All logs: [{{ r.log_files_zip }}]({{ r.log_files_zip }}).
"""


def report_markdown(report: dict) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True)
    env.globals["dur"] = duration_text
    return env.from_string(_MD_TEMPLATE).render(r=report)


def print_report_table(report: dict, root: Path) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def cell(text: object, style: str = "") -> Text:
        # Text, never markup: a path like "[/x]" or a state value "[bold]" is shown as it is.
        return Text(strip_controls(str(text)), style=style)

    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    table = Table(title=cell(f"PyTorch {report['version']} release: {report['verdict'].upper()}"))
    for col in ("variant", "build", "tests", "counts", "time", "log"):
        table.add_column(col, overflow="fold")
    for v in report["variants"]:
        table.add_row(
            cell(v["name"] + (" (earlier run)" if v["from_earlier_run"] else "")),
            cell(v["build"], "green" if v["build"] == BUILT else "red"),
            cell(v["verdict"] or "-", "green" if v["verdict"] == PASS else "red"),
            cell(counts_text(v["counts"])),
            cell(duration_text(v["elapsed"]) if v["elapsed"] is not None else "-"),
            cell(root / v["log"] if v["log"] else "-"),
        )
    console.print(table)


def write_logs_zip(layout: Layout, names: Sequence[str]) -> Path:
    """log_files.zip of the selected variants' current logs (atomically replaced)."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in names:
            log = layout.log(name)
            if log.is_file():
                zf.write(log, arcname=f"logs/{log.name}")
    write_atomic(layout.logs_zip, buf.getvalue())
    return layout.logs_zip


# --------------------------------------------------------------------------------------------
# Main


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _move_aside(log: Path) -> Path | None:
    """An earlier attempt's log goes to logs/previous/, never deleted."""
    if not log.exists():
        return None
    stamp = datetime.fromtimestamp(log.stat().st_mtime, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return files.move_aside(log, log.parent / "previous" / f"{log.stem}.{stamp}.log")


def _print(msg: str = "", *, err: bool = False) -> None:
    """Print one of our lines; paths and names in it may come from the user: no controls."""
    print(strip_controls(msg), file=sys.stderr if err else sys.stdout, flush=True)


def main(argv: Sequence[str]) -> int:
    own, extra = conda_build_cli.split_extra(argv)
    args = build_parser().parse_args(own)
    if args.ccache:
        raise ToolError(
            "--ccache: a release builds without development knobs (a ccache build "
            "carries the _dev mark in its build string and is never published); use "
            "nox -s dev_build for cached builds"
        )
    check_extra(extra)

    from tools.platforms import host_platform
    from tools.recipe.variants import matrix

    config_paths = tuple(args.variant_config or (CONDA_BUILD_CONFIG,))
    platform = host_platform()
    all_variants = matrix(cuda=True, platform=platform, config_paths=config_paths)
    selected = select_variants(
        all_variants, cuda=args.cuda, names=args.variant, pythons=args.python
    )

    if args.list:
        if args.format == "json":
            from tools.recipe.variants import to_json

            _print(json.dumps(to_json(selected)))
        else:
            _print(list_text(selected))
        return EXIT_OK

    if args.known_failures is not None:  # a bad file is refused now, not after hours of builds
        from tools.validate_logs.known import load_known_failures

        load_known_failures(args.known_failures)

    from tools.recipe.rendering import recipe_version

    version = recipe_version(args.recipe_dir)
    root = args.artifacts.absolute() / version
    layout = Layout(root=root, output_folder=(args.output_folder or root / "channel").absolute())
    if args.report_from:
        from tools.release.merge import run_merge

        files.ensure_writable_dir(layout.root, "the release folder", "--artifacts")
        return run_merge(
            args.report_from, version=version, selected=selected, layout=layout, printer=_print
        )
    if not args.dry_run:
        files.refuse_file_in_the_way(layout.root, "the release folder", "--artifacts")
    state, warning = load_state(layout.state, version)
    if warning:
        _print(f"warning: {warning}", err=True)
    fingerprint = release_fingerprint(args.recipe_dir, config_paths)

    plans: list[VariantPlan] = []
    for v in selected:
        rec = state.get(v.name)
        reason = skip_reason(rec, fingerprint, args.restart)
        plans.append(
            VariantPlan(v, "skip", reason)
            if reason
            else VariantPlan(v, "build", build_reason(rec, fingerprint, args.restart))
        )
    to_build = [p.variant for p in plans if p.action == "build"]

    if args.dry_run:
        return _dry_run(args, extra, plans, to_build, layout, config_paths)

    conda_build, lines, _ = preflight.run_preflight(
        variants_to_build=to_build,
        conda_build=args.conda_build,
        repo_root=REPO_ROOT,
        allow_dirty=args.allow_dirty,
        disk_path=layout.root,
    )
    files.ensure_writable_dir(layout.root, "the release folder", "--artifacts")
    files.ensure_writable_dir(layout.output_folder, "the output folder", "--output-folder")
    for line in lines:
        _print(f"pre-flight: {line}")
    fill_plans(plans, conda_build, extra, layout, args.recipe_dir, config_paths)
    from tools.build import lock

    # One release per version folder at a time: two would overwrite each other's state and logs.
    with lock.acquire(
        layout.root / "release.lock", what="release", command=" ".join([PROG, *argv])
    ) as held:
        if held.message:
            _print(f"note: {held.message}", err=True)
        layout.output_folder.mkdir(parents=True, exist_ok=True)
        return _run(
            plans,
            state,
            layout,
            version,
            fingerprint,
            selected,
            known_failures=args.known_failures,
            platform=platform,
            held=held,
        )


def fill_plans(
    plans,
    conda_build,
    extra,
    layout,
    recipe_dir,
    config_paths,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Fill in what each variant to build is given: its croot, log, override file, conda-build's
    argv and environment (``environ``, default the process's, scrubbed as for dev_build)."""
    from tools.build.conda_build import build_argv, child_environment
    from tools.recipe.variants import override_yaml

    env_base = os.environ if environ is None else environ
    for p in plans:
        if p.action != "build":
            continue
        name = p.variant.name
        p.croot, p.log, p.override = layout.croot(name), layout.log(name), layout.override(name)
        p.override_content = override_yaml([p.variant])
        p.argv = build_argv(
            conda_build,
            recipe_dir=recipe_dir,
            croot=p.croot,
            variant_files=[*config_paths, p.override],
            output_folder=layout.output_folder,
            extra=extra,
        )
        # dev_build's scrub, with no settings of its own: no knob, no CONDA_PY/CONDA_NPY.
        p.env, p.env_set, p.env_removed = child_environment(env_base, {})


def _dry_run(args, extra, plans, to_build, layout, config_paths) -> int:
    found, notes, problems = preflight.run_preflight(
        variants_to_build=to_build,
        conda_build=args.conda_build,
        repo_root=REPO_ROOT,
        allow_dirty=args.allow_dirty,
        disk_path=layout.root,
        collect=True,
    )
    notes += [f"a real run would refuse: {p}" for p in problems]
    conda_build = found or args.conda_build or "conda-build"
    fill_plans(plans, conda_build, extra, layout, args.recipe_dir, config_paths)
    if args.format == "json":
        for n in notes:
            _print(f"pre-flight: {n}", err=True)
        _print(json.dumps([p.to_dict(layout.output_folder) for p in plans], indent=2))
        return EXIT_OK
    _print(f"dry run: nothing is built or written. Release folder: {layout.root}")
    for n in notes:
        _print(f"pre-flight: {n}")
    _print(f"packages to: {layout.output_folder}; state: {layout.state}")
    total = len(plans)
    for i, p in enumerate(plans, 1):
        _print(f"\n[{i}/{total}] {p.variant.name}: {p.action} ({p.reason})")
        if p.action != "build":
            continue
        _print(f"  argv: {json.dumps(p.argv)}")
        _print(f"  env set: {json.dumps(p.env_set) if p.env_set else '(nothing)'}")
        _print(f"  env removed: {', '.join(p.env_removed) if p.env_removed else '(nothing)'}")
        _print(f"  croot: {p.croot}")
        _print(f"  log: {p.log}")
        _print(f"  override {p.override}:")
        for line in p.override_content.splitlines():
            _print(f"    {line}")
    return EXIT_OK


def _run(
    plans: list[VariantPlan],
    state: ReleaseState,
    layout: Layout,
    version: str,
    fingerprint: str,
    selected: Sequence,
    *,
    known_failures: Path | None = None,
    platform: str | None = None,
    held=None,
) -> int:
    from tools.build.conda_build import explain_failure, run_logged
    from tools.build.progress import summarize
    from tools.recipe.variants import write_override

    start = time.monotonic()
    total = len(plans)
    # Earlier durations by kind (CUDA or not): this release's earlier runs, then this run's.
    by_name = {v.name: v for v in selected}
    durations: dict[bool, list[float]] = {False: [], True: []}
    for r in state.variants.values():
        if r.build == BUILT and r.elapsed > 0 and r.name in by_name:
            durations[by_name[r.name].is_cuda].append(r.elapsed)
    remaining = [p.variant.is_cuda for p in plans if p.action == "build"]
    attempted: set[str] = set()
    interrupted = False
    for i, p in enumerate(plans, 1):
        name = p.variant.name
        if p.action == "skip":
            _print(f"[{i}/{total}] {name}  skipped: {p.reason}")
            continue
        _print(
            progress_line(
                i, total, name, time.monotonic() - start, estimate_left(durations, remaining)
            )
            + f"  ({p.reason})"
        )
        attempted.add(name)
        assert p.log is not None and p.override is not None  # filled by fill_plans
        write_override([p.variant], p.override)
        moved = _move_aside(p.log)
        if moved:
            _print(f"  earlier log moved to {moved}")
        result = run_logged(
            p.argv,
            p.env,
            p.log,
            label=f"{i}/{total} {name}",
            on_start=held.record_child if held is not None else None,
        )
        remaining.pop(0)
        rec = VariantRecord(
            name=name,
            build=BUILT,
            returncode=result.returncode,
            elapsed=round(result.elapsed, 1),
            log=str(p.log.relative_to(layout.root)),
            fingerprint=fingerprint,
            finished_at=_now(),
        )
        cause = None
        if result.interrupted:
            rec.build = INTERRUPTED
            interrupted = True
        else:
            if result.returncode != 0:
                rec.build = BUILD_FAILED
            rec.verdict, counts, reasons = log_outcome(p.log, known_failures, platform)
            rec.counts, rec.reasons = counts.to_dict(), reasons[:10]
            marked = dev_marked_packages(p.log)
            if marked:  # never publish a dev build, however it came about
                rec.verdict = "fail"
                rec.reasons = [
                    f"{', '.join(marked)} carries the development mark {DEV_MARK} "
                    "(built with a development knob): not publishable",
                    *rec.reasons,
                ]
            if rec.build == BUILD_FAILED:
                cause = explain_failure(p.log, PROG)
                rec.reasons = [
                    f"conda-build exited with status {result.returncode}",
                    *([cause] if cause else []),
                    *rec.reasons,
                ]
            durations[p.variant.is_cuda].append(result.elapsed)
        state.record(rec)
        save_state(state, layout.state)
        tests = f", tests {rec.verdict} ({counts_text(rec.counts)})" if rec.verdict else ""
        _print(
            f"[{i}/{total}] {name}: {rec.build}{tests}, {duration_text(rec.elapsed)}, log {p.log}"
        )
        if cause:
            _print(f"  {cause}")
        _print(f"  phases: {summarize(result.phases)}")
        if interrupted:
            break

    report = report_dict(version, selected, state, attempted, layout)
    write_atomic(layout.report_json, json.dumps(report, indent=2) + "\n")
    write_atomic(layout.report_md, report_markdown(report))
    write_logs_zip(layout, [v.name for v in selected])
    _print("")
    print_report_table(report, layout.root)
    _print(f"report: {layout.report_md} and {layout.report_json.name}; logs: {layout.logs_zip}")
    _print(f"packages: {layout.output_folder}")
    if interrupted:
        _print(
            "interrupted: run the same command again to continue (finished variants are kept)",
            err=True,
        )
        return EXIT_INTERRUPTED
    return EXIT_OK if report["verdict"] == PASS else EXIT_FAIL
