"""The verdict policy: each default gate, its override, the threshold, known failures, baseline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tools.cli import ToolError
from tools.validate_logs.known import KnownFailure, load_baseline, load_known_failures
from tools.validate_logs.policy import (
    GATES,
    Policy,
    build_report,
    evaluate_log,
    evaluate_package,
    gates_table,
)
from tools.validate_logs.results import Counts, LogResult, PhaseResult

TODAY = dt.date(2026, 6, 1)


def ran_phase(**kw) -> PhaseResult:
    base = dict(
        package="pytorch-2.5.1-py311_0",
        ended="end",
        suite_started=True,
        count_lines=1,
        counts=Counts(passed=1000),
    )
    base.update(kw)
    return PhaseResult(**base)


GATE_CASES = [
    ("crashes", ["SIGSEGV in test_nn 1/1"], "allow_crashes", "test process crashed"),
    ("timeouts", ["test_ops 1/1 took more than 30 min"], "allow_timeouts", "timed out"),
    (
        "collection_errors",
        ["error collecting test_x.py"],
        "allow_collection_errors",
        "collection",
    ),
    ("interruptions", ["pytest KeyboardInterrupt"], "allow_interrupted", "interrupted"),
    ("fell_over", ["Missing pip dependency: x"], "allow_fell_over", "fell over"),
    ("ended", "truncated", "allow_truncated", "never finished"),
    ("ended", "tests-failed", "allow_tests_failed", "TESTS FAILED"),
    ("check_failures", ["AssertionError"], "allow_tests_failed", "check failed"),
]


@pytest.mark.parametrize(("field", "value", "allow", "reason"), GATE_CASES)
def test_each_gate_fails_by_default_and_its_option_allows_it(field, value, allow, reason):
    phase = ran_phase(**{field: value})
    report = evaluate_package(phase, Policy())
    assert report.verdict == "fail" and any(reason in r for r in report.reasons)
    allowed = evaluate_package(phase, Policy(allow=frozenset({allow.removeprefix("allow_")})))
    assert allowed.verdict == "pass"
    assert any("allowed by option" in r for r in allowed.reasons)


def test_every_gate_with_a_check_has_a_case_above():
    cases = {c[2].removeprefix("allow_") for c in GATE_CASES}
    assert cases == {g.name for g in GATES if g.check is not None}


def test_readme_table_is_the_gates_table():
    """The README's policy table is generated from GATES (tools/policy.py: gates_table)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert gates_table() in readme


def test_an_unknown_gate_is_refused():
    with pytest.raises(ValueError, match="no such policy gate: crashs"):
        Policy(allow=frozenset({"crashs"}))


def test_suite_without_results_fell_over():
    phase = ran_phase(counts=Counts(), count_lines=0, exceptions=["ImportError: x"])
    report = evaluate_package(phase, Policy())
    assert report.verdict == "fail"
    assert "suite fell over before producing results: ImportError: x" in report.reasons


@pytest.mark.parametrize(
    ("failed", "errors", "rate", "verdict"),
    [
        (10, 0, 0.01, "pass"),  # 10/1010 = 0.99%
        (11, 0, 0.01, "fail"),  # 11/1011 > 1%
        (5, 6, 0.01, "fail"),  # errors count too
        (11, 0, 0.02, "pass"),
        (1, 0, 0.0, "fail"),
    ],
)
def test_failure_threshold(failed, errors, rate, verdict):
    phase = ran_phase(counts=Counts(passed=1000, failed=failed, errors=errors))
    assert evaluate_package(phase, Policy(max_failure_rate=rate)).verdict == verdict


def test_untested_and_nothing_to_test():
    untested = evaluate_package(
        ran_phase(suite_started=False, counts=Counts(), count_lines=0), Policy()
    )
    assert untested.verdict == "untested"
    nothing = evaluate_package(
        ran_phase(ended="nothing-to-test", suite_started=False, counts=Counts(), count_lines=0),
        Policy(),
    )
    assert nothing.verdict == "untested"
    log = LogResult(
        name="x.log",
        phases=[ran_phase(suite_started=False, counts=Counts(), count_lines=0)],
        bytes_read=10,
    )
    assert evaluate_log(log, Policy()).verdict == "fail"
    assert evaluate_log(log, Policy(allow=frozenset({"untested"}))).verdict == "pass"


