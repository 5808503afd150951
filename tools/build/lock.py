"""One dev_build per croot at a time, with a lock that a crashed run does not leave stuck.

The lock file holds the owner's pid, host and process start time, and, once the build has
started, the process group of conda-build (``run_logged`` starts it in a session of its own, so a
``kill -9`` of dev_build or release leaves it running). A lock is stale only when the owner is gone
(no such pid on this host, or the pid now belongs to a newer process) AND no process of that group
is left: then it is taken over with a message. The file is created complete and atomically
(written aside, then hard-linked into place; updates are written aside and renamed over it), so a
concurrent reader never sees a half-written lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from tools.cli import EXIT_USAGE, ToolError


def process_start_time(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def group_alive(pgid: int) -> bool:
    """Whether any process of process group ``pgid`` is left (POSIX; False elsewhere)."""
    if not hasattr(os, "killpg") or pgid <= 1:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Lock:
    path: Path
    owner: dict
    message: str | None = None  # set when a stale lock was taken over

    def record_child(self, pgid: int) -> None:
        """Name the build's process group in the lock, so the lock outlives a killed owner."""
        self.owner = {**self.owner, "child_pgid": pgid}
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.owner))
        os.replace(tmp, self.path)

    def release(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self.path.read_text()).get("pid") == self.owner["pid"]:
                self.path.unlink()

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _owner_is_running(owner: dict) -> bool:
    if owner.get("host") != socket.gethostname():
        return True  # cannot check another host's processes: assume it is running
    child = owner.get("child_pgid")
    if isinstance(child, int) and not isinstance(child, bool) and group_alive(child):
        return True  # the owner may be gone, its build is not
    pid = owner.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return False
    started = owner.get("start_time")
    return started is None or process_start_time(pid) in (None, started)


def acquire(path: str | Path, *, what: str = "dev_build", command: str = "") -> Lock:
    """Take the lock or raise ToolError (exit 2) naming the running owner."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "start_time": process_start_time(os.getpid()),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": command,
    }
    message = None
    for _attempt in range(5):
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(me))
        try:
            os.link(tmp, path)
            return Lock(path, me, message)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        try:
            owner = json.loads(path.read_text())
            if not isinstance(owner, dict):
                raise ValueError
        except FileNotFoundError:
            continue  # released meanwhile: try again
        except (OSError, ValueError):
            owner = {}
        if owner and _owner_is_running(owner):
            where = "" if owner.get("host") == me["host"] else f" on host {owner.get('host')}"
            pid = owner.get("pid")
            child = owner.get("child_pgid")
            if isinstance(pid, int) and not pid_alive(pid) and isinstance(child, int):
                raise ToolError(
                    f"the {what} of pid {pid} (started {owner.get('started')}) is gone, but its "
                    f"conda-build (process group {child}) still runs in {path.parent}; wait for "
                    f"it, or stop it with: kill -TERM -{child}",
                    EXIT_USAGE,
                )
            raise ToolError(
                f"another {what} (pid {pid}{where}, started {owner.get('started')}) "
                f"is using {path.parent}; wait for it to finish or use another --croot "
                f"(if it is gone, delete {path})",
                EXIT_USAGE,
            )
        # Stale: move it aside atomically (only one taker wins the rename), then retry.
        stale = path.with_name(f"{path.name}.stale")
        try:
            os.replace(path, stale)
        except FileNotFoundError:
            continue
        with contextlib.suppress(OSError):
            stale.unlink()
        message = (
            f"took over a stale lock of {what} pid {owner.get('pid', '?')} "
            f"(started {owner.get('started', '?')}), which is no longer running"
        )
    raise ToolError(f"could not take the lock {path}; try again", EXIT_USAGE)
