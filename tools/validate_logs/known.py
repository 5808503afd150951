"""The policy's files: known failures (YAML) and a baseline (an earlier JSON report)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from tools.cli import EXIT_USAGE, ToolError
from tools.validate_logs.patterns import Pattern, PatternError, compile_pattern
from tools.validate_logs.results import Counts
from tools.validate_logs.rules import normalize_test_id

# Failure outcomes (as in the report: Failure.outcome) that are failures for --baseline
REAL_FAILURES = ("failed", "error", "crashed", "xpassed")

if TYPE_CHECKING:  # the Policy holds the known failures this module loads
    from tools.validate_logs.policy import Policy


@dataclass
class KnownFailure:
    test: str  # exact id, fnmatch pattern (* ? [), or "re:<regex>" (see compile_pattern)
    reason: str
    # fnmatch against the log's variant or the package name; a list: any of them
    variant: str | list[str] | None = None
    platform: str | list[str] | None = None  # fnmatch against the platform (linux-64, ...)
    expires: dt.date | None = None
    index: int = 0
    _compiled: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _pattern(self, text: str, kind: str = "glob") -> Pattern:
        key = (kind, text)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = compile_pattern(text, kind)
        return found

    def test_pattern(self) -> Pattern | None:
        """The compiled ``test`` pattern; None for an exact id. PatternError if it is bad."""
        if self.test.startswith("re:"):
            return self._pattern(self.test[3:], "regex")
        pattern = normalize_test_id(self.test)
        return self._pattern(pattern) if any(c in pattern for c in "*?[") else None

    def matches(self, test: str) -> bool:
        if not self.test.startswith("re:") and test == normalize_test_id(self.test):
            return True
        pattern = self.test_pattern()
        return pattern is not None and pattern.matches(test)

    def _any(self, patterns: str | list[str], value: str | None) -> bool:
        if not value:
            return False
        alternatives = [patterns] if isinstance(patterns, str) else patterns
        return any(self._pattern(p).matches(value) for p in alternatives)

    def applies(self, variant: str | None, package: str, platform: str | None) -> bool:
        if self.variant and not any(self._any(self.variant, v) for v in (variant, package)):
            return False
        return not (self.platform and not self._any(self.platform, platform))

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def to_dict(self) -> dict:
        data: dict[str, object] = {"test": self.test, "reason": self.reason}
        if self.variant or self.platform:
            data["when"] = {
                k: v for k, v in (("variant", self.variant), ("platform", self.platform)) if v
            }
        if self.expires:
            data["expires"] = self.expires.isoformat()
        return data


# ------------------------------------------------------------------------- known failures


def _yaml_loader():
    """PyYAML's SafeLoader, except that a date YAML cannot build (``2026-02-30``) stays the
    string it was, so the entry that holds it is refused by name instead of by a traceback."""
    import yaml  # only needed with --known-failures (startup time)

    class Loader(yaml.SafeLoader):
        pass

    def timestamp(loader, node):
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except (ValueError, OverflowError):
            return loader.construct_scalar(node)

    Loader.add_constructor("tag:yaml.org,2002:timestamp", timestamp)
    return Loader


def load_known_failures(path: str | Path) -> list[KnownFailure]:
    """Read the known-failures YAML; any problem is a ToolError (exit 2) naming the entry."""
    import yaml  # only needed with --known-failures (startup time)

    path = Path(path)
    where = f"known-failures file {path}"
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_yaml_loader())  # noqa: S506
    except FileNotFoundError:
        raise ToolError(f"{where} does not exist; pass an existing YAML file", EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolError(f"cannot read {where}: {exc}", EXIT_USAGE) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ToolError(f"{where} is not valid YAML{at}; fix the syntax", EXIT_USAGE) from None
    except RecursionError:
        raise ToolError(
            f"{where} nests too deeply to be a known-failures list", EXIT_USAGE
        ) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a value YAML itself cannot build
        raise ToolError(f"{where} is not valid YAML ({exc}); fix the value", EXIT_USAGE) from None
    if isinstance(data, dict) and "known_failures" in data:
        data = data["known_failures"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise ToolError(
            f"{where}: expected a list of entries (or a 'known_failures:' list)", EXIT_USAGE
        )
    return [_known_failure(item, f"{where}: entry {i}", i) for i, item in enumerate(data, 1)]


def _known_failure(item, bad: str, index: int) -> KnownFailure:
    """One entry of the known-failures file, checked; ToolError (exit 2) naming it."""
    if not isinstance(item, dict):
        raise ToolError(f"{bad} is not a mapping; each entry needs 'test' and 'reason'", EXIT_USAGE)
    unknown = set(item) - {"test", "reason", "when", "expires"}
    if unknown:
        raise ToolError(
            f"{bad} has unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            "allowed: test, reason, when, expires",
            EXIT_USAGE,
        )
    test, reason = item.get("test"), item.get("reason")
    if not isinstance(test, str) or not test.strip():
        raise ToolError(f"{bad}: 'test' must be a test id or pattern", EXIT_USAGE)
    if not isinstance(reason, str) or not reason.strip():
        raise ToolError(
            f"{bad} ({test}): 'reason' is required (why it is known to fail)", EXIT_USAGE
        )
    when = item.get("when") or {}
    if not isinstance(when, dict) or set(when) - {"variant", "platform"}:
        raise ToolError(f"{bad} ({test}): 'when' takes 'variant' and/or 'platform'", EXIT_USAGE)
    entry = KnownFailure(
        test=test.strip(),
        reason=reason.strip(),
        variant=_when_value(when, "variant", bad, test),
        platform=_when_value(when, "platform", bad, test),
        expires=_expires(item.get("expires"), bad, test),
        index=index,
    )
    try:  # compile now: a bad or too costly pattern is refused before any log is read
        entry.test_pattern()
        for value in (entry.variant, entry.platform):
            for pattern in [value] if isinstance(value, str) else value or []:
                entry._pattern(pattern)
    except PatternError as exc:
        kind = "regex" if entry.test.startswith("re:") else "pattern"
        raise ToolError(f"{bad}: bad {kind} {_short(entry.test)}: {exc}", EXIT_USAGE) from None
    return entry


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _when_value(when: dict, key: str, bad: str, test: str) -> str | list[str] | None:
    """``when: {variant: PATTERN}`` or ``{variant: [PATTERN, ...]}`` (any of them)."""
    value = when.get(key)
    if value is None:
        return None
    scalar = (str, int, float)  # a number is the pattern it spells, as before
    if isinstance(value, scalar) and not isinstance(value, bool):
        return str(value)
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, scalar) and not isinstance(v, bool) and str(v) for v in value)
    ):
        return [str(v) for v in value]
    raise ToolError(
        f"{bad} ({test}): 'when: {key}' must be a pattern or a non-empty list of "
        "patterns (any of them)",
        EXIT_USAGE,
    )


def _expires(value, bad: str, test: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ToolError(
        f"{bad} ({test}): 'expires' must be a date YYYY-MM-DD (got {_short(str(value), 40)})",
        EXIT_USAGE,
    )


# ----------------------------------------------------------------------------- baseline


def load_baseline(path: str | Path) -> dict:
    """Read an earlier ``--format json`` report; a missing, unreadable or wrong-shape one is a
    ToolError (exit 2) naming the first bad place (``logs[0].packages[1].counts.passed``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except FileNotFoundError:
        raise ToolError(
            f"baseline {path} does not exist; pass a report written by --format json --output",
            EXIT_USAGE,
        ) from None
    except RecursionError:
        raise ToolError(
            f"baseline {path} nests too deeply to be a validate_logs JSON report", EXIT_USAGE
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ToolError(
            f"baseline {path} is not a readable JSON report: {exc}", EXIT_USAGE
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("logs"), list):
        raise ToolError(
            f"baseline {path} is not a validate_logs JSON report (no 'logs' list)", EXIT_USAGE
        )
    problem = _baseline_problem(data)
    if problem:
        raise ToolError(
            f"baseline {path} is not a validate_logs JSON report: {problem}; pass "
            "a report written by --format json --output",
            EXIT_USAGE,
        )
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _baseline_problem(data: dict) -> str | None:
    """What makes ``data`` unusable as a baseline (the fields _baseline_facts reads), or None."""

    def shown(value) -> str:  # as JSON spells it, cut short
        text = json.dumps(value)
        return text if len(text) <= 40 else text[:37] + "..."

    for i, log in enumerate(data["logs"]):
        at = f"logs[{i}]"
        if not isinstance(log, dict):
            return f"{at} is {shown(log)}, not an object"
        packages = log.get("packages")
        if not isinstance(packages, list):
            return (
                f"{at} has no 'packages' list"
                if packages is None
                else f"{at}.packages is {shown(packages)}, not a list"
            )
        for j, pkg in enumerate(packages):
            at = f"logs[{i}].packages[{j}]"
            if not isinstance(pkg, dict):
                return f"{at} is {shown(pkg)}, not an object"
            for key in ("counts", "failures"):
                if key not in pkg:
                    return f"{at} has no '{key}'"
            counts, failures = pkg["counts"], pkg["failures"]
            if not isinstance(counts, dict):
                return f"{at}.counts is {shown(counts)}, not an object"
            for f in fields(Counts):
                value = counts.get(f.name, 0)
                if type(value) is not int or value < 0:
                    return f"{at}.counts.{f.name} is {shown(value)}, not a count (0, 1, 2, ...)"
            if not isinstance(failures, list):
                return f"{at}.failures is {shown(failures)}, not a list"
            for k, failure in enumerate(failures):
                if not (
                    isinstance(failure, dict)
                    and isinstance(failure.get("test"), str)
                    and isinstance(failure.get("outcome"), str)
                ):
                    return (
                        f"{at}.failures[{k}] is {shown(failure)}, not "
                        '{"test": ..., "outcome": ...}'
                    )
    return None


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
