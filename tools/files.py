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
