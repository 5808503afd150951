"""The verdict policy of validate_logs: parser facts (tools.logs) in, PackageReport/Report out.

A package whose test phase ran a test suite fails on any of ``GATES`` (a crash, a timeout, ...:
each has an ``--allow-<name>`` option) or when (failed + errors - known failures) / tests that ran
exceeds ``--max-failure-rate`` (1%). A log with no test phase, or whose packages never ran a
suite, fails ("tests did not run") unless --allow-untested; a package without a suite (an
import-only metapackage) is "untested" and does not fail a log in which another package ran the
suite. An empty log or a failed build always fails.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from tools.cli import EXIT_USAGE, ToolError
from tools.logs import LogResult, PhaseResult, normalize_test_id
from tools.report import Counts, Failure, LogReport, PackageReport, PackageVerdict, Report

DEFAULT_MAX_FAILURE_RATE = 0.01
DEFAULT_MAX_COVERAGE_DROP = 0.05
# Failure outcomes (as in the report: Failure.outcome) that are failures for --baseline
REAL_FAILURES = ("failed", "error", "crashed", "xpassed")


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


# ------------------------------------------------------------- patterns without backtracking
#
# Known-failure patterns come from a file and are matched against test ids from untrusted logs.
# Python's re backtracks: ``re:(a+)+$`` takes minutes on a 32-character id. So patterns are
# parsed here into a Thompson automaton and run as a lazily built DFA: one pass over the id, each
# character costing at most the automaton's size, whatever the pattern. Bounds, checked when the
# file is loaded: a pattern has at most MAX_PATTERN characters and compiles to at most
# MAX_PATTERN_STATES states (a repeat counts once per copy: ``x{100}`` is 100).

MAX_PATTERN = 1000
MAX_PATTERN_STATES = 2000
_MAX_DFA_STATES = 2000  # cached subsets per pattern; past this the cache starts over


class PatternError(ValueError):
    """A pattern outside the supported language or its bounds; the message says why."""


_CHAR, _SPLIT, _BOL, _EOL, _MATCH = range(5)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _not(test):
    return lambda ch: not test(ch)


_CATEGORIES = {"d": str.isdecimal, "w": _is_word, "s": str.isspace}
_CATEGORIES.update({k.upper(): _not(v) for k, v in list(_CATEGORIES.items())})
_SIMPLE_ESCAPES = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class _CharSet:
    """A character class: single characters, ranges, categories (\\d \\w \\s ...), negation."""

    __slots__ = ("chars", "ranges", "tests", "negate")

    def __init__(self, chars=(), ranges=(), tests=(), negate=False) -> None:
        self.chars = frozenset(chars)
        self.ranges = tuple(ranges)
        self.tests = tuple(tests)
        self.negate = negate

    def __call__(self, ch: str) -> bool:
        hit = (
            ch in self.chars
            or any(lo <= ch <= hi for lo, hi in self.ranges)
            or any(t(ch) for t in self.tests)
        )
        return hit != self.negate


_ANY = _CharSet(negate=True)  # every character (glob's ? and *)
_ANY_BUT_NEWLINE = _CharSet("\n", negate=True)  # regex '.'

# The parse tree: ("char", str | _CharSet) | ("cat", [nodes]) | ("alt", [nodes])
#                 | ("rep", node, min, max | None) | ("bol",) | ("eol", "$" or "Z")


class _RegexParser:
    """The supported part of Python's regex syntax; anything else is refused by name.

    Supported: literals and escaped punctuation, ``.``, classes ``[...]`` (ranges, ``^``, \\d \\w
    \\s and their negations), ``^ $ \\A \\Z``, groups ``( ) (?: ) (?P<name> )``, ``|``, and the
    repeats ``* + ? {m} {m,} {,n} {m,n}``, lazy or not. Refused: backreferences, lookaround,
    word boundaries, inline flags, atomic groups and possessive repeats, conditionals, comments.
    """

    MAX_DEPTH = 50  # nested groups

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.depth = 0

    def refuse(self, what: str):
        raise PatternError(
            f"{what} (position {self.i}) is not supported: known-failure "
            "regexes are matched without backtracking (see README)"
        )

    def peek(self, k: int = 0) -> str:
        return self.p[self.i + k] if self.i + k < len(self.p) else ""

    def parse(self):
        node = self.alternation()
        if self.i != len(self.p):
            self.refuse(f"{self.peek()!r}")
        return node

    def alternation(self):
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def sequence(self):
        items = []
        while self.peek() and self.peek() not in "|)":
            atom = self.atom()
            items.append(self.repeats(atom))
        return ("cat", items)

    def repeats(self, atom):
        c = self.peek()
        if c in ("*", "+", "?"):
            self.i += 1
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        elif c == "{" and (bounds := self.brace()) is not None:
            lo, hi = bounds
        else:
            return atom
        if self.peek() == "?":  # lazy: the same set of matches
            self.i += 1
        elif self.peek() == "+":
            self.refuse("a possessive repeat")
        if self.peek() in ("*", "+", "?") or (self.peek() == "{" and self.brace(False)):
            self.refuse("a repeat of a repeat")
        if max(lo, hi or 0) > 100:
            self.refuse(f"a repeat count over 100 ({max(lo, hi or 0)})")
        return ("rep", atom, lo, hi)

    def brace(self, consume: bool = True):
        """``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` at self.i as Python reads them, else None."""
        j = self.i + 1
        lo = hi = ""
        while self.p[j : j + 1].isdigit() and self.p[j].isascii():
            lo += self.p[j]
            j += 1
        if self.p[j : j + 1] == ",":
            j += 1
            while self.p[j : j + 1].isdigit() and self.p[j].isascii():
                hi += self.p[j]
                j += 1
        else:
            hi = lo
        if self.p[j : j + 1] != "}" or self.p[self.i + 1 : self.i + 2] == "}":
            return None
        if consume:
            self.i = j + 1
        return int(lo or 0), (int(hi) if hi else None)

    def atom(self):
        c = self.peek()
        self.i += 1
        if c == "(":
            return self.group()
        if c == "[":
            return ("char", self.char_class())
        if c == ".":
            return ("char", _ANY_BUT_NEWLINE)
        if c == "^":
            return ("bol",)
        if c == "$":
            return ("eol", "$")
        if c == "\\":
            return self.escape()
        if c in "*+?":
            self.i -= 1
            self.refuse("a repeat of nothing")
        return ("char", c)

    def group(self):
        if self.peek() == "?":
            ahead = self.p[self.i + 1 : self.i + 3]
            if ahead[:1] == ":":
                self.i += 2
            elif ahead == "P<":
                end = self.p.find(">", self.i)
                if end < 0:
                    self.refuse("an unterminated group name")
                self.i = end + 1
            elif ahead[:1] in ("=", "!") or ahead in ("<=", "<!"):
                self.refuse("lookaround (?=, (?!, (?<=, (?<!)")
            elif ahead == "P=":
                self.refuse("a backreference")
            elif ahead[:1] == ">":
                self.refuse("an atomic group")
            elif ahead[:1] == "(":
                self.refuse("a conditional group")
            elif ahead[:1] == "#":
                self.refuse("a comment")
            else:
                self.refuse("inline flags")
        self.depth += 1
        if self.depth > self.MAX_DEPTH:
            self.refuse(f"nesting groups over {self.MAX_DEPTH} deep")
        node = self.alternation()
        self.depth -= 1
        if self.peek() != ")":
            self.refuse("an unterminated group")
        self.i += 1
        return node

    def escape(self):
        c = self.peek()
        self.i += 1
        if c in _CATEGORIES:
            return ("char", _CharSet(tests=[_CATEGORIES[c]]))
        if c == "A":
            return ("bol",)
        if c == "Z":
            return ("eol", "Z")
        if c in ("b", "B"):
            self.refuse("a word boundary \\b \\B")
        if c.isdigit() and c.isascii():
            self.refuse("a backreference or octal escape")
        return ("char", self.char_escape(c))

    def char_escape(self, c: str) -> str:
        if c in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[c]
        width = {"x": 2, "u": 4, "U": 8}.get(c)
        if width:
            digits = self.p[self.i : self.i + width]
            self.i += width
            try:
                return chr(int(digits, 16))
            except ValueError:
                self.refuse(f"a bad escape \\{c}{digits}")
        if not c or (c.isascii() and c.isalnum()):
            self.refuse(f"the escape \\{c}")
        return c

    def char_class(self) -> _CharSet:
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        start = self.i
        chars, ranges, tests = set(), [], []
        while True:
            c = self.peek()
            if not c:
                self.refuse("an unterminated character class")
            self.i += 1
            if c == "]" and self.i - 1 != start:
                break
            lo = None
            if c == "\\":
                e = self.peek()
                self.i += 1
                if e in _CATEGORIES:
                    tests.append(_CATEGORIES[e])
                    continue
                if e.isdigit() and e.isascii():
                    self.refuse("an octal escape")
                lo = "\b" if e == "b" else self.char_escape(e)
            else:
                lo = c
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                c2 = self.peek()
                self.i += 1
                if c2 == "\\":
                    e = self.peek()
                    self.i += 1
                    hi = "\b" if e == "b" else self.char_escape(e)
                else:
                    hi = c2
                ranges.append((lo, hi))
            else:
                chars.add(lo)
        return _CharSet(chars, ranges, tests, negate)


def _parse_glob(pattern: str):
    """fnmatch's language: ``*`` (anything), ``?`` (one character), ``[seq]``, ``[!seq]``; as
    ``fnmatch.fnmatchcase`` reads it (a ``[`` without its ``]`` is literal, backslash too)."""
    items: list[tuple] = []  # (kind, value, ...) nodes of the pattern, as _parse_regex makes
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            if not (items and items[-1][0] == "rep"):  # ** is *
                items.append(("rep", ("char", _ANY), 0, None))
        elif c == "?":
            items.append(("char", _ANY))
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                items.append(("char", "["))
                continue
            stuff, i = pattern[i:j], j + 1
            negate = stuff.startswith("!")
            body = stuff[1:] if negate else stuff
            chars, ranges, k = set(), [], 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    if body[k] <= body[k + 2]:  # fnmatch drops a reversed range
                        ranges.append((body[k], body[k + 2]))
                    k += 3
                else:
                    chars.add(body[k])
                    k += 1
            items.append(("char", _CharSet(chars, ranges, (), negate)))
        else:
            items.append(("char", c))
    return ("cat", items)


class Pattern:
    """A compiled known-failure pattern. ``search=True``: regex semantics of ``re.search``;
    ``False``: the whole text must match (globs). Matching is linear in the text."""

    def __init__(self, source: str, tree, search: bool) -> None:
        self.source = source
        self.search = search
        self.kind: list[int] = []
        self.arg: list = []  # _CHAR: the predicate (str or _CharSet)
        self.out: list = []  # next state(s)
        self.dollar = False  # has a '$' (it also matches before a final newline)
        match = self._add(_MATCH, None, None)
        self.start = self._emit(tree, match)
        self._closures: dict[int, frozenset[int]] = {}
        self._start_any = self._closure([self.start], at_start=False)
        self.required = _required_literal(tree)
        self._ids: dict[frozenset[int], int] = {}  # the lazily built DFA: subset -> state
        self._sets: list[frozenset[int]] = []
        self._moves: list[dict[str, int]] = []
        self._accepts: list[bool] = []
        self._finals: list[bool | None] = []
        self._reset()

    # -- building
    def _add(self, kind: int, arg, out) -> int:
        if len(self.kind) >= MAX_PATTERN_STATES:
            raise PatternError(
                f"pattern is too large (over {MAX_PATTERN_STATES} states once "
                "repeats are expanded); split it or use fewer/smaller {m,n}"
            )
        self.kind.append(kind)
        self.arg.append(arg)
        self.out.append(out)
        return len(self.kind) - 1

    def _emit(self, node, nxt: int) -> int:
        tag = node[0]
        if tag == "char":
            return self._add(_CHAR, node[1], nxt)
        if tag == "cat":
            for item in reversed(node[1]):
                nxt = self._emit(item, nxt)
            return nxt
        if tag == "alt":
            starts = [self._emit(b, nxt) for b in node[1]]
            first = starts.pop()
            while starts:
                first = self._add(_SPLIT, None, (starts.pop(), first))
            return first
        if tag == "bol":
            return self._add(_BOL, None, nxt)
        if tag == "eol":
            self.dollar = self.dollar or node[1] == "$"
            return self._add(_EOL, node[1], nxt)
        _, body, lo, hi = node  # rep
        if hi is None:
            loop = self._add(_SPLIT, None, None)
            self.out[loop] = (self._emit(body, loop), nxt)
            cur = loop
        else:
            cur = nxt
            for _ in range(hi - lo):
                cur = self._add(_SPLIT, None, (self._emit(body, cur), nxt))
        for _ in range(lo):
            cur = self._emit(body, cur)
        return cur

    # -- running
    def _closure(
        self, seeds, at_start: bool, at_end: bool = False, before_newline: bool = False
    ) -> frozenset[int]:
        """States reachable without reading: character states, MATCH, and (not at the end)
        the end-of-text assertions still waiting. ``before_newline``: just before a final
        newline, where '$' (not \\Z) holds."""
        seen, stack, result = set(), list(seeds), set()
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            kind = self.kind[s]
            if kind == _SPLIT:
                stack.extend(self.out[s])
            elif kind == _BOL:
                if at_start:
                    stack.append(self.out[s])
            elif kind == _EOL:
                if at_end or (before_newline and self.arg[s] == "$"):
                    stack.append(self.out[s])
                else:
                    result.add(s)
            else:
                result.add(s)
        return frozenset(result)

    def _reset(self) -> None:
        """Forget the DFA built so far (cleared in place: ``matches`` holds these lists)."""
        for cache in (self._ids, self._sets, self._moves, self._accepts, self._finals):
            cache.clear()
        self._dead = self._state(frozenset())  # no thread left (only where none can start)
        self._initial = self._state(self._closure([self.start], at_start=True))

    def _state(self, subset: frozenset[int]) -> int:
        found = self._ids.get(subset)
        if found is None:
            found = self._ids[subset] = len(self._sets)
            self._sets.append(subset)
            self._moves.append({})
            self._accepts.append(0 in subset)  # state 0 is MATCH
            self._finals.append(None)
        return found

    def _step(self, state: int, ch: str) -> int:
        nxt = self._advance(self._sets[state], ch)
        if len(self._sets) >= _MAX_DFA_STATES:
            self._reset()
            return self._state(nxt)
        found = self._moves[state][ch] = self._state(nxt)
        return found

    def _advance(self, subset: frozenset[int], ch: str) -> frozenset[int]:
        nxt: set[int] = set()
        for s in subset:
            if self.kind[s] == _CHAR:
                test = self.arg[s]
                if test == ch if type(test) is str else test(ch):
                    out = self.out[s]
                    closed = self._closures.get(out)
                    if closed is None:
                        closed = self._closures[out] = self._closure([out], at_start=False)
                    nxt |= closed
        if self.search:
            nxt |= self._start_any
        return frozenset(nxt)

    def _final(self, state: int, empty: bool) -> bool:
        if empty:
            return 0 in self._closure([self.start], at_start=True, at_end=True)
        final = self._finals[state]
        if final is None:
            final = self._finals[state] = 0 in self._closure(self._sets[state], False, True)
        return final

    def matches(self, text: str) -> bool:
        if self.required and self.required not in text:  # a literal every match contains
            return False
        if self.dollar and text.endswith("\n"):
            return self._matches_before_newline(text)
        state, moves, step = self._initial, self._moves, self._step
        if self.search:
            accepts, can_die = self._accepts, not self._start_any
            for ch in text:
                if accepts[state]:
                    return True
                nxt = moves[state].get(ch)
                state = step(state, ch) if nxt is None else nxt
                if can_die and state == self._dead:
                    return False
        else:
            for ch in text:
                nxt = moves[state].get(ch)
                state = step(state, ch) if nxt is None else nxt
                if state == self._dead:
                    return False
        return self._final(state, not text)

    def _matches_before_newline(self, text: str) -> bool:
        """Python's '$' also matches just before a final newline (test ids have none)."""
        state = self._initial
        for ch in text[:-1]:
            if self._accepts[state] and self.search:
                return True
            nxt = self._moves[state].get(ch)
            state = self._step(state, ch) if nxt is None else nxt
        subset = self._closure(self._sets[state], at_start=len(text) == 1, before_newline=True)
        if self.search and 0 in subset:
            return True
        return self._final(self._state(self._advance(subset, "\n")), False)


def _required_literal(node) -> str:
    """The longest literal text every match of ``node`` contains ('' if none is known)."""
    tag = node[0]
    if tag == "char":
        return node[1] if isinstance(node[1], str) else ""
    if tag == "rep":
        return _required_literal(node[1]) if node[2] >= 1 else ""
    if tag != "cat":
        return ""
    best, run = "", ""
    for item in node[1]:
        if item[0] == "char" and isinstance(item[1], str):
            run += item[1]
            continue
        if item[0] in ("bol", "eol"):  # zero-width: the run goes on
            continue
        inner = _required_literal(item)
        best = max(best, run, inner, key=len)
        run = ""
    return max(best, run, key=len)


def compile_pattern(pattern: str, kind: str = "glob") -> Pattern:
    """``kind="regex"``: Python regex syntax, searched (``re.search``); ``"glob"``: fnmatch,
    whole text. PatternError for a pattern outside the language or the bounds."""
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"pattern is {len(pattern)} characters long; at most {MAX_PATTERN}")
    if kind == "regex":
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            raise PatternError(str(exc)) from None
        return Pattern(pattern, _RegexParser(pattern).parse(), search=True)
    return Pattern(pattern, _parse_glob(pattern), search=False)


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
