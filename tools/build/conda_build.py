"""Finding and running conda-build: the argv we give it and a logged, interruptible run.

Facts this module builds on are in docs/FACTS.md ("conda-build 26.7"): conda-build writes no log
of its own (we capture stdout and stderr, merged, line by line), ``--no-build-id`` gives the flat
croot layout, and a repo-root ``conda_build_config.yaml`` is only read from the current directory
(so callers pass it with ``-m`` explicitly).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tools.build.progress import Progress
from tools.cli import EXIT_USAGE, ToolError
from tools.paths import REPO_ROOT
from tools.text import strip_controls

INSTALL_HINT = (
    "install it into the base environment: conda install -n base -c conda-forge conda-build "
    "(or pass its path with --conda-build PATH)"
)
# SIGHUP too: the child is in its own session, so a closed terminal would not reach it otherwise.
FORWARDED_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)
)
_POSIX = hasattr(os, "killpg")


def add_conda_build_option(p) -> None:
    """``--conda-build PATH``, the same in every session (the value goes to find_conda_build)."""
    p.add_argument("--conda-build", metavar="PATH", help="conda-build executable (default: PATH)")


def find_conda_build(explicit: str | None = None) -> str:
    """Return the conda-build executable to run, or raise a one-line ToolError (exit 2).

    ``explicit`` (a path given by the user) wins and must be an executable file. Otherwise
    ``conda-build`` is looked up on PATH, then next to ``$CONDA_EXE`` (conda's own bin folder, set
    by ``conda init`` even when the base environment is not active).
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file() or not os.access(path, os.X_OK):
            raise ToolError(
                f"conda-build {explicit!r} is not an executable file; {INSTALL_HINT}", EXIT_USAGE
            )
        return str(path.resolve())
    found = shutil.which("conda-build")
    if found:
        return found
    conda_exe = os.environ.get("CONDA_EXE")
    if conda_exe:
        beside = Path(conda_exe).parent / "conda-build"
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
    raise ToolError(f"conda-build not found on PATH; {INSTALL_HINT}", EXIT_USAGE)


# Variables conda-build reads from its caller's environment that silently change the variant
# (``CONDA_PY`` narrows the python list, ``CONDA_NPY`` overrides numpy: conda-build's
# ``conda_build/variants.py``, ``get_default_variant`` and friends): never inherited.
CONDA_BUILD_OVERRIDES = ("CONDA_PY", "CONDA_NPY")


def child_environment(
    environ: Mapping[str, str], settings: Mapping[str, str], repo_root: Path = REPO_ROOT
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """conda-build's environment, the same for dev_build and release.

    ``environ`` less the recipe's knobs (``tools.recipe.KNOBS``, an inherited one could change
    the build: a stray ``PYTORCH_SKIP_TESTS=1``) and ``CONDA_BUILD_OVERRIDES``, except what
    ``settings`` sets; our repository dropped from ``PYTHONPATH`` (the ``tools`` package must never
    reach PyTorch's setup.py or tests); then ``settings``. Returns (full environment, variables
    set or changed, variables removed).
    """
    from tools.recipe.knobs import KNOBS

    env = dict(environ)
    removed = [k for k in (*CONDA_BUILD_OVERRIDES, *KNOBS) if k in env and k not in settings]
    for k in removed:
        del env[k]
    changed = dict(settings)
    if env.get("PYTHONPATH"):
        root = os.path.normpath(str(repo_root))
        kept = [
            p
            for p in env["PYTHONPATH"].split(os.pathsep)
            if p and os.path.normpath(os.path.abspath(p)) != root
        ]
        if kept != env["PYTHONPATH"].split(os.pathsep):
            if kept:
                changed["PYTHONPATH"] = os.pathsep.join(kept)
            else:
                del env["PYTHONPATH"]
                removed.append("PYTHONPATH")
    env.update(changed)
    return env, changed, sorted(removed)


def build_argv(
    conda_build: str,
    *,
    recipe_dir: str | Path,
    croot: str | Path,
    variant_files: Sequence[str | Path],
    output_folder: str | Path | None = None,
    dirty: bool = False,
    no_build_id: bool = False,
    no_remove_work_dir: bool = False,
    no_test: bool = False,
    extra: Iterable[str] = (),
) -> list[str]:
    """The exact conda-build command line, as a list (never a shell string)."""
    argv = [str(conda_build), str(recipe_dir), "--croot", str(croot)]
    for path in variant_files:
        argv += ["-m", str(path)]
    if output_folder is not None:
        argv += ["--output-folder", str(output_folder)]
    if no_build_id:
        argv.append("--no-build-id")
    if dirty:
        argv.append("--dirty")
    if no_remove_work_dir:
        argv.append("--no-remove-work-dir")
    if no_test:
        argv.append("--no-test")
    argv += [str(x) for x in extra]
    return argv


# The channel this repository's recipe takes its requirements from (compilers, sysroot, MKL,
# CUDA): the solve fails without it. A distribution with its own mirror passes that instead.
RECIPE_CHANNEL = "conda-forge"
# The last lines a failed solve leaves in the log. conda-build 26.7 raises
# DependencyNeedsBuildingError ("Unsatisfiable dependencies for platform linux-64: {'zlib'}") from
# conda_build/environ.py get_install_actions() for the build, host and test environments alike;
# conda's own solvers raise PackagesNotFoundError or UnsatisfiableError.
_SOLVE_FAILURE_RE = re.compile(
    r"(?:DependencyNeedsBuildingError|PackagesNotFoundError|UnsatisfiableError"
    r"|Unsatisfiable dependencies)[^\n]*"
)
_MISSING_RE = re.compile(r"Unsatisfiable dependencies for platform [\w-]+: (\{.*\})")
_TAIL_BYTES = 256 * 1024  # the exception is at the end of the log; never read a huge log whole


def explain_failure(log_path: str | Path, prog: str) -> str | None:
    """One line on why conda-build failed, when its log shows a known cause; else None.

    Today one cause is known: a solve that failed for want of a channel. ``prog`` is the command
    the user runs (``nox -s dev_build --``), so the hint can be pasted as it is.
    """
    try:
        with open(log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - _TAIL_BYTES))
            tail = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    found = _SOLVE_FAILURE_RE.findall(tail)
    if not found:
        return None
    missing = _MISSING_RE.search(found[-1])
    what = f"missing {missing.group(1)}" if missing else found[-1].strip()
    what = strip_controls(what)[:200]
    return (
        f"conda-build could not solve the environment ({what}): the recipe needs the "
        f"{RECIPE_CHANNEL} channel; pass it with `{prog} -- -c {RECIPE_CHANNEL}` or add it "
        f"to your condarc (conda config --add channels {RECIPE_CHANNEL})"
    )


