"""What every command of the suite shares: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Callable, Sequence

from tools.text import one_line

EXIT_OK = 0
EXIT_FAIL = 1  # the thing checked failed: a build, a test verdict
EXIT_USAGE = 2  # unusable input: bad option, missing file, missing tool, refused pre-flight
EXIT_INTERRUPTED = 130  # Ctrl-C

# stdout errors that mean "nobody reads this": the reader went away (`| head`) or stdout was
# closed (`1>&-`) or not opened for writing. Output is dropped quietly; the exit status stands.
_STDOUT_GONE = (errno.EPIPE, errno.EBADF)


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


def write_stdout(text: str) -> None:
    """Write ``text`` to stdout and flush it.

    Reader gone (``| head``) or stdout closed (``1>&-``): the text is dropped quietly, and so is
    every later write; the caller's exit status stands. Stdout full or failing (``>/dev/full``):
    ToolError (exit 2). Characters stdout's encoding lacks are written as backslash escapes.
    """
    out = sys.stdout
    if out is None:  # started with fd 1 closed
        return
    try:
        try:
            out.write(text)
        except UnicodeEncodeError:
            encoding = getattr(out, "encoding", None) or "utf-8"
            out.write(text.encode(encoding, "backslashreplace").decode(encoding))
        out.flush()
    except OSError as exc:
        _stdout_failed(exc)


def flush_stdout() -> None:
    """Flush stdout now (as ``write_stdout`` would), so that a full disk is reported while the
    tool can still say so instead of at the interpreter's exit."""
    write_stdout("")


def _stdout_failed(exc: OSError) -> None:
    _silence_stdout()  # the interpreter's final flush must not fail again
    if isinstance(exc, BrokenPipeError) or exc.errno in _STDOUT_GONE:
        return
    raise ToolError(f"cannot write to stdout: {exc.strerror or exc}", EXIT_USAGE) from None


def _stdout_is_broken() -> bool:
    """Whether stdout fails now: an OSError raised out of ``main`` is only taken for stdout's
    if so (flushing fails, or a zero-byte write to its descriptor does, as on /dev/full)."""
    out = sys.stdout
    if out is None:
        return False
    try:
        out.flush()
    except (OSError, ValueError):
        return True
    try:
        fd = out.fileno()
    except (OSError, ValueError, AttributeError):  # not a file (captured output)
        return False
    try:
        os.write(fd, b"")
    except OSError:
        return True
    return False


def _error(line: str) -> None:
    """One line on stderr, stripped of control sequences; a broken stderr is ignored."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(one_line(line), file=sys.stderr, flush=True)


def run_main(prog: str, main: Callable[[Sequence[str]], int], argv: Sequence[str]) -> int:
    """Run ``main(argv)`` and turn every expected failure into an exit code and one stderr line.

    Untrusted text in an error (file and zip-member names) is printed without control sequences.
    Stdout: reader gone or closed -> quiet (BrokenPipe raised out of ``main``: exit 0); full or
    failing -> one line, exit 2.
    """
    try:
        code = main(list(argv))
        flush_stdout()
        return code
    except ToolError as exc:
        _error(f"{prog}: error: {exc.message}")
        return exc.exit_code
    except SystemExit as exc:  # --help and --version exit through argparse
        raw = exc.code
        code = raw if isinstance(raw, int) else (EXIT_OK if raw is None else EXIT_USAGE)
        try:
            flush_stdout()
        except ToolError as err:
            _error(f"{prog}: error: {err.message}")
            return err.exit_code
        return code
    except KeyboardInterrupt:
        _error(f"{prog}: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:
        if not _stdout_is_broken():
            raise  # not about stdout: a bug, shown as one
        try:
            _stdout_failed(exc)
        except ToolError as err:
            _error(f"{prog}: error: {err.message}")
            return err.exit_code
        return EXIT_OK


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
        pass
