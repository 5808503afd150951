"""Every rule of tools.validate_logs.rules.RULES claims its own example lines, through
``classify``, the same function the parser uses. The examples live with the rules (adding a
format is one edit there); where each format comes from is cited beside the rules and in
docs/FACTS.md."""

from __future__ import annotations

import pytest

from tools.validate_logs.parser import _START_ONLY, PHASE_MARKERS, LogParser
from tools.validate_logs.phase import PhaseState
from tools.validate_logs.rules import _PREFILTER, _TAIL_RULES, RULES, classify

EXAMPLES = [(rule.name, line, groups) for rule in RULES for line, groups in rule.examples]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(EXAMPLES)]


@pytest.mark.parametrize(("name", "line", "groups"), EXAMPLES, ids=IDS)
def test_rule_claims_its_example(name, line, groups):
    hit = classify(line)
    assert hit is not None, f"no rule claims {line!r}"
    rule, m, _ = hit
    assert rule.name == name, f"claimed by {rule.name}"
    for key, value in groups.items():
        assert m[key] == value


@pytest.mark.parametrize(("name", "line", "groups"), EXAMPLES, ids=IDS)
def test_rule_survives_noise(name, line, groups):
    """CI time stamps (GitHub Actions, CircleCI, bracketed), ANSI colours, CRLF and a paste's
    indentation do not change which rule claims a line."""
    for noisy in (
        f"2025-08-01T17:19:12.4224458Z \x1b[1m{line}\x1b[0m\r",
        f"Jul 06 09:41:22 {line}",
        f"[2023-01-01T10:00:00.000Z] {line}",
        f"    {line}",
    ):
        hit = classify(noisy)
        assert hit is not None and hit[0].name == name, (noisy, hit and hit[0].name)
        for key, value in groups.items():
            assert hit[1][key] == value


def test_every_rule_has_an_example():
    assert [r.name for r in RULES if not r.examples] == []


def test_rule_names_are_unique_and_kinds_have_handlers():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    framing = {"phase_start", "phase_end", "phase_nothing", "phase_failed", "build_start"}
    for rule in RULES:
        assert rule.kind in framing or hasattr(PhaseState, f"_on_{rule.kind}"), rule.name
    assert hasattr(LogParser, "_event")


def test_test_start_is_the_first_rule():
    # the parser classifies a TEST START line by RULES[0] alone where that matches
    # (parser._START_ONLY): no rule may come before it
    (start,) = [i for i, r in enumerate(RULES) if r.kind == "phase_start"]
    assert start == 0 and {start} == _START_ONLY
    assert RULES[0].keyword == PHASE_MARKERS[0].decode()


def test_keywords_are_flat_literals():
    # the prefilter joins keywords into one flat alternation: groups would break it
    for rule in RULES:
        assert "(?" not in rule.keyword and "(" not in rule.keyword.replace("\\(", ""), rule.name


@pytest.mark.parametrize(
    "line",
    [
        "[1/3] c++ -O3 -DNDEBUG -c $SRC_DIR/aten/src/ATen/native/cpu/Activation.cpp",
        "test_nn.py::TestNN::test_x PASSED [0.1194s]   [  0%]",
        "compiled 5 files in 2.0s",  # looks like a count line, is not pytest's
        "Uploading artifacts took 0.26 seconds",
        '  File "/x/torch/nn/functional.py", line 2546, in batch_norm',  # a traceback frame
        "_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _",
        "Traceback (most recent call last):",
        "test_jit.py failed! see above",  # not run_test.py's "<file> failed!" (a .py name)
    ],
)
def test_noise_lines_claim_no_event(line):
    hit = classify(line)
    assert hit is None or hit[0].kind in ("result", "exception"), hit and hit[0].name


def test_prefilter_lets_every_example_through_or_it_is_a_line_end_rule():
    for name, line, _ in EXAMPLES:
        if name not in _TAIL_RULES:
            assert _PREFILTER.search(line.encode()), name
