"""The shared command-line contract: one-line errors, documented exit codes, no tracebacks."""

from __future__ import annotations

import errno
import io
import os
import sys

import pytest

from tools.cli import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ArgumentParser,
    ToolError,
    run_main,
    write_stdout,
)
from tools.text import counts_text, duration_text, one_line, printable, strip_controls


def _main_with_parser(argv):
    parser = ArgumentParser(prog="nox -s demo --")
    parser.add_argument("--jobs", type=int)
    args = parser.parse_args(argv)
    return args.jobs or 0


def test_bad_argument_is_one_line_and_exit_2(capsys):
    assert run_main("demo", _main_with_parser, ["--jobs", "many"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("demo: error: argument --jobs: invalid int value")
    assert "Traceback" not in err


def test_help_exits_zero(capsys):
    assert run_main("demo", _main_with_parser, ["--help"]) == 0
    assert "usage: nox -s demo --" in capsys.readouterr().out


def test_tool_error_keeps_its_exit_code(capsys):
    def main(argv):
        raise ToolError("conda-build not found", 3)

    assert run_main("demo", main, []) == 3
    assert capsys.readouterr().err == "demo: error: conda-build not found\n"


def test_keyboard_interrupt_is_130(capsys):
    def main(argv):
        raise KeyboardInterrupt

    assert run_main("demo", main, []) == EXIT_INTERRUPTED


def test_unexpected_exceptions_are_not_swallowed():
    def main(argv):
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        run_main("demo", main, [])


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mFAILED\x1b[0m test_a", "FAILED test_a"),
        ("title\x1b]0;pwned\x07 ok", "title ok"),
        ("link \x1b]8;;http://x\x1b\\text\x1b]8;;\x1b\\", "link text"),
        ("bell\x07 and back\x08space", "bell and backspace"),
        ("crlf line\r\n", "crlf line\n"),
        ("tab\tkept\n", "tab\tkept\n"),
        ("\x9b31m C1 CSI", "31m C1 CSI"),
    ],
)
def test_strip_controls(raw, clean):
    assert strip_controls(raw) == clean


def test_broken_pipe_is_quiet(capsys):
    def main(argv):
        raise BrokenPipeError

    assert run_main("demo", main, []) == 0
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------ issue 9: faults


class _FailingRaw(io.RawIOBase):
    """A file descriptor whose every write fails like ``>/dev/full`` (or another errno)."""

    def __init__(self, err: int) -> None:
        self.err = err
        self.fd = os.open(os.devnull, os.O_WRONLY)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()

    def write(self, data) -> int:
        raise OSError(self.err, os.strerror(self.err))

    def write_fd(self, fd, data) -> int:  # os.write on that descriptor
        raise OSError(self.err, os.strerror(self.err))


def _failing_stdout(err: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BufferedWriter(_FailingRaw(err)), encoding="utf-8")


def _prints(text: str, code: int = 1):
    def main(argv):
        write_stdout(text)
        return code

    return main


def test_stdout_full_is_one_line_and_exit_2(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", _failing_stdout(errno.ENOSPC))
    assert run_main("demo", _prints("report\n"), []) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == "demo: error: cannot write to stdout: No space left on device\n"


def test_stdout_full_at_the_final_flush_is_exit_2(capsys, monkeypatch):
    """A tool that only print()s: the flush run_main does at the end reports the full disk."""
    monkeypatch.setattr(sys, "stdout", _failing_stdout(errno.ENOSPC))

    def main(argv):
        print("table")
        return 0

    assert run_main("demo", main, []) == EXIT_USAGE
    assert "cannot write to stdout" in capsys.readouterr().err


def test_stdout_error_raised_out_of_main_is_exit_2(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", _failing_stdout(errno.EIO))
    monkeypatch.setattr(os, "write", _FailingRaw(errno.EIO).write_fd, raising=True)

    def main(argv):
        sys.stdout.write("x" * 100_000)  # more than the buffer: the write itself fails
        return 0

    assert run_main("demo", main, []) == EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("err", [errno.EPIPE, errno.EBADF])
def test_stdout_gone_is_quiet_and_keeps_the_exit_status(capsys, monkeypatch, err):
    monkeypatch.setattr(sys, "stdout", _failing_stdout(err))
    assert run_main("demo", _prints("report\n", code=1), []) == 1
    assert capsys.readouterr().err == ""


def test_stdout_closed_at_start_is_quiet(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", None)  # what Python sets when started with 1>&-
    assert run_main("demo", _prints("report\n", code=1), []) == 1
    assert capsys.readouterr().err == ""


def test_other_os_errors_are_not_taken_for_stdout():
    def main(argv):
        raise OSError(errno.ENOSPC, "No space left on device", "/elsewhere")

    with pytest.raises(OSError):
        run_main("demo", main, [])


def test_write_stdout_escapes_what_the_encoding_lacks(monkeypatch):
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", out)
    write_stdout("ok ✅\n")
    assert raw.getvalue() == b"ok \\u2705\n"


@pytest.mark.parametrize(
    "evil",
    [
        "\x1b]52;c;cGF3bmVk\x07",  # OSC 52: write the clipboard
        "\x1b]0;owned title\x1b\\",  # OSC 0: window title
        "\x1b[2J\x1b[1;1H",  # CSI: clear screen, move cursor
        "\x9b2J",  # C1 CSI
        "\u202eevil",  # bidi override
        "line\nbreak\r\n",
    ],
)
def test_error_line_strips_control_sequences_for_every_tool(capsys, evil):
    def main(argv):
        raise ToolError(f"cannot read log_files.zip!{evil}.log: bad member")

    assert run_main("demo", main, []) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("demo: error: cannot read log_files.zip!")
    for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
        assert bad not in err
    assert "52;c;" not in err and "owned title" not in err


def test_error_line_shows_non_utf8_names_as_bytes(capsys):
    name = os.fsdecode(b"x-\xff.log")

    def main(argv):
        raise ToolError(f"{name} does not exist")

    assert run_main("demo", main, []) == EXIT_USAGE
    assert capsys.readouterr().err == "demo: error: x-\\xff.log does not exist\n"


def test_one_line_and_printable():
    assert one_line("a\nb\tc\u2028d") == "a b c d"
    assert printable("\udcff\ud800ok") == "\\xff\\ud800ok"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-3, "0s"),
        (59.4, "59s"),
        (61, "1m01s"),
        (3600, "1h00m"),
        (7800, "2h10m"),
        (90061, "25h01m"),
    ],
)
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text


def test_counts_text():
    counts = {"passed": 3, "failed": 1, "xfailed": 2}
    assert counts_text(counts) == "3 passed, 1 failed, 0 errors, 0 skipped"
    assert counts_text({}) == "-"  # no verdict, no counts
    every = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "rerun")
    assert (
        counts_text(counts, every, always=("passed", "failed")) == "3 passed, 1 failed, 2 xfailed"
    )
