"""Report data and its renderings: the JSON interface of issue 2, terminal, Markdown, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from tools.validate_logs.report import (
    render_json,
    render_junit,
    render_markdown,
    render_summary,
    render_terminal,
)
from tools.validate_logs.results import Counts, Failure, LogReport, PackageReport, Report


def sample() -> Report:
    bad = PackageReport(
        package="pytorch-2.5.1-py311_0",
        verdict="fail",
        reasons=["test process crashed: SIGSEGV in test_nn 1/1", "evil \x1b[2J|pipe`"],
        counts=Counts(passed=10, failed=2, skipped=1, rerun=1),
        failures=[
            Failure("test_nn.py::T::a", "crashed"),
            Failure("test_nn.py::T::b", "failed"),
            Failure("test_nn.py::T::k", "known", known_reason="issue 1"),
        ],
        crashed=True,
    )
    ok = PackageReport(
        package="libtorch-2.5.1-0",
        verdict="untested",
        reasons=["conda-build: nothing to test for this package"],
    )
    return Report(
        verdict="fail",
        logs=[
            LogReport(path="build_artifacts/logs/py311.log", verdict="fail", packages=[bad, ok]),
            LogReport(path="empty.log", verdict="fail", reasons=["empty log: tests did not run"]),
        ],
    )


def test_to_dict_has_the_issue_2_shape():
    data = json.loads(render_json(sample()))
    assert data["verdict"] == "fail"
    log = data["logs"][0]
    assert set(log) >= {"path", "verdict", "packages"}
    pkg = log["packages"][0]
    assert set(pkg) >= {"package", "verdict", "reasons", "counts", "failures", "crashed"}
    assert set(pkg["counts"]) == {
        "passed",
        "failed",
        "errors",
        "skipped",
        "xfailed",
        "xpassed",
        "rerun",
    }
    assert pkg["failures"][0] == {"test": "test_nn.py::T::a", "outcome": "crashed"}
    assert pkg["failures"][2]["known_reason"] == "issue 1"
    assert pkg["crashed"] is True and pkg["ran"] == 12
    assert log["packages"][1]["verdict"] == "untested"


def test_counts_round_trip_and_ran():
    c = Counts(passed=3, failed=1, errors=1, skipped=5, xfailed=1, xpassed=1, rerun=9)
    assert c.ran == 7
    assert Counts.from_dict(c.to_dict()) == c
    assert Counts.from_dict({"passed": "2", "bogus": 1}).passed == 2


def test_terminal_table_shows_verdicts_failures_and_strips_controls():
    text = render_terminal(sample(), width=160)
    assert "FAIL" in text and "UNTESTED" in text and "test_nn.py::T::a (crashed)" in text
    assert "SIGSEGV" in text and "empty log" in text and "verdict: FAIL" in text
    assert "\x1b" not in text


def test_summary_is_plain_lines():
    text = render_summary(sample())
    assert "pytorch-2.5.1-py311_0: FAIL: 10 passed, 2 failed" in text
    assert text.rstrip().endswith("verdict: FAIL") and "\x1b" not in text


def test_markdown_table_escapes_cells():
    md = render_markdown(sample())
    assert md.startswith("## validate_logs: ")
    assert "| `pytorch-2.5.1-py311_0` | ❌ fail | 10 | 2 | 0 | 1 |" in md
    assert "evil |pipe'" not in md and "evil \\|pipe'" in md
    assert "<details><summary>pytorch-2.5.1-py311_0: 3 failing tests</summary>" in md


def test_junit_is_valid_xml_with_failures():
    root = ET.fromstring(render_junit(sample()))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 3  # two packages + the log without a test phase
    cases = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert cases["validate_logs verdict"].find("failure") is not None
    assert cases["a"].find("error") is not None  # crashed
    assert cases["b"].find("failure") is not None
    assert cases["k"].find("skipped") is not None  # known failure
    assert suites[2].find("testcase/failure").get("message") == "empty log: tests did not run"


def test_junit_survives_characters_xml_forbids():
    report = sample()
    report.logs[0].packages[0].failures.append(Failure("t.py::T::bad\ufffe\x0b\x1b[1m", "failed"))
    report.logs[0].packages[0].reasons.append("bell \x07 and \uffff")
    root = ET.fromstring(render_junit(report))
    assert root.find("testsuite") is not None
