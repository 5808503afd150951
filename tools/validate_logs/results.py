"""The data validate_logs passes on: the parser's facts (``PhaseResult``, ``LogResult``), the
verdicts (``PackageReport``, ``LogReport``, ``Report``) and their one vocabulary.

JSON (``Report.to_dict``): ``{"schema", "verdict", "reasons", "policy", "logs": [{"path",
"verdict", "reasons", "packages": [{"package", "verdict", "reasons", "counts", "failures":
[{"test", "outcome"}], "crashed", ...}]}]}``. Fields may be added, never removed or renamed
within a schema version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Literal

SCHEMA_VERSION = 1
# The vocabulary of results, one spelling each (mypy checks every use).
Verdict = Literal["pass", "fail"]  # of a log, of the report
PackageVerdict = Literal["pass", "fail", "untested"]
# A failing test: failed (an assertion), error (setup/teardown or an uncaught exception),
# crashed (its process died in it), xpassed (strict xfail), flaky (failed, then passed in a new
# process), known (a --known-failures entry). "error" is the outcome; Counts.errors the count.
FailureOutcome = Literal["failed", "error", "crashed", "xpassed", "flaky", "known"]
# How a test phase ended: TEST END, TESTS FAILED, Nothing to test for, the log ended (cut),
# or the next BUILD START came first.
PhaseEnd = Literal["end", "tests-failed", "nothing-to-test", "truncated", "next-build"]


@dataclass(slots=True)
class Counts:
    """Test outcomes of one package's test phase, as pytest/unittest reported them."""

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    xfailed: int = 0
    xpassed: int = 0
    rerun: int = 0

    @property
    def ran(self) -> int:
        """Tests that ran to an outcome (skips and deselections excluded)."""
        return self.passed + self.failed + self.errors + self.xfailed + self.xpassed

    def add(self, other: Counts) -> None:
        add_counts(self, other)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Counts:
        return cls(**{f.name: int(data.get(f.name, 0) or 0) for f in fields(cls)})


def add_counts(into: Counts, other: Counts) -> None:
    """``into += other``, field by field (a few times per test phase: kept cheap; a test in
    tests/test_tally.py checks that it covers every field)."""
    into.passed += other.passed
    into.failed += other.failed
    into.errors += other.errors
    into.skipped += other.skipped
    into.xfailed += other.xfailed
    into.xpassed += other.xpassed
    into.rerun += other.rerun


@dataclass
class Failure:
    test: str
    outcome: FailureOutcome
    known_reason: str | None = None

    def to_dict(self) -> dict:
        data = {"test": self.test, "outcome": self.outcome}
        if self.known_reason:
            data["known_reason"] = self.known_reason
        return data


@dataclass
class PackageReport:
    package: str
    verdict: PackageVerdict
    reasons: list[str] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    failures: list[Failure] = field(default_factory=list)
    crashed: bool = False
    timed_out: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # notable log lines behind the reasons
    failures_truncated: int = 0  # failing ids not kept (memory bound)
    ended: PhaseEnd = "end"

    def to_dict(self) -> dict:
        return {
            "package": self.package,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "counts": self.counts.to_dict(),
            "ran": self.counts.ran,
            "failures": [f.to_dict() for f in self.failures],
            "failures_truncated": self.failures_truncated,
            "crashed": self.crashed,
            "crashes": list(self.crashes),
            "timed_out": list(self.timed_out),
            "evidence": list(self.evidence),
            "ended": self.ended,
        }


@dataclass
class LogReport:
    path: str
    verdict: Verdict
    packages: list[PackageReport] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # log-level: no test phase, empty log, ...

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "packages": [p.to_dict() for p in self.packages],
        }


@dataclass
class Report:
    verdict: Verdict
    logs: list[LogReport] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # report-level: baseline coverage drop
    known_failures: dict = field(default_factory=dict)  # {"file", "matched", "stale", "expired"}
    baseline: dict | None = None  # {"path", "new_failures", "fixed", "ran", "baseline_ran"}
    policy: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "logs": [log.to_dict() for log in self.logs],
            "known_failures": self.known_failures,
            "baseline": self.baseline,
            "policy": self.policy,
        }

    def packages(self) -> list[tuple[LogReport, PackageReport]]:
        return [(log, pkg) for log in self.logs for pkg in log.packages]


@dataclass
class Evidence:
    rule: str
    text: str


@dataclass
class PhaseResult:
    """What one package's test phase showed: facts only, no verdict (see ``policy``)."""

    package: str
    ended: PhaseEnd = "truncated"
    counts: Counts = field(default_factory=Counts)
    count_lines: int = 0  # pytest final lines + unittest totals seen
    suite_started: bool = False  # run_test.py / pytest / unittest ran (or was started)
    suite_exit_nonzero: bool = False  # `+ true` right after the suite command
    failures: dict[str, FailureOutcome] = field(default_factory=dict)  # test id -> outcome
    failures_truncated: int = 0
    flaky: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    collection_errors: list[str] = field(default_factory=list)
    interruptions: list[str] = field(default_factory=list)
    fell_over: list[str] = field(default_factory=list)  # hard evidence: Missing pip dependency
    exceptions: list[str] = field(default_factory=list)  # uncaught exceptions before any result
    check_failures: list[str] = field(default_factory=list)  # pip check, import/assert checks
    files_failed: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    oom: list[str] = field(default_factory=list)


@dataclass
class LogResult:
    name: str
    phases: list[PhaseResult] = field(default_factory=list)
    framed: bool = True  # False: parsed as one test phase (CI logs without conda-build framing)
    bytes_read: int = 0
    build_failure: str | None = None  # conda-build's BuildScriptException, seen near the end
    notes: list[str] = field(default_factory=list)  # about the input itself (truncated .gz)
