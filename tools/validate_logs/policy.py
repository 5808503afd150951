"""The verdict policy of validate_logs: parser facts (``results.PhaseResult``) in, reports out.

A package whose test phase ran a test suite fails on any of ``GATES`` (a crash, a timeout, ...:
each has an ``--allow-<name>`` option) or when (failed + errors - known failures) / tests that ran
exceeds ``--max-failure-rate`` (1%). A log with no test phase, or whose packages never ran a
suite, fails ("tests did not run") unless --allow-untested; a package without a suite (an
import-only metapackage) is "untested" and does not fail a log in which another package ran the
suite. An empty log or a failed build always fails.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tools.validate_logs.known import REAL_FAILURES, KnownFailure, _baseline_facts, _KnownTracker
from tools.validate_logs.results import (
    Counts,
    Failure,
    LogReport,
    LogResult,
    PackageReport,
    PackageVerdict,
    PhaseResult,
    Report,
)

DEFAULT_MAX_FAILURE_RATE = 0.01
DEFAULT_MAX_COVERAGE_DROP = 0.05


# ---------------------------------------------------------------------------- policy gates
# One row per way a package fails besides its failure rate. From this table come the
# --allow-<name> options, Policy.allow, the verdict's reasons and the README's table
# (tests/test_policy.py checks the README): adding a gate is adding a row.


def _crashed(p: PhaseResult) -> str | None:
    if not p.crashes:
        return None
    killed = any("SIGKILL" in c or "Killed" in c for c in p.crashes)
    return f"test process crashed: {_join(p.crashes)}" + (
        " (SIGKILL: out of memory?)" if killed else ""
    )


def _timed_out(p: PhaseResult) -> str | None:
    return f"timed out: {_join(p.timeouts)}" if p.timeouts else None


def _collection(p: PhaseResult) -> str | None:
    return f"collection error: {_join(p.collection_errors)}" if p.collection_errors else None


def _interrupted(p: PhaseResult) -> str | None:
    return f"interrupted: {_join(p.interruptions)}" if p.interruptions else None


def _fell_over(p: PhaseResult) -> str | None:
    if not p.suite_started or not (p.fell_over or (p.counts.ran == 0 and p.count_lines == 0)):
        return None
    why = p.fell_over or p.exceptions or ["no test results and no count line"]
    return f"suite fell over before producing results: {_join(why)}"


def _truncated(p: PhaseResult) -> str | None:
    if p.ended in ("truncated", "next-build"):
        return "test phase never finished (no TEST END / TESTS FAILED: log cut off?)"
    return None


def _tests_failed(p: PhaseResult) -> str | None:
    if p.ended == "tests-failed":
        detail = f": {_join(p.check_failures)}" if p.check_failures else ""
        return f"conda-build reported TESTS FAILED{detail}"
    return f"test check failed: {_join(p.check_failures)}" if p.check_failures else None


@dataclass(frozen=True)
class Gate:
    name: str  # --allow-<name, dashed>; Policy.allow holds the names that do not fail
    condition: str  # when it fails, for the README table (Markdown)
    help: str  # what --allow-<name> accepts, for --help
    check: Callable[[PhaseResult], str | None] | None  # the failing reason; None: judged per log


GATES: tuple[Gate, ...] = (
    Gate(
        "crashes",
        "a test process crashed (signal such as SIGSEGV/SIGABRT/SIGBUS, SIGKILL = OOM killer, "
        "`Fatal Python error` or a faulthandler stack dump, xdist worker crash)",
        "crashed test processes (signals, Fatal Python error, xdist worker crashes)",
        _crashed,
    ),
    Gate(
        "timeouts",
        "a test file timed out (`Command took >N min`, faulthandler's `Timeout (H:MM:SS)!`)",
        "test files that timed out",
        _timed_out,
    ),
    Gate(
        "collection_errors",
        "collection errored, or a test file exited before any result (import error)",
        "collection/import errors of test files",
        _collection,
    ),
    Gate(
        "interrupted",
        "the run was interrupted (KeyboardInterrupt, pytest `Exit`, xdist gave up, run_test.py "
        "stopped at the first failing file, a pytest session that never printed its count "
        "line: its process died or the log is cut)",
        "interrupted runs (KeyboardInterrupt, pytest Exit, unfinished sessions, ...)",
        _interrupted,
    ),
    Gate(
        "fell_over",
        "the suite fell over before producing results (`Missing pip dependency`, an exception "
        "and no count line)",
        "a suite that fell over before producing results",
        _fell_over,
    ),
    Gate(
        "truncated",
        "the test phase never finished (log cut off)",
        "a test phase that never finished",
        _truncated,
    ),
    Gate(
        "tests_failed",
        "conda-build reported `TESTS FAILED`, or pip check / an import or assert check failed",
        "conda-build's TESTS FAILED and failed pip/import checks",
        _tests_failed,
    ),
    Gate(
        "untested",
        "the log has no test phase, or none of its packages ran a test suite (judged per log)",
        "logs without a test phase and packages without a suite",
        None,
    ),
)


def gates_table() -> str:
    """The README's table of what fails a package, and the option that allows it."""
    rows = ["| condition | override |", "| --- | --- |"]
    rows += [f"| {g.condition} | `--allow-{g.name.replace('_', '-')}` |" for g in GATES]
    rows.append(
        "| (failed + errors − known failures) / tests that ran > 1% | "
        "`--max-failure-rate 0.02` (or `2%`) |"
    )
    return "\n".join(rows) + "\n"


