"""``nox -s validate_logs -- [PATH ...] [options]``: a test verdict from conda-build logs.

Exit status: 0 every log passes, 1 any log fails, 2 unusable input (missing or unreadable path,
binary file, bad option, bad known-failures or baseline file).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

from tools import paths as repo_paths
from tools.cli import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    ArgumentParser,
    ToolError,
    write_stdout,
)
from tools.text import one_line
from tools.validate_logs.inputs import GZIP_MAGIC, LogInput, collect_inputs
from tools.validate_logs.known import load_baseline, load_known_failures
from tools.validate_logs.parser import BLOCK_SIZE, CAN_SCAN_FILES, LogParser, parse_file
from tools.validate_logs.policy import (
    DEFAULT_MAX_COVERAGE_DROP,
    DEFAULT_MAX_FAILURE_RATE,
    GATES,
    Policy,
    build_report,
)
from tools.validate_logs.report import RENDERERS, render_markdown, render_summary
from tools.validate_logs.results import Counts, LogResult, Report

PROG = "nox -s validate_logs --"
BINARY_NUL_FRACTION = 0.001  # a "log" whose first 64 KiB is over 0.1% NUL bytes is not text
FORMATS = ("terminal", "json", "markdown", "junit")
SUFFIX_FORMATS = {".json": "json", ".md": "markdown", ".xml": "junit"}


_BINARY_CONTROLS = bytes(c for c in range(32) if c not in b"\t\n\r\x0c\x1b\x08")


def _check_text(name: str, head: bytes) -> None:
    """A text log has (almost) no NUL bytes and few control characters; else ToolError(2)."""
    controls = len(head) - len(head.translate(None, _BINARY_CONTROLS))
    if head.count(b"\0") > BINARY_NUL_FRACTION * len(head) or controls > 0.1 * len(head):
        raise ToolError(
            f"{name} is a binary file, not a text log; pass the conda-build log", EXIT_USAGE
        )


def _parse_plain_file(log: LogInput, framed: bool) -> LogResult | None:
    """A regular uncompressed file: parsed by offset (parallel search for the test phases, the
    build output is skipped without reading it into Python). None if that does not apply
    (compressed, empty, or no pread here), so the caller streams it."""
    if log.path is None or log.member is not None or not CAN_SCAN_FILES:
        return None
    try:
        with open(log.path, "rb") as f:
            head = f.read(65536)
            if not head or head[:2] == GZIP_MAGIC:
                return None
            _check_text(log.name, head)
            return parse_file(f.fileno(), log.name, framed=framed)
    except OSError as exc:
        raise ToolError(f"cannot read {log.name}: {exc.strerror or exc}", EXIT_USAGE) from None


def parse_input(log: LogInput, framed: bool = True, block_size: int = BLOCK_SIZE) -> LogResult:
    """Parse one log. ToolError(2) if it is binary or cannot be read."""
    mapped = _parse_plain_file(log, framed)
    if mapped is not None:
        return mapped
    parser = LogParser(log.name, framed=framed)
    with log.open() as stream:
        # read1: a cut-off .gz still yields what was decompressed before its end
        read = getattr(stream, "read1", stream.read)
        first = True
        while True:
            try:
                data = read(block_size)
            except EOFError:  # a .gz cut off: what was read is the (truncated) log
                if first:
                    raise ToolError(
                        f"{log.name} is corrupt (compressed data ends before any "
                        "text); re-download it",
                        EXIT_USAGE,
                    ) from None
                parser.notes.append("compressed log ends early (truncated .gz)")
                break
            except (zlib.error, gzip.BadGzipFile) as exc:
                raise ToolError(
                    f"{log.name} is corrupt ({exc}); re-download it", EXIT_USAGE
                ) from None
            except OSError as exc:
                raise ToolError(
                    f"cannot read {log.name}: {exc.strerror or exc}", EXIT_USAGE
                ) from None
            if not data:
                break
            if first:
                first = False
                _check_text(log.name, data[:65536])
            parser.feed(data)
    return parser.close()


def validate(
    paths: Sequence[str | Path], policy: Policy | None = None, *, unframed: bool = False
) -> Report:
    """Validate logs (files, directories, .gz, .zip, '-') and return the Report.

    ``unframed=True`` reads each log as one test phase: for CI logs without conda-build's
    ``TEST START:`` framing. Raises ToolError(2) on unusable input.
    """
    policy = policy or Policy()
    inputs = collect_inputs(list(paths))
    results = [parse_input(log, framed=not unframed) for log in inputs]
    return build_report(results, policy)


def log_outcome(
    log: Path, known_failures: str | Path | None = None, platform: str | None = None
) -> tuple[str, Counts, list[str]]:
    """The default verdict on one build log, for dev_build and release: (verdict, counts summed
    over its packages, reasons). Unusable input gives ("error", empty counts, [its message])."""
    policy = Policy(platform=platform)
    if known_failures is not None:
        policy.known_failures = load_known_failures(known_failures)
        policy.known_failures_path = str(known_failures)
    try:
        report = validate([log], policy)
    except ToolError as exc:
        return "error", Counts(), [exc.message]
    counts = Counts()
    reasons: list[str] = list(report.reasons)
    for log_report in report.logs:
        reasons += log_report.reasons if log_report.verdict != "pass" else []
        for pkg in log_report.packages:
            counts.add(pkg.counts)
            if pkg.verdict == "fail":
                reasons += [f"{pkg.package}: {r}" for r in pkg.reasons]
    return report.verdict, counts, list(dict.fromkeys(reasons))


def default_paths(logs_dir: Path | None = None) -> list[Path]:
    """The logs dev_build and release write (build_artifacts/logs/); ToolError(2) if none."""
    logs_dir = logs_dir or repo_paths.LOGS_DIR
    if not logs_dir.is_dir() or not any(p.is_file() for p in logs_dir.rglob("*")):
        raise ToolError(
            f"no logs under {_rel(logs_dir)}/ (nox -s dev_build or release write "
            "them there); pass a log file, directory, .gz or .zip",
            EXIT_USAGE,
        )
    return [logs_dir]


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _fraction(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise ToolError(f"{text!r} is not a fraction (e.g. 0.01 or 1%)", EXIT_USAGE) from None
    if not 0 <= value <= 1:
        raise ToolError(f"{text!r} is not between 0 and 1 (e.g. 0.01 or 1%)", EXIT_USAGE)
    return value


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog=PROG,
        description="Turn conda-build logs into a test verdict. A PATH is a log file, a directory "
        "(its *.log/*.txt, recursively), a .gz, a .zip of logs, or '-' for stdin; "
        "none: the logs under build_artifacts/logs/. Exit 0 pass, 1 fail, 2 bad input.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH")
    out = p.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="report format (default: terminal table; with --output, from its "
        "suffix .json/.md/.xml, else json)",
    )
    out.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the report there; the terminal table is still printed",
    )
    pol = p.add_argument_group(
        "policy (defaults: any crash, timeout, collection error, "
        "interruption, fall-over, truncation, TESTS FAILED or >1%% "
        "failures fails)"
    )
    pol.add_argument(
        "--max-failure-rate",
        type=_fraction,
        default=DEFAULT_MAX_FAILURE_RATE,
        metavar="FRACTION",
        help="fail when (failed+errors)/ran exceeds it (default 0.01 = 1%%)",
    )
    for gate in GATES:
        pol.add_argument(
            f"--allow-{gate.name.replace('_', '-')}",
            action="store_true",
            help=f"do not fail on {gate.help}",
        )
    pol.add_argument(
        "--known-failures",
        metavar="FILE",
        help="YAML list of {test, reason, when: {variant, platform}, expires}; "
        "these do not count against the failure rate",
    )
    pol.add_argument(
        "--baseline",
        metavar="REPORT.json",
        help="an earlier --format json report: list new failures and fixed tests, "
        "fail when fewer tests ran",
    )
    pol.add_argument(
        "--max-coverage-drop",
        type=_fraction,
        default=DEFAULT_MAX_COVERAGE_DROP,
        metavar="FRACTION",
        help="with --baseline: fail when the number of tests that ran drops by more (default 0.05)",
    )
    pol.add_argument(
        "--variant", help="variant name for known-failure 'when' (default: each log's file name)"
    )
    pol.add_argument("--platform", help="platform for known-failure 'when' (default: this host)")
    p.add_argument(
        "--unframed",
        action="store_true",
        help="read each log as one test phase (CI logs without conda-build's TEST START framing)",
    )
    return p


def _host_platform() -> str | None:
    from tools.platforms import host_platform

    try:
        return host_platform()
    except ToolError:  # an unknown host only disables platform conditions
        return None


def policy_from_args(args) -> Policy:
    policy = Policy(
        max_failure_rate=args.max_failure_rate,
        allow=frozenset(g.name for g in GATES if getattr(args, f"allow_{g.name}")),
        max_coverage_drop=args.max_coverage_drop,
        variant=args.variant,
        platform=args.platform or _host_platform(),
    )
    if args.known_failures:
        policy.known_failures = load_known_failures(args.known_failures)
        policy.known_failures_path = args.known_failures
    if args.baseline:
        policy.baseline = load_baseline(args.baseline)
        policy.baseline_path = args.baseline
    return policy


def _write(path: str | Path, text: str, append: bool = False) -> None:
    try:
        with open(path, "a" if append else "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
    except OSError as exc:
        raise ToolError(f"cannot write {path}: {exc.strerror or exc}", EXIT_USAGE) from None


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    policy = policy_from_args(args)
    paths = args.paths or default_paths()
    report = validate(paths, policy, unframed=args.unframed)

    fmt = args.format
    if args.output:
        fmt = fmt or SUFFIX_FORMATS.get(Path(args.output).suffix.lower(), "json")
        _write(args.output, RENDERERS[fmt](report))
        write_stdout(
            render_summary(report) + f"report written to {one_line(args.output)} ({fmt})\n"
        )
    else:
        # stdout closed or its reader gone: the report is dropped, the exit status stays the
        # verdict; stdout full: ToolError (exit 2)
        write_stdout(RENDERERS[fmt or "terminal"](report))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        _write(summary, render_markdown(report), append=True)
    return EXIT_OK if report.verdict == "pass" else EXIT_FAIL
