"""Making untrusted text (build logs, test output) safe to show on a terminal."""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves), OSC sequences (titles, hyperlinks) ended by BEL or ST,
# other two-byte ESC sequences, and the remaining C0/C1 controls except tab and newline.
_CONTROL_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def strip_controls(text: str) -> str:
    """Return ``text`` without terminal control sequences (ANSI colours, OSC, bare controls).

    Tabs and newlines are kept; a carriage return is dropped, so CRLF becomes LF.
    """
    return _CONTROL_RE.sub("", text)
