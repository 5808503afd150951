"""The log benchmark's generator (tiny sizes only: the 1 GB run is `nox -s bench`, not a test)."""

from __future__ import annotations

import json

import pytest

from tools import logs
from tools.cli import ToolError
from tools.log_bench import (
    counts_match,
    generate_log,
    generate_phases_log,
    generate_short_lines_log,
    main,
    parse_size,
)
from tools.report import render_json
from tools.validate_logs import validate


def test_parse_size():
    assert parse_size("200M") == 200 << 20
    assert parse_size("1G") == parse_size("1gb") == 1 << 30
    assert parse_size("5000000") == 5_000_000
    for bad in ("lots", "10K"):
        with pytest.raises(ToolError):
            parse_size(bad)


def test_generated_log_is_parsed_to_the_generated_counts(tmp_path):
    path = tmp_path / "bench.log"
    truth = generate_log(path, 3 << 20, packages=2, tests_per_phase=3000, seed=7)
    assert abs(path.stat().st_size - (3 << 20)) < (256 << 10)
    report = validate([path])
    pkgs = report.logs[0].packages
    assert [p.package for p in pkgs] == [t.package for t in truth.packages]
    for pkg, want in zip(pkgs, truth.packages, strict=True):
        assert (pkg.counts.passed, pkg.counts.failed, pkg.counts.skipped, pkg.counts.xfailed) == (
            want.passed,
            want.failed,
            want.skipped,
            want.xfailed,
        )
        assert {f.test for f in pkg.failures} == {t.removeprefix("test/") for t in want.failures}
    assert report.verdict == "pass"  # a few failures, under 1%


@pytest.mark.slow
def test_bench_prints_ratio_and_rss(tmp_path, capsys):
    main(["--size", "2M", "--repeat", "1", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "ratio:" in out and "x grep" in out and "peak RSS:" in out
    for case in ("big", "phases", "short-lines"):
        assert f"== case {case} ==" in out
    assert out.count("counts found == counts generated: yes") == 3
    main(["--size", "2M", "--repeat", "1", "--dir", str(tmp_path), "--case", "phases"])
    out = capsys.readouterr().out
    assert "reusing" in out and "== case big ==" not in out


def test_phases_and_short_lines_logs_are_parsed_to_the_generated_counts(tmp_path, monkeypatch):
    """The two shapes of issue 9 (many tiny phases; a test phase of short lines), small."""
    monkeypatch.setattr(logs, "MAX_PHASES", 5)  # past it, the rest is one merged entry
    phases = generate_phases_log(tmp_path / "p.log", 1 << 20, every=64 << 10)
    assert len(phases.packages) == 16
    short = generate_short_lines_log(tmp_path / "s.log", 1 << 20)
    for name, truth in (("p.log", phases), ("s.log", short)):
        report = validate([tmp_path / name])
        assert report.verdict == "pass", report.logs[0].reasons
        assert counts_match(json.loads(render_json(report)), truth)
