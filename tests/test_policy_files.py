"""Bad known-failures and baseline files (issue 9): one line and exit 2, never a traceback; the
``when`` lists; errored tests in --baseline. Each case at unit level and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.cli import ToolError, run_main
from tools.validate_logs import main
from tools.validate_logs.known import KnownFailure, load_baseline, load_known_failures
from tools.validate_logs.policy import Policy, build_report
from tools.validate_logs.results import Counts, LogResult, PhaseResult

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
PASS = FIXTURES / "pass.log"


def cli(argv, capsys):
    code = run_main("nox -s validate_logs --", main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_exit_2(argv, capsys, message):
    code, out, err = cli(argv, capsys)
    assert code == 2, (out, err)
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    return err


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------ known failures


def test_expires_that_is_no_date_is_one_line_exit_2(tmp_path, capsys):
    """Issue 9: `expires: 2026-02-30` looked like a YAML date and crashed the loader."""
    kf = write(tmp_path, "kf.yaml", "- {test: a.py::T::t, reason: r, expires: 2026-02-30}\n")
    with pytest.raises(ToolError) as exc:
        load_known_failures(kf)
    assert "entry 1 (a.py::T::t): 'expires' must be a date YYYY-MM-DD" in exc.value.message
    assert "2026-02-30" in exc.value.message and exc.value.exit_code == 2
    one_line_exit_2([PASS, "--known-failures", kf], capsys, "'expires' must be a date")


def test_valid_expires_forms_still_load(tmp_path):
    kf = write(
        tmp_path,
        "kf.yaml",
        "- {test: a, reason: r, expires: 2026-12-31}\n"
        "- {test: b, reason: r, expires: '2026-12-31'}\n"
        "- {test: c, reason: r, expires: 2026-12-31 10:00:00}\n",
    )
    assert {str(e.expires) for e in load_known_failures(kf)} == {"2026-12-31"}


def test_5000_deep_yaml_is_one_line_exit_2(tmp_path, capsys):
    kf = write(tmp_path, "kf.yaml", "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ToolError, match="nests too deeply"):
        load_known_failures(kf)
    one_line_exit_2([PASS, "--known-failures", kf], capsys, "nests too deeply")


def test_regex_that_would_backtrack_forever_is_accepted_and_fast(tmp_path, capsys):
    kf = write(tmp_path, "kf.yaml", "- {test: 're:(a+)+$', reason: nested quantifiers}\n")
    code, out, _ = cli([PASS, "--known-failures", kf, "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out)["known_failures"]["stale"][0]["test"] == "re:(a+)+$"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{test: 're:(?=a)b', reason: r}", "bad regex 're:(?=a)b': lookaround"),
        ("{test: 're:(a)\\1', reason: r}", "backreference"),
        ("{test: 're:a{101}', reason: r}", "repeat count over 100"),
        ("{test: 're:" + "x" * 1001 + "', reason: r}", "at most 1000"),
        ("{test: '" + "*" * 1001 + "', reason: r}", "bad pattern"),
    ],
)
def test_pattern_outside_the_language_is_one_line_exit_2(tmp_path, capsys, entry, message):
    kf = write(tmp_path, "kf.yaml", f"- {entry}\n")
    with pytest.raises(ToolError, match="entry 1"):
        load_known_failures(kf)
    one_line_exit_2([PASS, "--known-failures", kf], capsys, message)


def test_when_list_means_any_of(tmp_path):
    """Issue 9: `when: {variant: [a, b]}` became the pattern "['a', 'b']"; a list is any of."""
    kf = write(
        tmp_path,
        "kf.yaml",
        "- test: a.py::T::t\n  reason: r\n"
        "  when: {variant: ['*cuda12.6*', '*cuda12.8*'], "
        "platform: [linux-64, win-64]}\n",
    )
    entry = load_known_failures(kf)[0]
    assert entry.variant == ["*cuda12.6*", "*cuda12.8*"]
    assert entry.applies("py311-cuda12.8-mkl", "pytorch", "linux-64")
    assert entry.applies("py311-cuda12.6-mkl", "pytorch", "win-64")
    assert not entry.applies("py311-cpu-mkl", "pytorch", "linux-64")
    assert not entry.applies("py311-cuda12.8-mkl", "pytorch", "osx-arm64")
    assert entry.to_dict()["when"]["variant"] == ["*cuda12.6*", "*cuda12.8*"]


def test_when_list_is_not_the_pattern_its_text_spells(tmp_path):
    kf = write(tmp_path, "kf.yaml", "- {test: a, reason: r, when: {variant: [a, b]}}\n")
    entry = load_known_failures(kf)[0]
    assert entry.applies("a", "pkg", None) and entry.applies("b", "pkg", None)
    assert not entry.applies("['a', 'b']", "pkg", None)


def test_when_list_through_the_cli(tmp_path, capsys):
    kf = write(
        tmp_path,
        "kf.yaml",
        "- test: 'test_nn.py::*'\n  reason: known crash\n  when: {variant: [other, 'seg*']}\n",
    )
    code, out, _ = cli(
        [FIXTURES / "segfault.log", "--known-failures", kf, "--allow-crashes", "--format", "json"],
        capsys,
    )
    data = json.loads(out)
    assert code == 0 and data["known_failures"]["matched"][0]["when"]["variant"] == [
        "other",
        "seg*",
    ]


@pytest.mark.parametrize("value", ["[]", "[[a, b]]", "{a: b}", "['']", "[true]"])
def test_when_values_that_are_no_patterns_are_one_line_exit_2(tmp_path, capsys, value):
    kf = write(tmp_path, "kf.yaml", f"- {{test: a, reason: r, when: {{variant: {value}}}}}\n")
    with pytest.raises(ToolError, match="must be a pattern or a non-empty list of patterns"):
        load_known_failures(kf)
    one_line_exit_2([PASS, "--known-failures", kf], capsys, "'when: variant' must be")


def test_scalar_when_values_are_unchanged():
    entry = KnownFailure(test="a", reason="r", variant="*cuda*")
    assert entry.applies("py311-cuda12.8-mkl", "p", None)


# ------------------------------------------------------------------------------ baseline


def _report(**pkg_overrides) -> dict:
    pkg = {"package": "p", "verdict": "pass", "counts": {"passed": 10, "failed": 0}, "failures": []}
    pkg.update(pkg_overrides)
    return {"schema": 1, "verdict": "pass", "logs": [{"path": "a.log", "packages": [pkg]}]}


WRONG_SHAPES = {
    "counts_a_list": (json.dumps(_report(counts=[1, 2])), "counts is [1, 2], not an object"),
    "nan": (json.dumps(_report(counts={"passed": float("nan")})), "NaN is not a JSON number"),
    "packages_5": (
        json.dumps({"logs": [{"path": "a", "packages": 5}]}),
        "logs[0].packages is 5, not a list",
    ),
    "negative_count": (
        json.dumps(_report(counts={"passed": -3})),
        "counts.passed is -3, not a count",
    ),
    "string_count": (
        json.dumps(_report(counts={"failed": "2"})),
        'counts.failed is "2", not a count',
    ),
    "float_count": (json.dumps(_report(counts={"passed": 1.5})), "not a count"),
    "huge_float": (
        '{"logs": [{"packages": [{"counts": {"passed": 1e400}, "failures": []}]}]}',
        "not a count",
    ),
    "top_level_list": (json.dumps([_report()]), "no 'logs' list"),
    "missing_logs": (json.dumps({"verdict": "pass"}), "no 'logs' list"),
    "missing_packages": (json.dumps({"logs": [{"path": "a"}]}), "has no 'packages' list"),
    "missing_counts": (json.dumps({"logs": [{"packages": [{"failures": []}]}]}), "has no 'counts'"),
    "log_not_object": (json.dumps({"logs": ["a.log"]}), 'logs[0] is "a.log", not an object'),
    "failure_not_object": (json.dumps(_report(failures=["t"])), "failures[0] is"),
    "failures_a_dict": (json.dumps(_report(failures={"t": "failed"})), "not a list"),
    "deep": ("[" * 100000 + "]" * 100000, "nests too deeply"),
}


@pytest.mark.parametrize("case", sorted(WRONG_SHAPES))
def test_wrong_shape_baseline_is_one_line_exit_2(tmp_path, capsys, case):
    text, message = WRONG_SHAPES[case]
    base = write(tmp_path, "base.json", text)
    with pytest.raises(ToolError) as exc:
        load_baseline(base)
    assert message in exc.value.message and exc.value.exit_code == 2
    one_line_exit_2([PASS, "--baseline", base], capsys, message)


def test_a_real_report_is_a_good_baseline(tmp_path, capsys):
    base = tmp_path / "base.json"
    cli([FIXTURES / "many_failures.log", "-o", base], capsys)
    assert load_baseline(base)["logs"]


def test_errored_tests_are_failures_for_the_baseline():
    """Issue 9: REAL_FAILURES said 'errors', failures say 'error': errored tests never reached
    new_failures or fixed."""

    def log(failures):
        phase = PhaseResult(
            package="p",
            ended="end",
            suite_started=True,
            count_lines=1,
            counts=Counts(passed=100, errors=len(failures)),
            failures=failures,
        )
        return LogResult(name="a.log", phases=[phase], bytes_read=1)

    earlier = build_report([log({"a.py::T::old_error": "error"})], Policy()).to_dict()
    assert earlier["logs"][0]["packages"][0]["failures"][0]["outcome"] == "error"
    now = build_report(
        [log({"a.py::T::new_error": "error"})], Policy(baseline=earlier, baseline_path="b.json")
    )
    assert now.baseline["new_failures"] == ["a.py::T::new_error"]
    assert now.baseline["fixed"] == ["a.py::T::old_error"]


ERROR_LOG = """TEST START: /croot/linux-64/pytorch-2.5.1-py311_0.conda
+ python -m pytest test_a.py -v
test_a.py::T::t_ok PASSED [ 50%]
test_a.py::T::{name} ERROR [100%]
==================== 1 passed, 1 error in 0.10s ====================
TEST END: /croot/linux-64/pytorch-2.5.1-py311_0.conda
"""


def test_errored_tests_reach_the_baseline_through_the_cli(tmp_path, capsys):
    old = write(tmp_path, "old.log", ERROR_LOG.format(name="t_old"))
    new = write(tmp_path, "new.log", ERROR_LOG.format(name="t_new"))
    base = tmp_path / "base.json"
    cli([old, "--max-failure-rate", "0.9", "-o", base], capsys)
    assert json.loads(base.read_text())["logs"][0]["packages"][0]["failures"] == [
        {"test": "test_a.py::T::t_old", "outcome": "error"}
    ]
    code, out, _ = cli(
        [new, "--max-failure-rate", "0.9", "--baseline", base, "--format", "json"], capsys
    )
    baseline = json.loads(out)["baseline"]
    assert code == 0
    assert baseline["new_failures"] == ["test_a.py::T::t_new"]
    assert baseline["fixed"] == ["test_a.py::T::t_old"]
