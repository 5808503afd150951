"""Real PyTorch test output from public issues and CI logs (tests/fixtures/logs/real/, sources
in SOURCES.md and each .expect.yaml): each fragment, verbatim, against what a careful reader of
it concludes (verdict, whether a process crashed, the failing tests, what a report must name).

The expectations were written by reading the fragments, before validate_logs was run on them.
Fragments have no conda-build framing, so they are read as one test run (``--unframed``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tools.validate_logs import validate

REAL = Path(__file__).parent / "fixtures" / "logs" / "real"
CASES = sorted(p.stem for p in REAL.glob("*.log"))


def test_every_fragment_has_a_sourced_expectation():
    assert len(CASES) >= 20
    for name in CASES:
        text = (REAL / f"{name}.expect.yaml").read_text(encoding="utf-8")
        assert text.startswith("# Source: http"), name
        assert name in (REAL / "SOURCES.md").read_text(encoding="utf-8"), name


@pytest.mark.parametrize("name", CASES)
def test_real_fragment(name):
    want = yaml.safe_load((REAL / f"{name}.expect.yaml").read_text(encoding="utf-8"))
    report = validate([REAL / f"{name}.log"], unframed=not want.get("framed", False))
    (log,) = report.logs
    assert report.verdict == want["verdict"], (log.reasons, [p.reasons for p in log.packages])
    (pkg,) = log.packages
    if "crashed" in want:
        assert pkg.crashed == want["crashed"], (pkg.crashes, pkg.reasons)
    got = {f.test for f in pkg.failures}
    for test in want.get("failures") or []:
        assert test in got, (test, got)
    found = " | ".join(sorted(got) + pkg.reasons + pkg.crashes)
    for text in want.get("reveals") or []:
        assert text in found, (text, found)