def test_untested_is_judged_per_log():
    # pytorch ran the suite and passed; the pytorch-cpu metapackage only has import checks.
    suite = ran_phase(counts=Counts(passed=500))
    meta = ran_phase(suite_started=False, counts=Counts(), count_lines=0)
    meta.package = "pytorch-cpu-2.13.0-cpu_mkl_h0_300.conda"
    both = evaluate_log(LogResult(name="v.log", phases=[suite, meta], bytes_read=10), Policy())
    assert [p.verdict for p in both.packages] == ["pass", "untested"]
    assert both.verdict == "pass"
    assert any("no test suite in: pytorch-cpu" in r for r in both.reasons)
    # The same two packages where neither ran the suite: tests did not run.
    idle = ran_phase(suite_started=False, counts=Counts(), count_lines=0)
    neither = evaluate_log(LogResult(name="v.log", phases=[idle, meta], bytes_read=10), Policy())
    assert neither.verdict == "fail"
    assert any(r.startswith("tests did not run") for r in neither.reasons)


def test_log_level_verdicts():
    empty = evaluate_log(LogResult(name="e.log"), Policy(allow=frozenset({"untested"})))
    assert empty.verdict == "fail" and "empty log" in empty.reasons[0]
    nophase = LogResult(name="n.log", bytes_read=100)
    assert evaluate_log(nophase, Policy()).verdict == "fail"
    assert evaluate_log(nophase, Policy(allow=frozenset({"untested"}))).verdict == "pass"
    failed_build = LogResult(name="b.log", bytes_read=100, build_failure="BuildScriptException: x")
    assert evaluate_log(failed_build, Policy(allow=frozenset({"untested"}))).verdict == "fail"


# --------------------------------------------------------------------------- known failures


def write(tmp_path, text, name="kf.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_known_failures_do_not_count_but_are_listed(tmp_path):
    path = write(
        tmp_path,
        """
known_failures:
  - test: test_nn.py::TestNN::test_a
    reason: upstream issue 123
  - test: "test_linalg.py::*_cuda_*"
    reason: flaky on this driver
    when: {variant: "*cuda*"}
  - test: "re:test_ops\\\\.py::.*_bfloat16$"
    reason: bf16 rounding
    expires: 2026-01-01
  - test: test_never.py::T::t
    reason: fixed long ago
""",
    )
    entries = load_known_failures(path)
    assert [e.test for e in entries][0] == "test_nn.py::TestNN::test_a"
    failures = {f"test_x.py::T::t{i}": "failed" for i in range(9)}
    failures.update(
        {
            "test_nn.py::TestNN::test_a": "failed",
            "test_linalg.py::T::test_mm_cuda_float32": "failed",
            "test_ops.py::T::test_add_bfloat16": "failed",
        }
    )
    phase = ran_phase(counts=Counts(passed=1000, failed=12), failures=failures)
    policy = Policy(known_failures=entries, known_failures_path=str(path), today=TODAY)
    log = LogResult(name="logs/py311-cpu-mkl.log", phases=[phase], bytes_read=1)
    report = build_report([log], policy)
    pkg = report.logs[0].packages[0]
    outcomes = {f.test: f.outcome for f in pkg.failures}
    assert outcomes["test_nn.py::TestNN::test_a"] == "known"
    assert outcomes["test_linalg.py::T::test_mm_cuda_float32"] == "failed"  # not a cuda variant
    assert outcomes["test_ops.py::T::test_add_bfloat16"] == "failed"  # expired
    # 12 failed - 1 known = 11 of 1012: over 1%
    assert pkg.verdict == "fail"
    assert "1 known failures not counted" in " ".join(pkg.reasons)
    kf = report.known_failures
    assert [e["test"] for e in kf["expired"]] == ["re:test_ops\\.py::.*_bfloat16$"]
    assert {e["test"] for e in kf["stale"]} == {"test_linalg.py::*_cuda_*", "test_never.py::T::t"}
    assert kf["matched"][0]["count"] == 1


def test_known_failure_when_variant_matches_log_name_and_platform():
    entry = KnownFailure(test="a.py::T::t", reason="r", variant="*cuda*", platform="linux-64")
    assert entry.applies("py311-cuda12.8-mkl", "pytorch-2.5.1", "linux-64")
    assert not entry.applies("py311-cpu-mkl", "pytorch-2.5.1", "linux-64")
    assert not entry.applies("py311-cuda12.8-mkl", "pytorch-2.5.1", "osx-arm64")
    assert not entry.applies("py311-cuda12.8-mkl", "pytorch-2.5.1", None)
    param = KnownFailure(test="a.py::T::t[cpu]", reason="r")
    assert param.matches("a.py::T::t[cpu]")  # exact ids with [] are not character classes


def test_known_failures_excuse_threshold_and_pass(tmp_path):
    entries = load_known_failures(write(tmp_path, "- {test: 'test_x.py::*', reason: known}\n"))
    failures = {f"test_x.py::T::t{i}": "failed" for i in range(50)}
    phase = ran_phase(counts=Counts(passed=1000, failed=50), failures=failures)
    pkg = evaluate_package(phase, Policy(known_failures=entries))
    assert pkg.verdict == "pass" and all(f.outcome == "known" for f in pkg.failures)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("known_failures: [", "not valid YAML at line"),
        ("just a string", "expected a list"),
        ("- test: a.py::T::t\n", "'reason' is required"),
        ("- reason: x\n", "'test' must be"),
        ("- {test: a, reason: b, colour: red}\n", "unknown key(s) colour"),
        ("- {test: a, reason: b, expires: soon}\n", "'expires' must be a date"),
        ("- {test: a, reason: b, when: {os: linux}}\n", "'when' takes"),
        ("- {test: 're:(', reason: b}\n", "bad regex"),
        ("- 42\n", "is not a mapping"),
    ],
)
def test_bad_known_failures_file_is_one_clear_error(tmp_path, text, message):
    with pytest.raises(ToolError) as exc:
        load_known_failures(write(tmp_path, text))
    assert exc.value.exit_code == 2 and message in exc.value.message
    assert "\n" not in exc.value.message


