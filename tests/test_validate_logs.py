"""validate_logs end to end: inputs (files, dirs, .gz, .zip, stdin), outputs, exit codes, errors."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools import paths as repo_paths
from tools import validate_logs
from tools.cli import run_main
from tools.validate_logs import main, validate
from tools.validate_logs.policy import GATES, Policy

FIXTURES = Path(__file__).parent / "fixtures" / "logs"
PASS = FIXTURES / "pass.log"
FAIL = FIXTURES / "segfault.log"
REPO = Path(__file__).resolve().parents[1]


def run(argv, capsys):
    code = run_main("nox -s validate_logs --", main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_codes_and_table(capsys):
    code, out, err = run([PASS], capsys)
    assert code == 0 and "PASS" in out and err == ""
    code, out, _ = run([FAIL], capsys)
    assert code == 1 and "test process crashed" in out
    code, out, _ = run([PASS, FAIL], capsys)
    assert code == 1 and "verdict: FAIL" in out


def test_json_to_stdout_and_to_file(tmp_path, capsys):
    code, out, _ = run([FAIL, "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "fail"
    assert data["logs"][0]["packages"][0]["crashed"] is True
    target = tmp_path / "r.json"
    code, out, _ = run(["--output", target, PASS], capsys)
    assert code == 0 and json.loads(target.read_text())["verdict"] == "pass"
    assert f"report written to {target} (json)" in out


def test_output_format_follows_suffix_unless_given(tmp_path, capsys):
    run([FAIL, "-o", tmp_path / "r.md"], capsys)
    assert (tmp_path / "r.md").read_text().startswith("## validate_logs: ")
    run([FAIL, "-o", tmp_path / "r.xml"], capsys)
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")
    run([FAIL, "--format", "junit", "-o", tmp_path / "r.txt"], capsys)
    assert "<testsuites" in (tmp_path / "r.txt").read_text()


def test_github_step_summary_gets_markdown_appended(tmp_path, capsys, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run([PASS], capsys)
    run([FAIL], capsys)
    text = summary.read_text()
    assert text.startswith("earlier step\n") and text.count("## validate_logs:") == 2


def test_directory_gz_and_zip_inputs(tmp_path):
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    shutil.copy(PASS, logs / "a.log")
    shutil.copy(FAIL, logs / "sub" / "b.txt")
    (logs / "notes.md").write_text("not a log")
    with gzip.open(logs / "c.log.gz", "wb") as f:
        f.write(PASS.read_bytes())
    with zipfile.ZipFile(tmp_path / "log_files.zip", "w") as z:
        z.write(PASS, "py311/pass.log")
        z.write(FAIL, "py312/segfault.log")
        z.writestr("readme.md", "ignored")
    report = validate([logs, tmp_path / "log_files.zip"])
    names = [Path(log.path.replace("!", "/")).name for log in report.logs]
    assert names == ["a.log", "c.log.gz", "b.txt", "pass.log", "segfault.log"]
    assert [log.verdict for log in report.logs] == ["pass", "pass", "fail", "pass", "fail"]
    assert report.logs[3].path.endswith("log_files.zip!py311/pass.log")


def test_gzip_without_suffix_and_truncated_gzip(tmp_path):
    blob = gzip.compress(FAIL.read_bytes())
    (tmp_path / "x.log").write_bytes(blob)
    assert validate([tmp_path / "x.log"]).logs[0].packages[0].crashed
    (tmp_path / "cut.log.gz").write_bytes(blob[: len(blob) // 2])
    log = validate([tmp_path / "cut.log.gz"]).logs[0]
    assert log.verdict == "fail" and "compressed log ends early" in log.reasons[0]


def test_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PASS.read_bytes())))
    code, out, _ = run(["-"], capsys)
    assert code == 0 and "<stdin>: PASS" in out
    code, _, err = run(["-", "-"], capsys)
    assert code == 2 and "given twice" in err


def test_unframed_option(tmp_path, capsys):
    ci = tmp_path / "ci.log"
    ci.write_text("test_a.py::T::t PASSED [0.1s] [100%]\n==== 1 passed in 0.1s ====\n")
    assert run([ci], capsys)[0] == 1  # no test phase
    code, out, _ = run([ci, "--unframed"], capsys)
    assert code == 0 and "1 passed" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.log", "does not exist"),
        (lambda p: (p / "d").mkdir() or p / "d", "no logs"),
        (lambda p: _zip(p / "e.zip", {"readme.md": "x"}), "holds no *.log or *.txt"),
        (lambda p: _write(p / "bad.zip", b"PK\x03\x04 not really"), "not a valid zip"),
        (lambda p: _write(p / "bin.log", bytes(range(256)) * 64), "binary file"),
        (lambda p: _write(p / "bad.gz", b"\x1f\x8b\x08garbage" * 10), "corrupt"),
        (lambda p: _write(p / "flipped.gz", _flip(gzip.compress(PASS.read_bytes()))), "corrupt"),
        (lambda p: _fifo(p / "fifo.log"), "not a regular file"),
    ],
)
def test_unusable_input_is_exit_2_with_one_line(tmp_path, capsys, make, message):
    path = make(tmp_path)
    code, out, err = run([path], capsys)
    assert code == 2, out
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def _flip(blob: bytes) -> bytes:
    mid = len(blob) // 2
    return blob[:mid] + bytes(b ^ 0xFF for b in blob[mid : mid + 64]) + blob[mid + 64 :]


def _write(path, data):
    path.write_bytes(data)
    return path


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return path


def _fifo(path):
    os.mkfifo(path)
    return path


def test_unreadable_file(tmp_path, capsys, monkeypatch):
    log = _write(tmp_path / "secret.log", PASS.read_bytes())

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(validate_logs.cli, "open", deny, raising=False)
    monkeypatch.setattr("tools.validate_logs.inputs.open", deny, raising=False)
    code, _, err = run([log], capsys)
    assert code == 2 and "cannot read" in err and "Permission denied" in err


def test_empty_file_fails_with_a_reason(tmp_path, capsys):
    code, out, _ = run([_write(tmp_path / "empty.log", b"")], capsys)
    assert code == 1 and "empty log" in out


def test_ten_megabyte_single_line_file(tmp_path, capsys):
    log = _write(tmp_path / "one.log", b"x" * (10 << 20))
    code, out, _ = run([log], capsys)
    assert code == 1 and "no test phase" in out


def test_default_path_is_build_artifacts_logs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(repo_paths, "LOGS_DIR", tmp_path / "logs")
    code, _, err = run([], capsys)
    assert code == 2 and "no logs under" in err
    (tmp_path / "logs").mkdir()
    shutil.copy(PASS, tmp_path / "logs" / "py311-cpu-mkl.log")
    code, out, _ = run([], capsys)
    assert code == 0 and "py311-cpu-mkl.log: PASS" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-failure-rate", "lots"], "not a fraction"),
        (["--max-failure-rate", "150%"], "not between 0 and 1"),
        (["--format", "yaml"], "invalid choice"),
        (["--known-failures"], "expected one argument"),
    ],
)
def test_bad_options_are_exit_2(argv, message, capsys):
    code, _, err = run([PASS, *argv], capsys)
    assert code == 2 and message in err and err.count("\n") == 1


def test_policy_options_reach_the_policy(tmp_path, capsys):
    kf = _write(tmp_path / "kf.yaml", b"- {test: 'test_nn.py::*', reason: known crash}\n")
    args = validate_logs.build_parser().parse_args(
        [
            "--allow-crashes",
            "--allow-timeouts",
            "--allow-collection-errors",
            "--allow-interrupted",
            "--allow-fell-over",
            "--allow-truncated",
            "--allow-tests-failed",
            "--allow-untested",
            "--max-failure-rate",
            "2%",
            "--known-failures",
            str(kf),
            "--variant",
            "v",
            "--platform",
            "linux-64",
        ]
    )
    policy = validate_logs.policy_from_args(args)
    assert policy.allow == {g.name for g in GATES}  # every gate has its option
    assert policy.max_failure_rate == pytest.approx(0.02) and policy.platform == "linux-64"
    assert policy.known_failures[0].reason == "known crash"
    code, _, _ = run([FAIL, "--allow-crashes", "--known-failures", kf], capsys)
    assert code == 0


def test_bad_known_failures_file_is_exit_2(tmp_path, capsys):
    kf = _write(tmp_path / "kf.yaml", b"- test: a\n")
    code, _, err = run([PASS, "--known-failures", kf], capsys)
    assert code == 2 and "'reason' is required" in err and err.count("\n") == 1


def test_baseline_from_an_earlier_report(tmp_path, capsys):
    base = tmp_path / "base.json"
    run([FIXTURES / "few_failures.log", "-o", base], capsys)
    code, out, _ = run([PASS, "--baseline", base], capsys)
    assert code == 1 and "coverage dropped" in out
    code, _, _ = run([PASS, "--baseline", base, "--max-coverage-drop", "0.9"], capsys)
    assert code == 0


def test_validate_api_for_other_modules():
    report = validate([str(FAIL)], Policy(allow=frozenset({"crashes"}), max_failure_rate=0.5))
    data = report.to_dict()
    assert data["verdict"] == report.verdict == "pass"
    assert data["logs"][0]["packages"][0]["crashed"] is True


@pytest.mark.slow
def test_end_to_end_through_nox(tmp_path):
    """The issue's 'done when': nox -s validate_logs -- --format json --output r.json some.log."""
    nox = shutil.which("nox")
    if nox is None:
        pytest.skip("nox is not on PATH")
    target = tmp_path / "r.json"
    proc = subprocess.run(
        [
            nox,
            "-f",
            str(REPO / "noxfile.py"),
            "-s",
            "validate_logs",
            "--",
            "--format",
            "json",
            "--output",
            str(target),
            str(FIXTURES / "many_failures.log"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    data = json.loads(target.read_text())
    assert data["verdict"] == "fail"
    assert data["logs"][0]["packages"][0]["counts"]["failed"] == 6
    proc = subprocess.run(
        [
            nox,
            "-f",
            str(REPO / "noxfile.py"),
            "-s",
            "validate_logs",
            "--",
            str(tmp_path / "missing.log"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_python_dash_m_entry_point(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tools.validate_logs", str(PASS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "verdict: PASS" in proc.stdout


# ------------------------------------------------------------ issue 9: stdout, error lines


def _python_m(args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "tools.validate_logs", *map(str, args)],
        cwd=REPO,
        capture_output="stdout" not in kwargs,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_full_is_one_line_and_exit_2():
    with open("/dev/full", "w") as full:
        proc = _python_m([PASS], stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        "python -m tools.validate_logs: error: cannot write to stdout: No space left on device\n"
    )


@pytest.mark.parametrize(("log", "verdict"), [(PASS, 0), (FAIL, 1)])
def test_stdout_closed_keeps_the_verdict_quietly(log, verdict):
    proc = _python_m(
        [log], stdout=None, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1)
    )  # 1>&-
    assert proc.returncode == verdict and proc.stderr == ""


@pytest.mark.parametrize(("log", "verdict"), [(PASS, 0), (FAIL, 1)])
def test_reader_gone_keeps_the_verdict_quietly(log, verdict):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head -c1` that has already exited
    try:
        proc = _python_m([log, "--format", "json"], stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    assert proc.returncode == verdict and proc.stderr == ""


def test_stdout_full_in_process(capsys, monkeypatch):
    import errno

    class Full(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BufferedWriter(Full())))
    code, _, err = run([PASS], capsys)
    assert code == 2 and err.endswith("cannot write to stdout: No space left on device\n")


def test_stdout_closed_in_process(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", None)
    assert run_main("nox -s validate_logs --", main, [str(FAIL)]) == 1
    assert capsys.readouterr().err == ""


def test_error_line_with_terminal_escapes_in_a_path(tmp_path, capsys):
    evil = str(tmp_path / "x\x1b]52;c;cGF3bmVk\x07\x1b]0;title\x07\x1b[2J.log")
    code, _, err = run([evil], capsys)
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    assert "\x1b" not in err and "\x07" not in err and "52;c;" not in err


def test_error_line_with_terminal_escapes_in_a_zip_member(tmp_path, capsys):
    member = "py311\x1b]52;c;cGF3bmVk\x07\x1b[31m.log"
    archive = _zip(tmp_path / "logs.zip", {member: bytes(range(256)) * 64})
    code, _, err = run([archive], capsys)
    assert code == 2 and err.count("\n") == 1 and "logs.zip" in err
    assert "\x1b" not in err and "\x07" not in err and "52;c;" not in err


def test_report_path_with_escapes_is_printed_clean(tmp_path, capsys):
    target = tmp_path / "r\x1b[2J.json"
    code, out, _ = run([PASS, "-o", target], capsys)
    assert code == 0 and target.exists() and "\x1b" not in out and "report written to" in out
