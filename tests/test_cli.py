"""The shared command-line contract: one-line errors, documented exit codes, no tracebacks."""

from __future__ import annotations

import pytest

from tools.cli import EXIT_INTERRUPTED, EXIT_USAGE, ArgumentParser, ToolError, run_main
from tools.text import strip_controls


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
