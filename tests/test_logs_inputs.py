"""Issue 9, the inputs' part: zip members zipfile cannot read and a closed stdin are one line and
exit 2, never a traceback; a zip with two members of one name reads each of them once."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools.cli import EXIT_USAGE, ToolError
from tools.validate_logs import validate
from tools.validate_logs.inputs import collect_inputs

REPO = Path(__file__).resolve().parents[1]


def log_of(package: str, passed: int) -> bytes:
    lines = [
        f"TEST START: /croot/linux-64/{package}.conda",
        "+ python -m pytest test/",
        *[f"test_a.py::T::t{i} PASSED [0.1s] [ 50%]" for i in range(passed)],
        f"= {passed} passed in 1.00s =",
        f"TEST END: /croot/linux-64/{package}.conda",
    ]
    return ("\n".join(lines) + "\n").encode()


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.validate_logs", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        **kw,
    )


def assert_one_line_exit_2(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == EXIT_USAGE, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def patched_zip(path: Path, *, flag_bits: int = 0, method: int | None = None) -> None:
    """A stored one-member zip, then its headers patched: the encryption flag, or a method
    (9 = deflate64) that zipfile cannot read. Python cannot write such zips itself."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("linux-64.log", log_of("pytorch-2.5.1-py311_0", 2))
    data = bytearray(path.read_bytes())
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = data.find(sig)
        assert at >= 0
        flags = int.from_bytes(data[at + flag_at : at + flag_at + 2], "little") | flag_bits
        data[at + flag_at : at + flag_at + 2] = flags.to_bytes(2, "little")
        if method is not None:
            data[at + method_at : at + method_at + 2] = method.to_bytes(2, "little")
    path.write_bytes(bytes(data))


def test_encrypted_zip_member_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "logs.zip"
    patched_zip(path, flag_bits=0x1)
    assert_one_line_exit_2(cli(str(path)), "linux-64.log", "encrypted")


def test_deflate64_zip_member_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "logs.zip"
    patched_zip(path, method=9)
    assert_one_line_exit_2(cli(str(path)), "linux-64.log", "deflate64")
    with pytest.raises(ToolError) as exc:
        validate([path])
    assert exc.value.exit_code == EXIT_USAGE


def test_zip_with_two_members_of_one_name_reads_each_once(tmp_path):
    """zipfile.open(name) opens the last member of that name: the first was never read and the
    last read twice. Each member is now opened by its own directory entry."""
    path = tmp_path / "logs.zip"
    with zipfile.ZipFile(path, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr("linux-64.log", log_of("first-1-0", 3))
        zf.writestr("linux-64.log", log_of("second-1-0", 5))
    inputs = collect_inputs([path])
    assert [i.name for i in inputs] == [f"{path}!linux-64.log", f"{path}!#2/linux-64.log"]
    report = validate([path])
    got = [(log.path, [(p.package, p.counts.passed) for p in log.packages]) for log in report.logs]
    assert got == [
        (f"{path}!linux-64.log", [("first-1-0", 3)]),
        (f"{path}!#2/linux-64.log", [("second-1-0", 5)]),
    ]


def test_closed_stdin_is_one_line_and_exit_2():
    """``validate_logs - 0<&-``: Python starts with sys.stdin None; '-' used to crash on it."""
    proc = cli("-", preexec_fn=lambda: os.close(0))
    assert_one_line_exit_2(proc, "stdin is closed")


def test_closed_stdin_is_a_tool_error_before_anything_is_read(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(ToolError) as exc:
        collect_inputs(["-"])
    assert exc.value.exit_code == EXIT_USAGE and "stdin is closed" in exc.value.message