@dataclass
class Policy:
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE
    allow: frozenset[str] = frozenset()  # names of GATES that do not fail (--allow-<name>)
    known_failures: list[KnownFailure] = field(default_factory=list)
    known_failures_path: str | None = None
    baseline: dict | None = None
    baseline_path: str | None = None
    max_coverage_drop: float = DEFAULT_MAX_COVERAGE_DROP
    variant: str | None = None  # default: each log's file name without extension
    platform: str | None = None
    today: dt.date = field(default_factory=dt.date.today)

    def __post_init__(self) -> None:
        unknown = set(self.allow) - {g.name for g in GATES}
        if unknown:
            raise ValueError(f"no such policy gate: {', '.join(sorted(unknown))}")
        self.allow = frozenset(self.allow)

    def allows(self, gate: str) -> bool:
        return gate in self.allow

    def to_dict(self) -> dict:
        data: dict[str, object] = {f"allow_{g.name}": g.name in self.allow for g in GATES}
        data.update(
            max_failure_rate=self.max_failure_rate,
            known_failures=self.known_failures_path,
            baseline=self.baseline_path,
            max_coverage_drop=self.max_coverage_drop,
            variant=self.variant,
            platform=self.platform,
        )
        return data


def evaluate_package(
    phase: PhaseResult,
    policy: Policy,
    variant: str | None = None,
    known: _KnownTracker | None = None,
) -> PackageReport:
    """One package's verdict: its gates, its failures (known ones set apart), its failure
    rate, then pass / fail / untested."""
    known = known or _KnownTracker(policy)
    failing, notes = _gate_reasons(phase, policy)
    failures, known_count = _classify_failures(phase, variant, known)
    rate_text, over = _rate(phase.counts, known_count, policy.max_failure_rate)
    if rate_text:
        (failing if over else notes).append(rate_text)
    notes += _notes(phase)
    verdict, why = _package_verdict(phase, failing)
    if why:
        notes.insert(0, why)
    return PackageReport(
        package=phase.package,
        verdict=verdict,
        reasons=failing + notes,
        counts=phase.counts,
        failures=failures,
        crashed=bool(phase.crashes),
        timed_out=list(phase.timeouts),
        crashes=list(phase.crashes),
        evidence=[f"{e.rule}: {e.text}" for e in phase.evidence],
        failures_truncated=phase.failures_truncated,
        ended=phase.ended,
    )


def _gate_reasons(phase: PhaseResult, policy: Policy) -> tuple[list[str], list[str]]:
    """(reasons that fail the package, reasons an --allow option turned into notes)."""
    failing: list[str] = []
    notes: list[str] = []
    for gate in GATES:
        reason = gate.check(phase) if gate.check else None
        if reason and policy.allows(gate.name):
            notes.append(reason + " (allowed by option)")
        elif reason:
            failing.append(reason)
    return failing, notes


_FAILURE_ORDER = {"crashed": 0, "failed": 1, "error": 2, "xpassed": 3, "known": 4, "flaky": 5}


def _classify_failures(
    phase: PhaseResult, variant: str | None, known: _KnownTracker
) -> tuple[list[Failure], int]:
    """The failing tests, worst first, with --known-failures entries marked; and how many
    failed, errored or crashed tests those entries account for."""
    failures: list[Failure] = []
    known_count = 0
    for test, outcome in phase.failures.items():
        if outcome in ("failed", "error", "crashed"):
            entry = known.lookup(test, variant, phase.package)
            if entry is not None:
                failures.append(Failure(test, "known", known_reason=entry.reason))
                known_count += 1
                continue
        failures.append(Failure(test, outcome))
    failures.sort(key=lambda f: _FAILURE_ORDER.get(f.outcome, 9))
    return failures, known_count


def _rate(counts: Counts, known_count: int, limit: float) -> tuple[str, bool]:
    """The failure rate as a reason (empty when nothing ran or nothing failed), and whether
    it is over the limit."""
    if not counts.ran:
        return "", False
    bad = max(0, counts.failed + counts.errors - known_count)
    rate = bad / counts.ran
    text = f"{bad} failed or errored of {counts.ran} tests that ran ({rate:.2%}; limit {limit:.2%})"
    if known_count:
        text += f"; {known_count} known failures not counted"
    if rate > limit:
        return text, True
    return (text + ": within the limit", False) if bad or known_count else ("", False)


