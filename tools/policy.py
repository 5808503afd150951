"""The verdict policy of validate_logs: parser facts (tools.logs) in, PackageReport/Report out.

Default policy (each part can be switched off by an option of ``nox -s validate_logs``):

A package whose test phase ran a test suite FAILS when
- a test process crashed: a signal (SIGSEGV, SIGABRT/SIGIOT, SIGBUS, SIGKILL = OOM killer, ...),
  ``Fatal Python error``, an xdist worker crash [--allow-crashes]
- a test file timed out (run_test.py ``Command took >N min``) [--allow-timeouts]
- collection errored, or a file exited before any result (import error) [--allow-collection-errors]
- the run was interrupted (KeyboardInterrupt, pytest Exit, xdist gave up, run_test.py stopped at
  the first failing file) [--allow-interrupted]
- the suite fell over before producing results (``Missing pip dependency``, an exception and no
  count line) [--allow-fell-over]
- the test phase never finished (log cut off) [--allow-truncated]
- conda-build reported ``TESTS FAILED``, or pip check / an import or assert check failed
  [--allow-tests-failed]
- (failed + errors - known failures) / tests that ran > 1% [--max-failure-rate FRACTION]
A log with no test phase, or whose packages never ran a suite, fails ("tests did not run") unless
--allow-untested; a package without a suite (an import-only metapackage) is "untested" and does
not fail a log in which another package ran the suite. An empty log or a failed build always fails.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tools.cli import EXIT_USAGE, ToolError
from tools.logs import LogResult, PhaseResult, normalize_test_id
from tools.report import Counts, Failure, LogReport, PackageReport, Report

DEFAULT_MAX_FAILURE_RATE = 0.01
DEFAULT_MAX_COVERAGE_DROP = 0.05
REAL_FAILURES = ("failed", "errors", "crashed", "xpassed")
ALLOW_FLAGS = ("crashes", "timeouts", "collection_errors", "interrupted", "fell_over", "truncated",
               "tests_failed", "untested")


@dataclass
class KnownFailure:
    test: str  # exact id, fnmatch pattern (* ? [), or "re:<regex>"
    reason: str
    variant: str | None = None  # fnmatch against the log's variant or the package name
    platform: str | None = None  # fnmatch against the platform (linux-64, ...)
    expires: dt.date | None = None
    index: int = 0

    def matches(self, test: str) -> bool:
        if self.test.startswith("re:"):
            return re.search(self.test[3:], test) is not None
        pattern = normalize_test_id(self.test)
        return test == pattern or (any(c in pattern for c in "*?[")
                                   and fnmatch.fnmatchcase(test, pattern))

    def applies(self, variant: str | None, package: str, platform: str | None) -> bool:
        if self.variant and not any(v and fnmatch.fnmatchcase(v, self.variant)
                                    for v in (variant, package)):
            return False
        return not (self.platform and not (platform and fnmatch.fnmatchcase(platform,
                                                                             self.platform)))

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def to_dict(self) -> dict:
        data = {"test": self.test, "reason": self.reason}
        if self.variant or self.platform:
            data["when"] = {k: v for k, v in (("variant", self.variant),
                                              ("platform", self.platform)) if v}
        if self.expires:
            data["expires"] = self.expires.isoformat()
        return data


@dataclass
class Policy:
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE
    allow_crashes: bool = False
    allow_timeouts: bool = False
    allow_collection_errors: bool = False
    allow_interrupted: bool = False
    allow_fell_over: bool = False
    allow_truncated: bool = False
    allow_tests_failed: bool = False
    allow_untested: bool = False
    known_failures: list[KnownFailure] = field(default_factory=list)
    known_failures_path: str | None = None
    baseline: dict | None = None
    baseline_path: str | None = None
    max_coverage_drop: float = DEFAULT_MAX_COVERAGE_DROP
    variant: str | None = None  # default: each log's file name without extension
    platform: str | None = None
    today: dt.date = field(default_factory=dt.date.today)

    def to_dict(self) -> dict:
        data = {f"allow_{a}": getattr(self, f"allow_{a}") for a in ALLOW_FLAGS}
        data.update(max_failure_rate=self.max_failure_rate, known_failures=self.known_failures_path,
                    baseline=self.baseline_path, max_coverage_drop=self.max_coverage_drop,
                    variant=self.variant, platform=self.platform)
        return data


# ------------------------------------------------------------------------- known failures


def load_known_failures(path: str | Path) -> list[KnownFailure]:
    """Read the known-failures YAML; any problem is a ToolError (exit 2) naming the entry."""
    import yaml  # only needed with --known-failures (startup time)

    path = Path(path)
    where = f"known-failures file {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ToolError(f"{where} does not exist; pass an existing YAML file", EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolError(f"cannot read {where}: {exc}", EXIT_USAGE) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ToolError(f"{where} is not valid YAML{at}; fix the syntax", EXIT_USAGE) from None
    if isinstance(data, dict) and "known_failures" in data:
        data = data["known_failures"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise ToolError(f"{where}: expected a list of entries (or a 'known_failures:' list)",
                        EXIT_USAGE)
    entries = []
    for i, item in enumerate(data, 1):
        bad = f"{where}: entry {i}"
        if not isinstance(item, dict):
            raise ToolError(f"{bad} is not a mapping; each entry needs 'test' and 'reason'",
                            EXIT_USAGE)
        unknown = set(item) - {"test", "reason", "when", "expires"}
        if unknown:
            raise ToolError(f"{bad} has unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                            "allowed: test, reason, when, expires", EXIT_USAGE)
        test, reason = item.get("test"), item.get("reason")
        if not isinstance(test, str) or not test.strip():
            raise ToolError(f"{bad}: 'test' must be a test id or pattern", EXIT_USAGE)
        if not isinstance(reason, str) or not reason.strip():
            raise ToolError(f"{bad} ({test}): 'reason' is required (why it is known to fail)",
                            EXIT_USAGE)
        if test.startswith("re:"):
            try:
                re.compile(test[3:])
            except re.error as exc:
                raise ToolError(f"{bad}: bad regex {test[3:]!r}: {exc}", EXIT_USAGE) from None
        when = item.get("when") or {}
        if not isinstance(when, dict) or set(when) - {"variant", "platform"}:
            raise ToolError(f"{bad} ({test}): 'when' takes 'variant' and/or 'platform'",
                            EXIT_USAGE)
        expires = item.get("expires")
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                raise ToolError(f"{bad} ({test}): 'expires' must be a date YYYY-MM-DD",
                                EXIT_USAGE) from None
        elif isinstance(expires, dt.datetime):
            expires = expires.date()
        elif expires is not None and not isinstance(expires, dt.date):
            raise ToolError(f"{bad} ({test}): 'expires' must be a date YYYY-MM-DD", EXIT_USAGE)
        entries.append(KnownFailure(test=test.strip(), reason=reason.strip(),
                                    variant=_opt_str(when.get("variant")),
                                    platform=_opt_str(when.get("platform")),
                                    expires=expires, index=i))
    return entries


def _opt_str(value) -> str | None:
    return None if value is None else str(value)


# ----------------------------------------------------------------------------- baseline


def load_baseline(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ToolError(f"baseline {path} does not exist; pass a report written by "
                        "--format json --output", EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ToolError(f"baseline {path} is not a readable JSON report: {exc}",
                        EXIT_USAGE) from None
    if not isinstance(data, dict) or not isinstance(data.get("logs"), list):
        raise ToolError(f"baseline {path} is not a validate_logs JSON report (no 'logs' list)",
                        EXIT_USAGE)
    return data


def _baseline_facts(data: dict) -> tuple[int, set[str]]:
    ran, failing = 0, set()
    for log in data.get("logs", []):
        for pkg in log.get("packages", []) if isinstance(log, dict) else []:
            if not isinstance(pkg, dict):
                continue
            ran += Counts.from_dict(pkg.get("counts") or {}).ran
            for f in pkg.get("failures") or []:
                if isinstance(f, dict) and f.get("outcome") in REAL_FAILURES + ("known",):
                    failing.add(str(f.get("test")))
    return ran, failing


# ------------------------------------------------------------------------------ verdicts


class _KnownTracker:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.matched: dict[int, int] = {}
        self.expired_hits: dict[int, int] = {}

    def lookup(self, test: str, variant: str | None, package: str) -> KnownFailure | None:
        for entry in self.policy.known_failures:
            if entry.applies(variant, package, self.policy.platform) and entry.matches(test):
                if entry.expired(self.policy.today):
                    self.expired_hits[entry.index] = self.expired_hits.get(entry.index, 0) + 1
                    return None
                self.matched[entry.index] = self.matched.get(entry.index, 0) + 1
                return entry
        return None


def evaluate_package(phase: PhaseResult, policy: Policy, variant: str | None = None,
                     known: _KnownTracker | None = None) -> PackageReport:
    known = known or _KnownTracker(policy)
    counts = phase.counts
    failing: list[str] = []  # reasons that make the package fail
    notes: list[str] = []  # reasons that explain but do not fail

    def gate(allowed: bool, text: str) -> None:
        (notes if allowed else failing).append(text + (" (allowed by option)" if allowed else ""))

    if phase.crashes:
        killed = any("SIGKILL" in c or "Killed" in c for c in phase.crashes)
        gate(policy.allow_crashes, f"test process crashed: {_join(phase.crashes)}"
             + (" (SIGKILL: out of memory?)" if killed else ""))
    if phase.timeouts:
        gate(policy.allow_timeouts, f"timed out: {_join(phase.timeouts)}")
    if phase.collection_errors:
        gate(policy.allow_collection_errors, f"collection error: {_join(phase.collection_errors)}")
    if phase.interruptions:
        gate(policy.allow_interrupted, f"interrupted: {_join(phase.interruptions)}")
    fell_over = phase.suite_started and (phase.fell_over or (counts.ran == 0
                                                              and phase.count_lines == 0))
    if fell_over:
        why = phase.fell_over or phase.exceptions or ["no test results and no count line"]
        gate(policy.allow_fell_over, f"suite fell over before producing results: {_join(why)}")
    if phase.ended in ("truncated", "next-build"):
        gate(policy.allow_truncated, "test phase never finished (no TEST END / TESTS FAILED: "
                                     "log cut off?)")
    if phase.ended == "tests-failed":
        detail = f": {_join(phase.check_failures)}" if phase.check_failures else ""
        gate(policy.allow_tests_failed, f"conda-build reported TESTS FAILED{detail}")
    elif phase.check_failures:
        gate(policy.allow_tests_failed, f"test check failed: {_join(phase.check_failures)}")

    failures: list[Failure] = []
    known_count = 0
    for test, outcome in phase.failures.items():
        if outcome in ("failed", "errors", "crashed"):
            entry = known.lookup(test, variant, phase.package)
            if entry is not None:
                failures.append(Failure(test, "known", known_reason=entry.reason))
                known_count += 1
                continue
        failures.append(Failure(test, "error" if outcome == "errors" else outcome))
    order = {"crashed": 0, "failed": 1, "error": 2, "xpassed": 3, "known": 4, "flaky": 5}
    failures.sort(key=lambda f: order.get(f.outcome, 9))

    bad = max(0, counts.failed + counts.errors - known_count)
    if counts.ran:
        rate = bad / counts.ran
        text = (f"{bad} failed or errored of {counts.ran} tests that ran ({rate:.2%}; "
                f"limit {policy.max_failure_rate:.2%})")
        if known_count:
            text += f"; {known_count} known failures not counted"
        if rate > policy.max_failure_rate:
            failing.append(text)
        elif bad or known_count:
            notes.append(text + ": within the limit")
    if phase.flaky:
        notes.append(f"{len(phase.flaky)} flaky (failed, then passed in a new process)")
    if phase.suite_exit_nonzero:
        notes.append("the suite exited non-zero ('+ true' after it)")
    if phase.oom:
        notes.append(f"out of memory: {_join(phase.oom)}")

    suite_ran = phase.suite_started or counts.ran > 0
    if failing:
        verdict = "fail"
    elif phase.ended == "nothing-to-test":
        verdict = "untested"
        notes.insert(0, "conda-build: nothing to test for this package")
    elif not suite_ran:
        verdict = "untested"
        notes.insert(0, "tests did not run: the test phase ran no test suite"
                     + (f" (errors: {_join(phase.exceptions)})" if phase.exceptions else ""))
    else:
        verdict = "pass"
    return PackageReport(
        package=phase.package, verdict=verdict, reasons=failing + notes, counts=counts,
        failures=failures, crashed=bool(phase.crashes), timed_out=list(phase.timeouts),
        crashes=list(phase.crashes), evidence=[f"{e.rule}: {e.text}" for e in phase.evidence],
        failures_truncated=phase.failures_truncated, ended=phase.ended,
    )


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
        reasons.append("no test phase (no 'TEST START:' line): tests did not run"
                       + (" (allowed by --allow-untested)" if policy.allow_untested else ""))
        failed = failed or not policy.allow_untested
    if any(p.verdict == "fail" for p in packages):
        failed = True
    # Judged per log, as a recipe is: an import-only output (the pytorch-cpu/-gpu metapackage)
    # beside a package that ran the suite is fine; a log where no package ran one is not.
    untested = [p.package for p in packages if p.verdict == "untested"]
    if untested and len(untested) == len(packages):
        reasons.append(f"tests did not run: no package ran a test suite ({_join(untested)})"
                       + (" (allowed by --allow-untested)" if policy.allow_untested
                          else "; --allow-untested to accept"))
        failed = failed or not policy.allow_untested
    elif untested:
        reasons.append(f"no test suite in: {_join(untested)} (another package ran it)")
    return LogReport(path=log.name, verdict="fail" if failed else "pass", packages=packages,
                     reasons=reasons)


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
            "matched": [dict(by_index[i].to_dict(), count=n)
                        for i, n in sorted(known.matched.items())],
            "expired": [dict(by_index[i].to_dict(), count=n)
                        for i, n in sorted(known.expired_hits.items())],
            "stale": [e.to_dict() for e in policy.known_failures
                      if e.index not in known.matched and e.index not in known.expired_hits],
        }
    if policy.baseline is not None:
        base_ran, base_failing = _baseline_facts(policy.baseline)
        ran = sum(p.counts.ran for _, p in report.packages())
        failing = {f.test for _, p in report.packages() for f in p.failures
                   if f.outcome in REAL_FAILURES + ("known",)}
        report.baseline = {
            "path": policy.baseline_path, "ran": ran, "baseline_ran": base_ran,
            "new_failures": sorted(failing - base_failing), "fixed": sorted(base_failing - failing),
        }
        if base_ran and (base_ran - ran) / base_ran > policy.max_coverage_drop:
            report.reasons.append(
                f"coverage dropped: {ran} tests ran, baseline {base_ran} "
                f"({(base_ran - ran) / base_ran:.1%} fewer; limit {policy.max_coverage_drop:.1%})")
    failed = bool(report.reasons) or any(log.verdict == "fail" for log in log_reports)
    report.verdict = "fail" if failed else "pass"
    return report
