"""What every command of the suite shares: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

EXIT_OK = 0
EXIT_FAIL = 1  # the thing checked failed: a build, a test verdict
EXIT_USAGE = 2  # unusable input: bad option, missing file, missing tool, refused pre-flight
EXIT_INTERRUPTED = 130  # Ctrl-C


class ToolError(Exception):
    """An error the user can act on: shown as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad argument as a ToolError instead of exiting the process."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ToolError(f"{message} (try: {self.prog} --help)", EXIT_USAGE)


def run_main(prog: str, main: Callable[[Sequence[str]], int], argv: Sequence[str]) -> int:
    """Run ``main(argv)`` and turn every expected failure into an exit code and one stderr line."""
    try:
        return main(list(argv))
    except ToolError as exc:
        print(f"{prog}: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # --help and --version exit through argparse
        code = exc.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        _silence_stdout()
        return EXIT_OK


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (captured output)
        pass
