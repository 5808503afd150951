"""The log benchmark's generator (tiny sizes only: the 1 GB run is `nox -s bench`, not a test)."""

from __future__ import annotations

import pytest

from tools.cli import ToolError
from tools.log_bench import generate_log, main, parse_size
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
        assert (pkg.counts.passed, pkg.counts.failed, pkg.counts.skipped, pkg.counts.xfailed) == \
               (want.passed, want.failed, want.skipped, want.xfailed)
        assert {f.test for f in pkg.failures} == {t.removeprefix("test/") for t in want.failures}
    assert report.verdict == "pass"  # a few failures, under 1%


@pytest.mark.slow
def test_bench_prints_ratio_and_rss(tmp_path, capsys):
    main(["--size", "2M", "--repeat", "1", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "ratio:" in out and "x grep" in out and "peak RSS:" in out
    assert "counts found == counts generated: yes" in out
    main(["--size", "2M", "--repeat", "1", "--dir", str(tmp_path)])
    assert "reusing" in capsys.readouterr().out