def _notes(phase: PhaseResult) -> list[str]:
    """Facts worth a line that never fail a package."""
    notes = []
    if phase.flaky:
        notes.append(f"{len(phase.flaky)} flaky (failed, then passed in a new process)")
    if phase.suite_exit_nonzero:
        notes.append("the suite exited non-zero ('+ true' after it)")
    if phase.oom:
        notes.append(f"out of memory: {_join(phase.oom)}")
    return notes


def _package_verdict(phase: PhaseResult, failing: list[str]) -> tuple[PackageVerdict, str]:
    """pass / fail / untested, and the note that explains an untested package."""
    if failing:
        return "fail", ""
    if phase.ended == "nothing-to-test":
        return "untested", "conda-build: nothing to test for this package"
    if not (phase.suite_started or phase.counts.ran > 0):
        errors = f" (errors: {_join(phase.exceptions)})" if phase.exceptions else ""
        return "untested", f"tests did not run: the test phase ran no test suite{errors}"
    return "pass", ""


def _join(items: list[str], limit: int = 3) -> str:
    shown = "; ".join(items[:limit])
    return shown + (f"; … {len(items) - limit} more" if len(items) > limit else "")


def evaluate_log(log: LogResult, policy: Policy, known: _KnownTracker | None = None) -> LogReport:
    known = known or _KnownTracker(policy)
    variant = policy.variant or _variant_of(log.name)
    packages = [evaluate_package(p, policy, variant, known) for p in log.phases]
    reasons: list[str] = list(log.notes)
    failed = False
    if log.bytes_read == 0:
        reasons.append("empty log: tests did not run")
        failed = True
    elif log.build_failure:
        reasons.append(f"build failed: {log.build_failure}")
        failed = True
    if log.bytes_read and not log.phases:
        reasons.append(
            "no test phase (no 'TEST START:' line): tests did not run"
            + (" (allowed by --allow-untested)" if policy.allows("untested") else "")
        )
        failed = failed or not policy.allows("untested")
    if any(p.verdict == "fail" for p in packages):
        failed = True
    # Judged per log, as a recipe is: an import-only output (the pytorch-cpu/-gpu metapackage)
    # beside a package that ran the suite is fine; a log where no package ran one is not.
    untested = [p.package for p in packages if p.verdict == "untested"]
    if untested and len(untested) == len(packages):
        reasons.append(
            f"tests did not run: no package ran a test suite ({_join(untested)})"
            + (
                " (allowed by --allow-untested)"
                if policy.allows("untested")
                else "; --allow-untested to accept"
            )
        )
        failed = failed or not policy.allows("untested")
    elif untested:
        reasons.append(f"no test suite in: {_join(untested)} (another package ran it)")
    return LogReport(
        path=log.name, verdict="fail" if failed else "pass", packages=packages, reasons=reasons
    )


def _variant_of(name: str) -> str:
    base = re.split(r"[/\\!]", name)[-1]
    for ext in (".gz", ".log", ".txt"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    return base


def build_report(logs: list[LogResult], policy: Policy) -> Report:
    """Evaluate every log, then the report-wide checks: known-failure bookkeeping, baseline."""
    known = _KnownTracker(policy)
    log_reports = [evaluate_log(log, policy, known) for log in logs]
    report = Report(verdict="pass", logs=log_reports, policy=policy.to_dict())
    if policy.known_failures:
        by_index = {e.index: e for e in policy.known_failures}
        report.known_failures = {
            "file": policy.known_failures_path,
            "matched": [
                dict(by_index[i].to_dict(), count=n) for i, n in sorted(known.matched.items())
            ],
            "expired": [
                dict(by_index[i].to_dict(), count=n) for i, n in sorted(known.expired_hits.items())
            ],
            "stale": [
                e.to_dict()
                for e in policy.known_failures
                if e.index not in known.matched and e.index not in known.expired_hits
            ],
        }
    if policy.baseline is not None:
        base_ran, base_failing = _baseline_facts(policy.baseline)
        ran = sum(p.counts.ran for _, p in report.packages())
        failing = {
            f.test
            for _, p in report.packages()
            for f in p.failures
            if f.outcome in REAL_FAILURES + ("known",)
        }
        report.baseline = {
            "path": policy.baseline_path,
            "ran": ran,
            "baseline_ran": base_ran,
            "new_failures": sorted(failing - base_failing),
            "fixed": sorted(base_failing - failing),
        }
        if base_ran and (base_ran - ran) / base_ran > policy.max_coverage_drop:
            report.reasons.append(
                f"coverage dropped: {ran} tests ran, baseline {base_ran} "
                f"({(base_ran - ran) / base_ran:.1%} fewer; limit {policy.max_coverage_drop:.1%})"
            )
    failed = bool(report.reasons) or any(log.verdict == "fail" for log in log_reports)
    report.verdict = "fail" if failed else "pass"
    return report
