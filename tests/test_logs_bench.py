"""The log benchmark's generator (tiny sizes only: the 1 GB run is `nox -s bench`, not a test)."""

from __future__ import annotations

import importlib.util
import json
import os
import sysconfig

import pytest

from tools.bench import logs as log_bench
from tools.bench.logs import (
    TARGET_NOX_RATIO,
    TARGET_SIZE,
    counts_match,
    generate_log,
    generate_phases_log,
    generate_short_lines_log,
    judge,
    main,
    nox_command,
    parse_size,
)
from tools.cli import EXIT_OK, ToolError
from tools.validate_logs import parser as logs
from tools.validate_logs import validate
from tools.validate_logs.report import render_json


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


def test_bench_times_through_nox_beside_in_process(tmp_path, capsys):
    """`nox -s validate_logs -- FILE` timed as a user runs it, on a tiny log: both ratios are
    printed, and below TARGET_SIZE no target decides the exit status."""
    nox, why = nox_command()
    if nox is None:
        pytest.skip(why)
    code = main(["--size", "1M", "--repeat", "1", "--dir", str(tmp_path), "--case", "big"])
    out = capsys.readouterr().out
    assert "x grep in-process" in out and "x grep through nox" in out, out
    assert f"(target <= {TARGET_NOX_RATIO:g}x)" in out
    assert "nox -s validate_logs:" in out and "not judged at 1M" in out
    assert "exit status through nox == in-process (0): yes" in out
    assert code == EXIT_OK


def test_bench_without_nox_says_so_and_still_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(log_bench, "nox_command", lambda: (None, "no nox here"))
    code = main(["--size", "1M", "--repeat", "1", "--dir", str(tmp_path), "--case", "big"])
    out = capsys.readouterr().out
    assert "through nox: no nox here" in out and "not timed through nox" in out
    assert "nox -s validate_logs:" not in out and code == EXIT_OK


def _fake_exe(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_nox_command_fallbacks(tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nox" else find_spec(name, *a)
    )
    nox, why = nox_command({"PATH": ""})
    assert nox is None and "not timed through nox" in why
    on_path = _fake_exe(tmp_path / "bin" / "nox")
    nox, _ = nox_command({"PATH": str(on_path.parent)})
    assert nox is not None and nox.argv == [str(on_path)] and nox.env is None


def test_nox_command_in_the_script_environment_runs_the_users_nox(tmp_path, monkeypatch):
    """Re-executed by nox into .nox/_nox_script_mode (NOX_SCRIPT_MODE=none), the bench times the
    nox on PATH outside it, without the marks of that environment."""
    prefix = tmp_path / ".nox" / "_nox_script_mode"
    _fake_exe(prefix / "bin" / "nox")
    outer = _fake_exe(tmp_path / "user" / "nox")
    monkeypatch.setattr(log_bench.sys, "prefix", str(prefix))
    monkeypatch.setattr(sysconfig, "get_path", lambda name, *a, **k: str(prefix / "bin"))
    environ = {
        "NOX_SCRIPT_MODE": "none",
        "VIRTUAL_ENV": str(prefix),
        "PATH": os.pathsep.join([str(prefix / "bin"), str(outer.parent)]),
        "HOME": str(tmp_path),
    }
    nox, note = nox_command(environ)
    assert nox is not None and nox.script_env and nox.argv == [str(outer)]
    assert nox.env == {"PATH": str(outer.parent), "HOME": str(tmp_path)}
    assert "re-executes" in note
    nox, note = nox_command({**environ, "PATH": str(prefix / "bin")})  # no nox outside it
    assert nox is not None and nox.argv[1:] == ["-m", "nox"] and "not timed" in note


def test_exit_status_rule():
    big = TARGET_SIZE
    assert judge("big", big, 0.5, 30.0, 1.0, True)
    assert not judge("big", big, 0.5, 30.0, TARGET_NOX_RATIO + 0.01, True)
    assert judge("big", big, 0.5, 30.0, None, True)  # no nox found: not timed, not failed
    assert judge("phases", big, 1.5, 30.0, 9.0, True)  # the through-nox target is big's only
    assert not judge("phases", big, 2.5, 30.0, 3.0, True)  # in-process targets: every case
    assert not judge("big", big, 0.5, 120.0, 1.0, True)
    assert judge("big", big - 1, 5.0, 30.0, 50.0, True)  # below TARGET_SIZE: no target applies
    assert not judge("big", big - 1, 0.5, 30.0, 1.0, False)  # counts or exit status differ