@dataclass
class RunResult:
    returncode: int
    interrupted: bool
    log_path: Path
    elapsed: float
    phases: dict[str, float] = field(default_factory=dict)  # seconds per conda-build phase


_STATUS_EVERY_S = 0.2  # a terminal's status line is redrawn at most this often
_PLAIN_EVERY_S = 60.0  # without a terminal: one progress line a minute at most
_CLEAR = "\r\x1b[2K"


class _StatusLine:
    """The progress line below the streamed output (a terminal), or a line a minute (CI)."""

    def __init__(self, out: TextIO, progress: Progress, label: str) -> None:
        self.out, self.progress, self.label = out, progress, label
        isatty = getattr(out, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.shown = False
        self.last = time.monotonic()

    def before_line(self) -> None:
        if self.shown:
            self.out.write(_CLEAR)
            self.shown = False

    def after_line(self) -> None:
        now = time.monotonic()
        if self.tty:
            if now - self.last >= _STATUS_EVERY_S or not self.shown:
                self.out.write(f"{_CLEAR}[{self.label}] {self.progress.status(now)}")
                self.shown, self.last = True, now
        elif now - self.last >= _PLAIN_EVERY_S:
            self.out.write(f"[{self.label}] {self.progress.status(now)}\n")
            self.last = now

    def close(self) -> None:
        self.before_line()
        self.out.flush()


def run_logged(
    argv: Sequence[str],
    env: Mapping[str, str],
    log_path: str | Path,
    *,
    echo: bool = True,
    out: TextIO | None = None,
    on_start: Callable[[int], None] | None = None,
    label: str = "conda-build",
) -> RunResult:
    """Run ``argv`` with exactly ``env``; stream its merged output to ``log_path`` and the terminal.

    - The log is opened (parents created) before the child starts and gets the raw bytes, flushed
      after every line, so a killed or interrupted run keeps everything printed so far.
    - The terminal copy has control sequences stripped (``tools.text.strip_controls``).
    - The child runs in its own session/process group: a Ctrl-C in the terminal reaches only us,
      and we forward SIGINT/SIGTERM/SIGHUP exactly once per signal to the child's whole group
      (conda-build, bash and the compilers, as a terminal would), then keep reading until the
      child has exited.
      Without the separate group the child would get every Ctrl-C twice (from the terminal and from
      us). stdin is closed for the child: it is not in the foreground group, so it must not read
      the terminal.
    - ``label`` names the run on the progress line (``tools.progress``): on a terminal a status
      line below the output (phase, ninja's [n/N] with rate and ETA, test files), redrawn in
      place; otherwise one line a minute. The log never gets either.
    - ``on_start(pgid)`` is called once the child runs, with its process group (``tools.lock``
      records it, so a killed caller's build is still found by the next run).
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = out if out is not None else sys.stdout
    interrupted = False
    start = time.monotonic()
    progress = Progress(start=start)
    status = _StatusLine(out, progress, label) if echo else None
    with open(log_path, "ab", buffering=0) as log:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=_POSIX,
        )
        if on_start is not None:
            try:
                on_start(proc.pid)  # with start_new_session the child leads its own group
            except BaseException:
                _terminate(proc)
                raise

        def forward(signum: int, _frame: object) -> None:
            nonlocal interrupted
            interrupted = True
            with contextlib.suppress(ProcessLookupError):
                if _POSIX:
                    os.killpg(proc.pid, signum)
                else:  # Windows: no process groups to signal; the child itself only
                    proc.send_signal(signum)

        previous = _install_handlers(forward)
        try:
            assert proc.stdout is not None
            for line in iter(proc.stdout.readline, b""):
                log.write(line)
                text = line.decode("utf-8", errors="replace")
                progress.feed(text)
                if status is not None:
                    status.before_line()
                    out.write(strip_controls(text))
                    status.after_line()
                    out.flush()
            returncode = proc.wait()
        except BaseException:
            # Our own failure (or a second KeyboardInterrupt from a handler we do not own): do not
            # leave the build running unseen.
            _terminate(proc)
            raise
        finally:
            _restore_handlers(previous)
            if status is not None:
                status.close()
            if proc.stdout is not None:
                proc.stdout.close()
    return RunResult(
        returncode=returncode,
        interrupted=interrupted,
        log_path=log_path,
        elapsed=time.monotonic() - start,
        phases=progress.phase_times(),
    )


def _install_handlers(handler) -> dict[int, object]:
    previous: dict[int, object] = {}
    for sig in FORWARDED_SIGNALS:
        # Outside the main thread signals cannot be handled: run without forwarding.
        with contextlib.suppress(ValueError):
            previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_handlers(previous: Mapping[int, object]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)  # type: ignore[arg-type]


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    if not _POSIX:
        proc.kill()
        proc.wait()
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
