"""Known-failure patterns cannot hang a run (issue 9): globs and the regex subset run without
backtracking, agree with fnmatch and re where they are defined, and bad ones are refused."""

from __future__ import annotations

import fnmatch
import re
import time

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tools.validate_logs.known import KnownFailure
from tools.validate_logs.patterns import MAX_PATTERN, PatternError, compile_pattern
from tools.validate_logs.policy import Policy, evaluate_package
from tools.validate_logs.results import Counts, PhaseResult

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(alphabet="ab-]![\\^_1 .\n*", max_size=12)


# ---------------------------------------------------------------------------- no blow-up


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",
        "(a|a)*b",
        "(a|aa)*$",
        "(.*a){12}x",
        "a*a*a*a*a*a*a*a*a*a*b",
        "(a*)*$",
        "^(([a-z])+.)+[A-Z]([a-z])+$",
    ],
)
def test_nested_quantifiers_do_not_hang_on_a_32_character_id(pattern):
    """Issue 9: re:(a+)+$ took minutes on a 32-character id; here each is one pass."""
    compiled = compile_pattern(pattern, "regex")
    start = time.perf_counter()
    for text in ("a" * 32 + "!", "a" * 1000 + "!", "ab" * 500 + "!"):
        compiled.matches(text)
    assert time.perf_counter() - start < 1.0
    assert not compile_pattern("(a+)+$", "regex").matches("a" * 32 + "!")
    assert compile_pattern("(a+)+$", "regex").matches("b" + "a" * 32)


def test_glob_with_many_stars_is_linear():
    compiled = compile_pattern("*a*a*a*a*a*a*a*a*a*a*b")
    start = time.perf_counter()
    assert not compiled.matches("a" * 1000)
    assert compiled.matches("a" * 1000 + "b")
    assert time.perf_counter() - start < 1.0


def test_known_failure_with_nested_quantifiers_through_the_policy():
    entry = KnownFailure(test="re:(a+)+$", reason="evil")
    failures = {"test_x.py::T::" + "a" * 32 + "!": "failed", "test_x.py::T::t_aaa": "failed"}
    phase = PhaseResult(
        package="p",
        ended="end",
        suite_started=True,
        count_lines=1,
        counts=Counts(passed=1000, failed=2),
        failures=failures,
    )
    start = time.perf_counter()
    pkg = evaluate_package(phase, Policy(known_failures=[entry]))
    assert time.perf_counter() - start < 1.0
    assert {f.test.rsplit("::", 1)[1]: f.outcome for f in pkg.failures} == {
        "a" * 32 + "!": "failed",
        "t_aaa": "known",
    }


# ------------------------------------------------------------------ the same answers as re

_ATOMS = st.sampled_from(
    [
        "(?P<g>a|b)",
        "a",
        "b",
        r"\-",
        r"\.",
        ".",
        r"\d",
        r"\w",
        r"\s",
        r"\D",
        r"\W",
        r"\S",
        "[ab]",
        "[^a]",
        "[a-c]",
        "[]a]",
        "[-a]",
        "[a-]",
        r"[\]b]",
        r"[\d_]",
        "^",
        "$",
        r"\A",
        r"\Z",
        "_",
        "!",
        r"\x61",
        "[.]",
    ]
)


def _quantified(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(
        inner,
        st.sampled_from(
            ["*", "+", "?", "{2}", "{1,3}", "{,2}", "{2,}", "*?", "+?", "??", "{0,1}?"]
        ),
    ).map(lambda t: f"(?:{t[0]}){t[1]}")


REGEXES = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + "|".join(xs) + ")"),
        _quantified(inner),
        inner.map(lambda x: f"({x})"),
    ),
    max_leaves=8,
)


@FAST
@given(REGEXES, TEXT)
def test_regex_subset_agrees_with_re_search(pattern, text):
    try:
        re.compile(pattern)
    except re.error:  # e.g. a group name twice: refused as "bad regex" (tested below)
        assume(False)
    assert compile_pattern(pattern, "regex").matches(text) == (
        re.search(pattern, text) is not None
    ), (pattern, text)


@FAST
@given(st.text(alphabet="ab*?[]!-\\^.", max_size=10), TEXT)
def test_globs_agree_with_fnmatchcase(pattern, text):
    assert compile_pattern(pattern).matches(text) == fnmatch.fnmatchcase(text, pattern), (
        pattern,
        text,
    )


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("test_ops\\.py::.*_bfloat16$", "test_ops.py::T::test_add_bfloat16", True),
        ("test_ops\\.py::.*_bfloat16$", "test_ops.py::T::test_add_bfloat16x", False),
        ("^test_nn", "a/test_nn.py", False),
        ("a{,}b", "b", True),
        ("a{", "xa{y", True),
        ("a{x}", "a{x}", True),
        ("[^]a]", "]", False),
        ("\\u00e9t\\u00e9", "été", True),
        ("caf\\xe9", "café", True),
    ],
)
def test_regex_examples(pattern, text, expected):
    assert compile_pattern(pattern, "regex").matches(text) is expected
    assert (re.search(pattern, text) is not None) is expected


# ------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a)\\1", "backreference"),
        ("(?P<x>a)(?P=x)", "backreference"),
        ("(?=a)b", "lookaround"),
        ("(?<!a)b", "lookaround"),
        ("\\bfoo", "word boundary"),
        ("(?i)foo", "inline flags"),
        ("(?>a+)b", "atomic group"),
        ("a*+", "possessive"),
        ("(?#note)a", "comment"),
        ("a{101}", "repeat count over 100"),
        ("(a{100}){100}", "too large"),
        ("(" * 60 + "a" + ")" * 60, "nesting groups"),
        ("x" * (MAX_PATTERN + 1), f"at most {MAX_PATTERN}"),
        ("(", "missing )"),
    ],
)
def test_unsupported_or_too_costly_regexes_are_refused(pattern, message):
    with pytest.raises(PatternError, match=re.escape(message)):
        compile_pattern(pattern, "regex")


def test_too_long_glob_is_refused():
    with pytest.raises(PatternError, match="at most"):
        compile_pattern("*" + "a" * MAX_PATTERN)
