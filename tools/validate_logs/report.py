"""The verdict rendered: terminal (rich), JSON, Markdown and JUnit XML (``RENDERERS``).

The JSON is ``Report.to_dict()`` (tools/validate_logs/results.py), the stable interface used by
scripts and by ``release``. Text from logs is untrusted: control sequences are stripped and each
format escapes what is special to it.
"""

from __future__ import annotations

import html
import io
import json
import re

from tools.text import counts_text, printable
from tools.validate_logs.results import Counts, PackageReport, Report

FIRST_FAILURES = 5  # shown per package in the terminal and Markdown tables


# ---------------------------------------------------------------------------- renderers


_NOT_XML = {0xFFFE: None, 0xFFFF: None}  # valid UTF-8, but not allowed in XML 1.0


def _safe(text: str, limit: int = 200) -> str:
    """One line of untrusted text for every renderer: no control sequences or bidi overrides,
    non-UTF-8 bytes of a file name as ``\\xNN``, nothing XML 1.0 forbids, at most ``limit``."""
    text = printable(str(text)).replace("\n", " ").replace("\t", " ").translate(_NOT_XML)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_COUNT_KEYS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "rerun")


def _counts_line(c: Counts) -> str:
    """``5 passed, 1 failed, 2 skipped``: passed and failed always, the others when not 0."""
    return counts_text(c.to_dict(), _COUNT_KEYS, always=("passed", "failed"))


def _first_failures(pkg: PackageReport, n: int = FIRST_FAILURES) -> list[str]:
    shown = [f"{_safe(f.test, 120)} ({f.outcome})" for f in pkg.failures[:n]]
    more = len(pkg.failures) - n + pkg.failures_truncated
    if more > 0:
        shown.append(f"… and {more} more")
    return shown


