"""Text the suite shows: untrusted text (build logs, test output, file and member names) made
safe to show, and the one rendering of test counts and of durations that every command uses."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

# CSI sequences (colours, cursor moves), OSC sequences (titles, hyperlinks) ended by BEL or ST,
# other two-byte ESC sequences, and the remaining C0/C1 controls except tab and newline.
_CONTROL_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)
# Bidirectional overrides and isolates (they reorder what a terminal or a browser shows).
_BIDI_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Lone surrogates: a non-UTF-8 file name as Python decodes it (b'\xff' -> '\udcff'); no encoder,
# XML or Markdown file can hold them.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def strip_controls(text: str) -> str:
    """Return ``text`` without terminal control sequences (ANSI colours, OSC, bare controls).

    Tabs and newlines are kept; a carriage return is dropped, so CRLF becomes LF.
    """
    return _CONTROL_RE.sub("", text)


def _surrogate(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def escape_surrogates(text: str) -> str:
    """Show the bytes of a non-UTF-8 name as ``\\xff`` (``'\\udcff.log'`` -> ``'\\\\xff.log'``)."""
    return _SURROGATE_RE.sub(_surrogate, text) if _SURROGATE_RE.search(text) else text


def printable(text: str) -> str:
    """``text`` as it may reach a terminal or a report: no control sequences, no bidi
    overrides, non-UTF-8 bytes shown as ``\\xNN``. Tabs and newlines are kept."""
    return escape_surrogates(_BIDI_RE.sub("", strip_controls(text)))


def one_line(text: str) -> str:
    """``printable(text)`` on a single line (newlines and tabs become spaces)."""
    return " ".join(printable(text).replace("\t", " ").splitlines())


# The test counts every summary shows, in this order (validate_logs' Counts has more).
TEST_COUNTS = ("passed", "failed", "errors", "skipped")


def counts_text(
    counts: Mapping[str, int],
    keys: Sequence[str] = TEST_COUNTS,
    *,
    always: Collection[str] | None = None,
    none: str = "-",
) -> str:
    """``3 passed, 1 failed, 0 errors, 0 skipped``: each of ``keys`` with its count (0 if absent).

    A key not in ``always`` (default: every key) is shown only when its count is not 0; ``none``
    stands for no counts at all (an empty mapping: a variant without a verdict).
    """
    if not counts:
        return none
    return ", ".join(
        f"{counts.get(k, 0)} {k}" for k in keys if always is None or k in always or counts.get(k, 0)
    )


def duration_text(seconds: float) -> str:
    """``59s``, ``1m01s``, ``2h10m`` (seconds rounded; below 0 is 0s)."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"
