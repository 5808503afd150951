"""``nox -s dev_test``: run only the test phase on the package the last dev_build made, validated.

The loop it serves: ``nox -s dev_build`` once, then ``nox -s dev_test`` until green. Each run is
``conda-build --test <package>`` (logged like dev_build's runs, then validated by validate_logs),
on dev_build's croot and with dev_build's flags: the real conda-build's test phase renames
``<croot>/work`` into a new build folder unless it gets ``--no-build-id --dirty
--no-remove-work-dir``, and the next dev_build would then start from scratch.

conda-build tests a package with the recipe stored in the package (its ``info/recipe``; measured
on conda-build 26.7.1), not the recipe folder. So a package built before a change to meta.yaml's
test section (or a file it lists) would test the old section: dev_test refuses that in one line
and names the dev_build run that makes a new package (a test-only change reuses the work dir, so
nothing is recompiled). What changes without a rebuild: the selection (``--failed-only``), the
environment of the test phase (which sees the caller's whole environment), known-failures files
and repetitions.

``--failed-only`` narrows PyTorch's suite to what failed in the variant's previous validated run
(dev_build's or dev_test's log, or ``--from LOG``): the failing test files, and inside them the
failing tests, written to a selection file whose path goes to the test phase in the recipe knob
``PYTORCH_TEST_SELECTION``. ``--repeat N`` runs the selection N times and lists the tests that
failed in some runs and passed in others, as known-failures entries to paste.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools import dev_build, files, platforms
from tools.build import cli_flags as conda_build_cli
from tools.build import conda_build, lock
from tools.cli import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ArgumentParser, ToolError
from tools.paths import CONDA_BUILD_CONFIG, DEV_DIR, LOGS_DIR, RECIPE_DIR
from tools.recipe import options as recipe_options
from tools.recipe import variants
from tools.recipe.knobs import TEST_LEVELS
from tools.recipe.sections import hash_test_section
from tools.text import counts_text, strip_controls

PROG = "nox -s dev_test --"
SELECTION_KNOB = "PYTORCH_TEST_SELECTION"
SELECTION_FILE = "dev_test-selection.json"
MAX_REPEAT = 50
_CRASH_IN_FILE_RE = re.compile(r" in ([\w/.-]+) \d+/\d+$")  # validate_logs' crash descriptions
# conda-build arguments after "--" that dev_test decides itself, on top of those no session allows.
_REFUSED = {
    **conda_build_cli.ALWAYS_REFUSED,
    **conda_build_cli.tests_off_refused("dev_test runs the test phase only"),
}


@dataclass(frozen=True)
class Options:
    python: str = recipe_options.DEFAULT_PYTHON
    cuda: bool = False
    cuda_version: str | None = None
    blas: str | None = None
    croot: Path = DEV_DIR
    log_dir: Path = LOGS_DIR
    conda_build: str | None = None
    recipe_dir: Path = RECIPE_DIR
    variant_config: Path = CONDA_BUILD_CONFIG
    failed_only: bool = False
    from_log: Path | None = None
    repeat: int = 1
    test_level: str = dev_build.DEFAULT_TEST_LEVEL
    extra: tuple[str, ...] = ()


def _repeat(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_REPEAT:
        raise ValueError(text)
    return value


_repeat.__name__ = f"count from 1 to {MAX_REPEAT}"


def parse_args(argv: Sequence[str]) -> Options:
    argv, extra = conda_build_cli.split_extra(argv)
    p = ArgumentParser(
        prog=PROG,
        description="Run only the test phase of the package the last "
        "dev_build of the variant made, then validate its log. Arguments after a "
        "second '--' go to conda-build.",
    )
    recipe_options.add_variant_options(p)
    p.add_argument(
        "--croot",
        type=Path,
        default=DEV_DIR,
        help="dev_build's conda-build root (default build_artifacts/dev)",
    )
    p.add_argument(
        "--log-dir",
        type=Path,
        default=LOGS_DIR,
        help="where logs go (default build_artifacts/logs)",
    )
    conda_build.add_conda_build_option(p)
    p.add_argument(
        "--failed-only",
        action="store_true",
        help="only what failed in the variant's previous validated run",
    )
    p.add_argument(
        "--from",
        dest="from_log",
        type=Path,
        metavar="LOG",
        help="with --failed-only: take the failures from this log instead",
    )
    p.add_argument(
        "--repeat",
        type=_repeat,
        default=1,
        metavar="N",
        help="run the test phase N times and list the flaky tests",
    )
    p.add_argument(
        "--tests",
        choices=TEST_LEVELS,
        default=dev_build.DEFAULT_TEST_LEVEL,
        metavar="LEVEL",
        help=f"how much of PyTorch's suite runs without "
        f"--failed-only: {', '.join(TEST_LEVELS)} (default "
        f"{dev_build.DEFAULT_TEST_LEVEL}, as dev_build)",
    )
    recipe_options.add_recipe_options(p)
    a = p.parse_args(argv)
    if a.from_log is not None and not a.failed_only:
        raise ToolError("--from only applies to --failed-only", EXIT_USAGE)
    conda_build_cli.check(extra, _REFUSED, "dev_test")
    return Options(
        python=a.python,
        cuda=a.cuda or a.cuda_version is not None,
        cuda_version=a.cuda_version,
        blas=a.blas,
        croot=a.croot.expanduser().absolute(),
        log_dir=a.log_dir.absolute(),
        conda_build=a.conda_build,
        recipe_dir=a.recipe_dir.absolute(),
        variant_config=a.variant_config.absolute(),
        failed_only=a.failed_only,
        from_log=a.from_log.absolute() if a.from_log else None,
        repeat=a.repeat,
        test_level=a.tests,
        extra=tuple(extra),
    )


# --------------------------------------------------------------------------- pure parts


@dataclass(frozen=True)
class Selection:
    """What to run: test files (run_test.py names, ``test_nn``) and, per file, test names."""

    files: tuple[str, ...] = ()
    tests: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"files": list(self.files), "tests": {k: list(v) for k, v in self.tests.items()}}


def split_test_id(test_id: str) -> tuple[str, str | None]:
    """``test/test_nn.py::TestNN::test_x[p]`` -> (``test_nn``, ``TestNN::test_x[p]``).

    An id without ``::`` names a whole file (run_test.py's ``test_jit failed!``) or is unittest's
    ``__main__.TestNN.test_x`` form, whose file is unknown: (that text, None).
    """
    path, sep, rest = test_id.partition("::")
    name = path.removeprefix("test/").removesuffix(".py")
    return name, (rest if sep and rest else None)


def selection_from_failures(failed: Sequence[str]) -> Selection:
    """The files that failed, and in each the tests that failed (none listed: the whole file)."""
    files_: dict[str, list[str] | None] = {}
    for test_id in failed:
        name, test = split_test_id(test_id)
        if not name:
            continue
        if test is None:
            files_[name] = None  # the file as a whole failed (a crash): run all of it
        elif files_.get(name, []) is not None:
            files_.setdefault(name, [])
            assert files_[name] is not None
            if test not in files_[name]:  # type: ignore[operator]
                files_[name].append(test)  # type: ignore[union-attr]
    return Selection(files=tuple(files_), tests={k: tuple(v) for k, v in files_.items() if v})


@dataclass(frozen=True)
class Comparison:
    fixed: tuple[str, ...]
    still_failing: tuple[str, ...]
    new: tuple[str, ...]


def compare(previous: Sequence[str], current: Sequence[str]) -> Comparison:
    prev, cur = list(dict.fromkeys(previous)), list(dict.fromkeys(current))
    return Comparison(
        fixed=tuple(t for t in prev if t not in cur),
        still_failing=tuple(t for t in prev if t in cur),
        new=tuple(t for t in cur if t not in prev),
    )


def flaky_tests(runs: Sequence[Sequence[str]]) -> list[str]:
    """Tests that failed in some runs and not in others (each run: its failing ids)."""
    seen = [set(r) for r in runs]
    every = [t for r in runs for t in r]
    return [t for t in dict.fromkeys(every) if 0 < sum(t in s for s in seen) < len(seen)]


def known_failures_snippet(flaky: Sequence[str], variant: str, runs: int) -> str:
    """YAML entries for a known-failures file, each with a reason to fill in."""
    lines = ["known_failures:"]
    for test_id in flaky:
        lines += [
            f"  - test: {json.dumps(test_id)}",
            f'    reason: "FILL IN: flaky in dev_test --repeat {runs} on {variant}"',
            f"    when: {{variant: {json.dumps('*' + variant + '*')}}}",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- I/O


def failing_ids(log: Path) -> tuple[str, list[str]]:
    """(verdict, failing test ids) of one log, as validate_logs reads it."""
    from tools.validate_logs import validate

    report = validate([log])
    failed = [
        f.test
        for _log, pkg in report.packages()
        for f in pkg.failures
        if f.outcome in ("failed", "error", "crashed", "flaky")
    ]
    for _log, pkg in report.packages():
        # A crash no test id was found for ("SIGSEGV in test_jit 1/1"): run that file whole.
        files_ = {split_test_id(t)[0] for t in failed}
        for crash in pkg.crashes:
            m = _CRASH_IN_FILE_RE.search(crash)
            if m and m.group(1) not in files_:
                failed.append(m.group(1))
                files_.add(m.group(1))
    return report.verdict, list(dict.fromkeys(failed))


def find_package(opts: Options, variant: variants.Variant) -> tuple[Path, dict]:
    record = dev_build.read_packages_record(opts.croot).get(variant.name)
    how = shlex.join(
        [
            "nox",
            "-s",
            "dev_build",
            "--",
            *dev_build.variant_argv(
                python=opts.python, cuda=opts.cuda, cuda_version=opts.cuda_version, blas=opts.blas
            ),
        ]
    )
    if not record or not record.get("packages"):
        raise ToolError(
            f"no package of {variant.name} from dev_build in {opts.croot}; make it with: {how}",
            EXIT_USAGE,
        )
    package = Path(record["packages"][0])  # the first output: pytorch, which runs the suite
    if not package.is_file():
        raise ToolError(
            f"the package dev_build made for {variant.name} is gone ({package}); "
            f"make it again with: {how}",
            EXIT_USAGE,
        )
    current = hash_test_section(opts.recipe_dir)
    if record.get("test_section") not in (None, current):
        raise ToolError(
            f"meta.yaml's test section changed since {package.name} was built, and conda-build "
            "tests a package with the recipe stored in it; make a new package with: "
            f"{how} (a test-only change reuses the work dir: nothing is recompiled)",
            EXIT_USAGE,
        )
    return package, record


def main(argv: Sequence[str]) -> int:
    opts = parse_args(argv)
    all_variants = variants.load_variants(
        (opts.variant_config,), platform=platforms.host_platform()
    )
    variant = dev_build.choose_variant(
        all_variants,
        python=opts.python,
        cuda=opts.cuda,
        cuda_version=opts.cuda_version,
        blas=opts.blas,
    )
    cb = conda_build.find_conda_build(opts.conda_build)
    package, record = find_package(opts, variant)
    previous_log = opts.from_log or (
        Path(record["validated_log"]) if record.get("validated_log") else None
    )
    previous: list[str] = []
    selection: Selection | None = None
    if opts.failed_only:
        if previous_log is None or not previous_log.is_file():
            raise ToolError(
                f"--failed-only: no validated log of {variant.name} to take the "
                "failures from; run dev_test without it first, or pass --from LOG",
                EXIT_USAGE,
            )
        _verdict, previous = failing_ids(previous_log)
        if not previous:
            print(f"dev_test: nothing failed in {previous_log}; nothing to run", flush=True)
            return EXIT_OK
        selection = selection_from_failures(previous)
    elif previous_log is not None and previous_log.is_file():
        _verdict, previous = failing_ids(previous_log)
    files.ensure_writable_dir(opts.log_dir, "the log folder", "--log-dir")
    with lock.acquire(
        opts.croot / dev_build.LOCK_FILE,
        what="dev_build or dev_test",
        command=shlex.join(["nox", "-s", "dev_test", "--", *argv]),
    ) as held:
        return _run(opts, variant, cb, package, previous, previous_log, selection, held)


def _run(
    opts: Options,
    variant: variants.Variant,
    cb: str,
    package: Path,
    previous: list[str],
    previous_log: Path | None,
    selection: Selection | None,
    held: lock.Lock,
) -> int:
    from tools.release.state import write_atomic
    from tools.validate_logs import log_outcome

    def say(text: str = "") -> None:
        print(strip_controls(text), flush=True)

    settings: dict[str, str] = {"PYTORCH_TEST_LEVEL": opts.test_level}
    if selection is not None:
        path = opts.croot / SELECTION_FILE
        write_atomic(path, json.dumps(selection.to_dict(), indent=1) + "\n")
        settings[SELECTION_KNOB] = str(path)
    env, _changed, _removed = conda_build.child_environment(dict(_environ()), settings)
    argv = [
        cb,
        "--test",
        str(package),
        "--croot",
        str(opts.croot),
        "--no-build-id",
        "--dirty",
        "--no-remove-work-dir",
        *opts.extra,
    ]
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    say(f"dev_test: {variant.name}, package {package}")
    if selection is not None:
        say(
            f"  selection: {len(selection.files)} test file(s), "
            f"{sum(len(v) for v in selection.tests.values())} test(s) from {previous_log}"
            f" ({SELECTION_KNOB}={settings[SELECTION_KNOB]})"
        )
    say(f"  command: {shlex.join(argv)}")
    runs: list[tuple[Path, str, list[str], list[str]]] = []  # log, verdict, failed, reasons
    for i in range(1, opts.repeat + 1):
        suffix = f"-run{i}" if opts.repeat > 1 else ""
        log = files.free_name(opts.log_dir / f"dev-test-{stamp}-{variant.name}{suffix}.log")
        result = conda_build.run_logged(
            argv, env, log, on_start=held.record_child, label=f"dev_test {i}/{opts.repeat}"
        )
        if result.interrupted:
            say(f"  run {i}: interrupted; log {log}")
            return EXIT_INTERRUPTED
        verdict, counts, reasons = log_outcome(log)
        _v, failed = failing_ids(log) if verdict != "error" else ("error", [])
        if result.returncode != 0 and verdict == "pass":
            verdict = "fail"
            reasons = [f"conda-build exited with status {result.returncode}", *reasons]
        runs.append((log, verdict, failed, reasons))
        dev_build.write_packages_record(opts.croot, variant.name, {"validated_log": str(log)})
        say(f"  run {i}: {verdict.upper()} ({counts_text(counts.to_dict())}); log {log}")
    return _summary(say, variant, runs, previous, previous_log)


def _summary(
    say, variant: variants.Variant, runs, previous: list[str], previous_log: Path | None
) -> int:
    say("")
    say("=" * 30 + " dev_test summary " + "=" * 32)
    last_log, verdict, failed, reasons = runs[-1]
    say(f"  variant:     {variant.name}")
    say(f"  tests:       {verdict.upper()}; details: nox -s validate_logs -- {last_log}")
    for reason in reasons[:10]:
        say(f"    - {reason}")
    if previous_log is not None:
        cmp = compare(previous, failed)
        say(f"  compared with {previous_log}:")
        for label, ids in (
            ("fixed", cmp.fixed),
            ("still failing", cmp.still_failing),
            ("new", cmp.new),
        ):
            say(
                f"    {label}: {len(ids)}"
                + (f" ({', '.join(ids[:10])}{', ...' if len(ids) > 10 else ''})" if ids else "")
            )
    if len(runs) > 1:
        flaky = flaky_tests([r[2] for r in runs])
        say(
            f"  flaky:       {len(flaky)} test(s) failed in some of {len(runs)} runs and passed "
            "in others"
        )
        if flaky:
            say("  paste into a known-failures file (fill in each reason):")
            for line in known_failures_snippet(flaky, variant.name, len(runs)).splitlines():
                say(f"    {line}")
    return EXIT_OK if all(r[1] == "pass" for r in runs) else EXIT_FAIL


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


if __name__ == "__main__":  # python -m tools.dev_test ...
    from tools.cli import run_main

    sys.exit(run_main(PROG, main, sys.argv[1:]))
