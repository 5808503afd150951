"""Where validate_logs' logs come from: files, directories, .gz, .zip (log_files.zip), stdin.

Every unusable input is a ToolError (exit 2) naming the path and what to do. Reading is streamed:
a log is never held in memory whole.
"""

from __future__ import annotations

import gzip
import stat
import sys
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tools.cli import EXIT_USAGE, ToolError
from tools.text import strip_controls

LOG_SUFFIXES = (".log", ".txt")
ARCHIVE_SUFFIXES = (".gz", ".zip")
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class LogInput:
    """One log to read: a file (maybe gzip), a member of a zip, or stdin."""

    name: str  # shown in reports: the path, "archive.zip!member" ("archive.zip!#2/member" for
    # the second member of that name), or "<stdin>"
    path: Path | None = None
    member: str | None = None  # inside the zip at path
    index: int | None = None  # the member's place in the zip's directory (names can repeat)

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        if self.path is None:
            yield _stdin()
            return
        try:
            if self.member is not None:
                with zipfile.ZipFile(self.path) as zf, self._open_member(zf) as f:
                    yield _maybe_gunzip(f, self.member)
                return
            with open(self.path, "rb") as f:
                yield _maybe_gunzip(f, str(self.path))
        except (zipfile.BadZipFile, zlib.error, gzip.BadGzipFile) as exc:
            raise ToolError(
                f"{self.name} is corrupt ({exc}); re-download or re-create it", EXIT_USAGE
            ) from None
        except PermissionError as exc:
            raise ToolError(
                f"cannot read {self.name}: {exc.strerror or exc}; check its permissions", EXIT_USAGE
            ) from None
        except OSError as exc:
            raise ToolError(f"cannot read {self.name}: {exc.strerror or exc}", EXIT_USAGE) from None

    def _open_member(self, zf: zipfile.ZipFile) -> BinaryIO:
        """The member by its directory entry (by name, a repeated name opens the last one).
        ToolError(2) for what zipfile cannot read: encryption, deflate64 and other methods."""
        infos = zf.infolist()
        info = (
            infos[self.index]
            if self.index is not None and self.index < len(infos)
            else zf.getinfo(self.member or "")
        )
        shown = strip_controls(self.name)
        if info.flag_bits & 0x1:
            raise ToolError(
                f"{shown} is encrypted; extract it with its password and pass the log itself",
                EXIT_USAGE,
            )
        try:
            return zf.open(info)  # type: ignore[return-value]
        except NotImplementedError:  # zipfile: "That compression method is not supported"
            method = ZIP_METHODS.get(info.compress_type, f"method {info.compress_type}")
            raise ToolError(
                f"{shown} is compressed with {method}, which Python's zipfile cannot "
                "read; re-create the zip with deflate, or extract the log and pass "
                "it",
                EXIT_USAGE,
            ) from None
        except RuntimeError as exc:  # encrypted (flag not set?), or bz2/lzma module missing
            raise ToolError(
                f"cannot read {shown}: {strip_controls(str(exc))}", EXIT_USAGE
            ) from None


ZIP_METHODS = {
    9: "deflate64",
    10: "PKWARE implode",
    12: "bzip2",
    14: "LZMA",
    93: "zstd",
    95: "xz",
    98: "PPMd",
    99: "AES encryption",
}


def _stdin() -> BinaryIO:
    """stdin's bytes; ToolError(2) if it is closed (``validate_logs - 0<&-``: sys.stdin is None)."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:
        raise ToolError(
            "stdin is closed: '-' has nothing to read; pipe a log into it, or pass a file",
            EXIT_USAGE,
        )
    return buffer


def _maybe_gunzip(f: BinaryIO, name: str) -> BinaryIO:
    head = f.peek(2)[:2] if hasattr(f, "peek") else b""
    if name.endswith(".gz") or head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def _is_log_name(name: str) -> bool:
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    return lower.endswith(LOG_SUFFIXES)


def _zip_members(path: Path) -> list[LogInput]:
    try:
        with zipfile.ZipFile(path) as zf:
            entries = [(i.filename, k) for k, i in enumerate(zf.infolist()) if not i.is_dir()]
    except zipfile.BadZipFile:
        raise ToolError(
            f"{path} is not a valid zip archive; re-download or re-create it", EXIT_USAGE
        ) from None
    except OSError as exc:
        raise ToolError(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    members = [
        (n, k) for n, k in sorted(entries) if _is_log_name(n) and not n.startswith("__MACOSX/")
    ]
    if not members:
        raise ToolError(
            f"{path} holds no *.log or *.txt files; pass the zip of the build logs", EXIT_USAGE
        )
    seen: dict[str, int] = {}
    inputs = []
    for n, k in members:  # each member by its own entry; a repeated name is told apart
        seen[n] = seen.get(n, 0) + 1
        shown = f"{path}!{n}" if seen[n] == 1 else f"{path}!#{seen[n]}/{n}"
        inputs.append(LogInput(name=shown, path=path, member=n, index=k))
    return inputs


def _looks_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == ZIP_MAGIC
    except OSError:
        return False


def _file_input(path: Path) -> list[LogInput]:
    if _looks_zip(path):
        return _zip_members(path)
    return [LogInput(name=str(path), path=path)]


def collect_inputs(paths: list[str | Path]) -> list[LogInput]:
    """Resolve command-line paths into logs; ToolError(2) for anything unusable."""
    inputs: list[LogInput] = []
    stdin_seen = False
    for raw in paths:
        if str(raw) == "-":
            if stdin_seen:
                raise ToolError("'-' (stdin) given twice; pass it once", EXIT_USAGE)
            _stdin()  # closed: say so before reading anything else
            stdin_seen = True
            inputs.append(LogInput(name="<stdin>"))
            continue
        path = Path(raw)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ToolError(
                f"{path} does not exist; pass a log file, a directory of logs, a .gz or a .zip",
                EXIT_USAGE,
            ) from None
        except OSError as exc:
            raise ToolError(f"cannot access {path}: {exc.strerror or exc}", EXIT_USAGE) from None
        if stat.S_ISDIR(st.st_mode):
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and (_is_log_name(p.name) or p.suffix.lower() == ".zip")
            )
            if not found:
                raise ToolError(
                    f"no logs (*.log, *.txt, their .gz, or .zip) in directory {path}", EXIT_USAGE
                )
            for p in found:
                inputs.extend(_file_input(p))
        elif stat.S_ISREG(st.st_mode):
            inputs.extend(_file_input(path))
        else:
            raise ToolError(
                f"{path} is not a regular file or directory (a FIFO or device?); "
                "save the log to a file or pipe it to '-'",
                EXIT_USAGE,
            )
    return inputs