def render_summary(report: Report) -> str:
    """A few plain lines (no table): what is printed when the full report goes to --output."""
    out = []
    for log in report.logs:
        out.append(
            f"{_safe(log.path, 150)}: {log.verdict.upper()}"
            + (f" ({'; '.join(_safe(r) for r in log.reasons)})" if log.reasons else "")
        )
        for pkg in log.packages:
            out.append(
                f"  {_safe(pkg.package, 100)}: {pkg.verdict.upper()}: {_counts_line(pkg.counts)}"
            )
            out += [f"    - {_safe(r)}" for r in pkg.reasons]
    out.append(f"verdict: {report.verdict.upper()}")
    return "\n".join(out) + "\n"


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def render_terminal(report: Report, width: int | None = None) -> str:
    """The compact default view: one table per log, one row per package."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    import shutil

    width = width or max(100, shutil.get_terminal_size((120, 24)).columns)
    console = Console(
        file=buf, width=width, force_terminal=False, highlight=False, color_system=None
    )
    style = {"pass": "green", "fail": "bold red", "untested": "yellow"}
    for log in report.logs:
        title = Text(f"{_safe(log.path, 150)}: ")
        title.append(log.verdict.upper(), style=style.get(log.verdict, ""))
        console.print(title)
        for reason in log.reasons:
            console.print(Text(f"  - {_safe(reason)}"))
        if not log.packages:
            continue
        table = Table(show_lines=True, expand=False)
        table.add_column("package", overflow="fold", min_width=20, max_width=40)
        table.add_column("verdict")
        table.add_column("counts", max_width=30)
        table.add_column("first failures", overflow="fold")
        table.add_column("reasons", overflow="fold")
        for pkg in log.packages:
            table.add_row(
                Text(_safe(pkg.package, 100)),
                Text(pkg.verdict.upper(), style=style.get(pkg.verdict, "")),
                Text(_counts_line(pkg.counts)),
                Text("\n".join(_first_failures(pkg)) or "-"),
                Text("\n".join(_safe(r) for r in pkg.reasons) or "-"),
            )
        console.print(table)
    for line in _report_notes(report):
        console.print(Text(line))
    verdict = Text("verdict: ")
    verdict.append(report.verdict.upper(), style=style.get(report.verdict, ""))
    console.print(verdict)
    return buf.getvalue()


def _report_notes(report: Report) -> list[str]:
    notes = [f"- {_safe(r)}" for r in report.reasons]
    kf = report.known_failures or {}
    for entry in kf.get("expired", []):
        notes.append(
            f"- expired known failure (counts again): {_safe(entry['test'])} "
            f"(expired {entry['expires']}): {_safe(entry['reason'])}"
        )
    for entry in kf.get("stale", []):
        notes.append(f"- stale known failure (did not fail; remove it?): {_safe(entry['test'])}")
    if report.baseline:
        b = report.baseline
        notes.append(
            f"- baseline {_safe(b['path'])}: ran {b['ran']} vs {b['baseline_ran']}, "
            f"{len(b['new_failures'])} new failures, {len(b['fixed'])} fixed"
        )
        notes += [f"  new failure: {_safe(t)}" for t in b["new_failures"][:FIRST_FAILURES]]
    return notes


# Characters that Markdown (GitHub's) reads as markup in running text: emphasis, links and
# images, strike-through, table cells, escapes. HTML (<, >, &) is escaped as entities.
_MD_SPECIAL = re.compile(r"([\\*_\[\]~|#])")


def _md_text(text: str, limit: int = 300) -> str:
    """Untrusted text in Markdown running text or a table cell: shown literally (no raw HTML, no
    links or images, no emphasis, no cell break)."""
    text = html.escape(_safe(text, limit).replace("`", "'"), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_code(text: str, limit: int = 300, table: bool = True) -> str:
    """Untrusted text inside a `code span` (literal there, HTML included): no backtick to end it
    early, and in a table no ``|`` to end the cell."""
    text = _safe(text, limit).replace("`", "'")
    return text.replace("|", "\\|") if table else text


def _html_text(text: str, limit: int = 300) -> str:
    """Untrusted text inside an HTML element (``<summary>``): entities, no markup."""
    return html.escape(_safe(text, limit), quote=True)


def render_markdown(report: Report) -> str:
    icon = {"pass": "✅", "fail": "❌", "untested": "⚠️"}
    out = [f"## validate_logs: {icon.get(report.verdict, '')} {report.verdict.upper()}", ""]
    for log in report.logs:
        out.append(
            f"### `{_md_code(log.path, table=False)}`: {icon.get(log.verdict, '')} {log.verdict}"
        )
        out.append("")
        out += [f"- {_md_text(r)}" for r in log.reasons]
        if log.reasons:
            out.append("")
        if log.packages:
            out.append(
                "| package | verdict | passed | failed | errors | skipped | xfailed "
                "| xpassed | rerun | reasons |"
            )
            out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
            for pkg in log.packages:
                c = pkg.counts
                reasons = "<br>".join(_md_text(r) for r in pkg.reasons) or "-"
                out.append(
                    f"| `{_md_code(pkg.package)}` | {icon.get(pkg.verdict, '')} "
                    f"{pkg.verdict} | {c.passed} | {c.failed} | {c.errors} | {c.skipped} "
                    f"| {c.xfailed} | {c.xpassed} | {c.rerun} | {reasons} |"
                )
            out.append("")
            for pkg in log.packages:
                if not pkg.failures:
                    continue
                out.append(
                    f"<details><summary>{_html_text(pkg.package)}: "
                    f"{len(pkg.failures) + pkg.failures_truncated} failing tests</summary>"
                )
                out.append("")
                out += [
                    f"- `{_md_code(f.test, table=False)}` {f.outcome}"
                    + (f" (known: {_md_text(f.known_reason)})" if f.known_reason else "")
                    for f in pkg.failures[:50]
                ]
                if len(pkg.failures) > 50 or pkg.failures_truncated:
                    out.append(f"- … and {len(pkg.failures) - 50 + pkg.failures_truncated} more")
                out += ["", "</details>", ""]
    notes = _report_notes(report)
    if notes:
        out += [_md_note(n) for n in notes]
        out.append("")
    return "\n".join(out) + "\n"


def _md_note(note: str) -> str:
    """A line of ``_report_notes`` (``- text`` or ``  new failure: id``) as Markdown."""
    if note.startswith("- "):
        return "- " + _md_text(note[2:])
    indent = len(note) - len(note.lstrip(" "))
    return " " * indent + _md_text(note[indent:])


def render_junit(report: Report) -> str:
    """JUnit XML: one testsuite per package; failing tests and the package verdict as testcases."""
    import xml.etree.ElementTree as ET  # only this renderer needs it (startup time)

    root = ET.Element("testsuites", name="validate_logs")
    total_f = total_t = 0
    for log in report.logs:
        pkgs = log.packages or [
            PackageReport(package="(no test phase)", verdict=log.verdict, reasons=list(log.reasons))
        ]
        for pkg in pkgs:
            c = pkg.counts
            suite = ET.SubElement(
                root,
                "testsuite",
                name=_safe(f"{log.path}:{pkg.package}", 300),
                tests=str(c.ran + c.skipped + 1),
                failures=str(c.failed),
                errors=str(c.errors),
                skipped=str(c.skipped),
            )
            verdict_case = ET.SubElement(
                suite, "testcase", classname=_safe(pkg.package, 300), name="validate_logs verdict"
            )
            if pkg.verdict != "pass" and (pkg.verdict == "fail" or log.verdict == "fail"):
                reasons = pkg.reasons or log.reasons or [pkg.verdict]
                node = ET.SubElement(
                    verdict_case, "failure", message=_safe("; ".join(reasons), 500)
                )
                node.text = _safe("\n".join(reasons), 5000)
                total_f += 1
            total_t += 1
            for fail in pkg.failures:
                file_part, _, name = fail.test.rpartition("::")
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=_safe(file_part or pkg.package, 300),
                    name=_safe(name or fail.test, 300),
                )
                tag = "error" if fail.outcome in ("error", "crashed") else "failure"
                if fail.outcome in ("flaky", "known"):
                    ET.SubElement(
                        case,
                        "skipped",
                        message=_safe(
                            f"{fail.outcome}: {fail.known_reason or 'passed on retry'}", 300
                        ),
                    )
                else:
                    ET.SubElement(case, tag, message=fail.outcome)
                    total_f += 1
                total_t += 1
    root.set("tests", str(total_t))
    root.set("failures", str(total_f))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


RENDERERS = {
    "json": render_json,
    "markdown": render_markdown,
    "junit": render_junit,
    "terminal": render_terminal,
}