def test_missing_known_failures_file(tmp_path):
    with pytest.raises(ToolError, match="does not exist"):
        load_known_failures(tmp_path / "nope.yaml")


def test_empty_known_failures_file_is_no_entries(tmp_path):
    assert load_known_failures(write(tmp_path, "")) == []


# -------------------------------------------------------------------------------- baseline


def baseline_dict(ran_passed, failing):
    return {
        "verdict": "pass",
        "logs": [
            {
                "path": "a.log",
                "verdict": "pass",
                "packages": [
                    {
                        "package": "p",
                        "verdict": "pass",
                        "counts": {"passed": ran_passed, "failed": len(failing)},
                        "failures": [{"test": t, "outcome": "failed"} for t in failing],
                    }
                ],
            }
        ],
    }


def test_baseline_new_failures_fixed_tests_and_coverage_drop():
    phase = ran_phase(
        counts=Counts(passed=900, failed=2),
        failures={"a.py::T::new": "failed", "a.py::T::old": "failed"},
    )
    log = LogResult(name="a.log", phases=[phase], bytes_read=1)
    policy = Policy(
        baseline=baseline_dict(1000, ["a.py::T::old", "a.py::T::gone"]), baseline_path="base.json"
    )
    report = build_report([log], policy)
    assert report.baseline["new_failures"] == ["a.py::T::new"]
    assert report.baseline["fixed"] == ["a.py::T::gone"]
    assert report.baseline["ran"] == 902 and report.baseline["baseline_ran"] == 1002
    assert report.verdict == "fail" and "coverage dropped" in report.reasons[0]
    policy.max_coverage_drop = 0.2
    assert build_report([log], policy).verdict == "pass"


def test_bad_baseline_files(tmp_path):
    for text, message in [("{", "not a readable JSON report"), ("[]", "no 'logs' list")]:
        path = tmp_path / "b.json"
        path.write_text(text)
        with pytest.raises(ToolError, match=message):
            load_baseline(path)
    with pytest.raises(ToolError, match="does not exist"):
        load_baseline(tmp_path / "missing.json")
