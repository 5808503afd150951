"""File operations the suite promises about: work and logs are moved aside, never deleted."""

from __future__ import annotations

import os
from pathlib import Path


def free_name(dest: Path) -> Path:
    """``dest``, or ``dest`` with ``_1``, ``_2``, ... before its suffix: the first that is free."""
    candidate, n = dest, 1
    while candidate.exists() or candidate.is_symlink():
        candidate = dest.with_name(f"{dest.stem}_{n}{dest.suffix}")
        n += 1
    return candidate


def move_aside(path: Path, dest: Path) -> Path:
    """Rename ``path`` to ``dest`` (or a free variant of it) in one step; return where it went.

    Nothing is ever deleted or overwritten. ``dest``'s parent is created; it must be on the same
    file system as ``path`` (a rename, so a build tree of many GB moves instantly).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    final = free_name(dest)
    os.rename(path, final)
    return final


def refuse_file_in_the_way(path: Path, what: str, option: str) -> None:
    """Raise a one-line ToolError when ``path`` or its nearest existing parent is no folder.

    Creates nothing: for checks made before a command may write anything.
    """
    from tools.cli import EXIT_USAGE, ToolError

    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ToolError(
            f"cannot use {path} as {what} ({existing} is not a folder); choose "
            f"another with {option}",
            EXIT_USAGE,
        )


def ensure_writable_dir(path: Path, what: str, option: str) -> Path:
    """Create ``path`` if needed and prove it writable, or raise a one-line ToolError (exit 2).

    A file in the way, a read-only folder, or a place like /proc would otherwise fail later, half
    way through a run, with a traceback. ``what`` names the folder ("the croot") and ``option``
    the option that chooses another ("--croot").
    """
    import tempfile

    from tools.cli import EXIT_USAGE, ToolError

    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ToolError(
            f"cannot use {path} as {what} ({reason}); choose a writable folder with {option}",
            EXIT_USAGE,
        ) from None
    return path
