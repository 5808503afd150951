"""Untrusted text in every output (issue 9): raw HTML and Markdown metacharacters in a PR
comment, non-UTF-8 file names in JUnit XML and Markdown, terminal control sequences."""

from __future__ import annotations

import json
import os
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tools.cli import run_main
from tools.validate_logs import main
from tools.validate_logs.report import (
    render_json,
    render_junit,
    render_markdown,
    render_summary,
    render_terminal,
)
from tools.validate_logs.results import Failure, LogReport, PackageReport, Report

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
EVIL_HTML = [
    '<img src=x onerror="alert(1)">',
    "<script>alert(document.cookie)</script>",
    "![pixel](https://tracker.example/p.png) [click](https://evil.example)",
    "a | b\nc",
    "**bold** _em_ ~~s~~ `code` &lt;entity&gt; \\|",
]
NON_UTF8 = os.fsdecode(b"logs/\xff\xfe-py311.log")  # '\udcff\udcfe' in Python


def evil_report(path: str = "a.log") -> Report:
    pkg = PackageReport(
        package="pytorch<b>-2.5.1|x",
        verdict="fail",
        reasons=list(EVIL_HTML),
        failures=[
            Failure("t.py::T::x<script>", "failed"),
            Failure("t.py::T::k", "known", known_reason="<i>known</i>|"),
        ],
    )
    return Report(
        verdict="fail",
        reasons=["<img onerror=x>"],
        logs=[
            LogReport(path=path, verdict="fail", packages=[pkg], reasons=["<script>log</script>"])
        ],
        known_failures={"stale": [{"test": "<b>stale</b>", "reason": "r"}], "expired": []},
    )


def _lines_outside_code(md: str) -> list[str]:
    """Markdown with the `code spans` removed (their content is literal, HTML included)."""
    out = []
    for line in md.splitlines():
        parts = line.split("`")
        out.append("".join(parts[0::2]))
    return out


def _cell_breaks(row: str) -> int:
    """The |s that GitHub's table parser splits a row at (a backslash escapes the next one)."""
    count, i = 0, 0
    while i < len(row):
        if row[i] == "\\":
            i += 1
        elif row[i] == "|":
            count += 1
        i += 1
    return count


def test_markdown_has_no_raw_html_from_untrusted_text():
    md = render_markdown(evil_report())
    text = "\n".join(_lines_outside_code(md))
    for tag in ("<img", "<script", "<b>", "<i>"):
        assert tag not in text, tag
    assert '&lt;img src=x onerror="alert(1)"&gt;' in md
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in md
    # the HTML the report itself writes is still there
    assert "<details><summary>pytorch&lt;b&gt;-2.5.1|x: 2 failing tests</summary>" in md
    assert "<br>" in md


def test_markdown_escapes_links_images_emphasis_and_cell_breaks():
    md = render_markdown(evil_report())
    row = next(line for line in md.splitlines() if line.startswith("| `pytorch"))
    assert _cell_breaks(row) == 11  # 10 columns, however many | the text has
    assert "\\!\\[pixel\\]" not in row and "!\\[pixel\\](https://tracker" in row
    assert "\\[click\\](https://evil.example)" in row
    assert "\\*\\*bold\\*\\* \\_em\\_ \\~\\~s\\~\\~ 'code' &amp;lt;entity&amp;gt; \\\\\\|" in row
    assert "a \\| b c" in row  # the newline cannot end the row
    assert "| `pytorch<b>-2.5.1\\|x` |" in row  # code span: literal, only | escaped


def test_junit_and_markdown_take_non_utf8_file_names():
    report = evil_report(NON_UTF8)
    xml_text = render_junit(report)
    xml_text.encode("utf-8")  # no lone surrogate left
    root = ET.fromstring(xml_text)
    assert root.find("testsuite").get("name").startswith("logs/\\xff\\xfe-py311.log:")
    md = render_markdown(report)
    md.encode("utf-8")
    assert "### `logs/\\xff\\xfe-py311.log`" in md
    for text in (render_summary(report), render_terminal(report, width=200)):
        text.encode("utf-8")
        assert "\\xff\\xfe-py311.log" in text
    assert json.loads(render_json(report))["logs"][0]["path"] == NON_UTF8  # round-trips


def test_terminal_outputs_strip_osc_and_bidi():
    report = evil_report("x\x1b]52;c;cGF3bmVk\x07\x1b]0;title\x07\x1b[2J\u202e.log")
    for text in (
        render_summary(report),
        render_terminal(report, width=200),
        render_markdown(report),
        render_junit(report),
    ):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "52;c;" not in text


@pytest.mark.skipif(sys.platform != "linux", reason="non-UTF-8 file names need Linux")
def test_non_utf8_file_name_end_to_end(tmp_path, capsys):
    """Issue 9: a log named b'\\xff.log' broke the JUnit XML and --output .md/.xml."""
    log = os.path.join(os.fsencode(tmp_path), b"\xff.log")
    shutil.copy(FIXTURES / "segfault.log", log)
    name = os.fsdecode(log)
    for suffix in (".md", ".xml", ".json"):
        target = tmp_path / f"r{suffix}"
        code = run_main("nox -s validate_logs --", main, [name, "-o", str(target)])
        out, err = capsys.readouterr()
        assert code == 1 and err == "", err
        assert "\\xff.log: FAIL" in out
        text = target.read_text(encoding="utf-8")
        assert "\udcff" not in text
        if suffix == ".xml":
            assert "\\xff.log:" in ET.fromstring(text).find("testsuite").get("name")
        elif suffix == ".md":
            assert "\\xff.log`" in text
        else:
            assert json.loads(text)["logs"][0]["path"] == name
    for fmt in ("junit", "markdown", "terminal"):
        code = run_main("nox -s validate_logs --", main, [name, "--format", fmt])
        out, err = capsys.readouterr()
        assert code == 1 and "\\xff.log" in out and "\udcff" not in out


def test_markdown_from_a_log_with_html_in_its_reasons_end_to_end(tmp_path, capsys):
    log = tmp_path / "evil.log"
    log.write_text(
        "TEST START: /croot/linux-64/pytorch-2.5.1-py311_0.conda\n"
        "+ python -m pytest test_a.py -v\n"
        "test_a.py::T::t PASSED [ 50%]\n"
        "Fatal Python error: <img src=x onerror=alert(1)> | <script>x</script>\n"
    )
    code = run_main("nox -s validate_logs --", main, [str(log), "--format", "markdown"])
    md = capsys.readouterr().out
    assert code == 1 and "Fatal Python error" in md
    assert "<img" not in "\n".join(_lines_outside_code(md))
    assert "<script" not in "\n".join(_lines_outside_code(md))
    assert "&lt;img src=x onerror=alert(1)&gt; \\| &lt;script&gt;" in md
