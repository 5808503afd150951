"""tools.files: moved aside, never deleted; unusable folders refused in one line."""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import pytest

from tools import files
from tools.cli import EXIT_USAGE, ToolError


def test_move_aside_never_overwrites(tmp_path):
    for content in ("one", "two", "three"):
        (tmp_path / "work").mkdir()
        (tmp_path / "work" / "f").write_text(content)
        files.move_aside(tmp_path / "work", tmp_path / "aside" / "work")
    kept = sorted((p / "f").read_text() for p in (tmp_path / "aside").iterdir())
    assert kept == ["one", "three", "two"]
    assert sorted(p.name for p in (tmp_path / "aside").iterdir()) == ["work", "work_1", "work_2"]


def test_free_name_keeps_the_suffix(tmp_path):
    (tmp_path / "a.log").write_text("")
    assert files.free_name(tmp_path / "a.log") == tmp_path / "a_1.log"


def test_a_file_in_the_way_is_refused_without_creating_anything(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ToolError) as err:
        files.refuse_file_in_the_way(tmp_path / "f" / "sub" / "dir", "the croot", "--croot")
    assert err.value.exit_code == EXIT_USAGE and "is not a folder" in err.value.message
    files.refuse_file_in_the_way(tmp_path / "new" / "dir", "the croot", "--croot")
    assert not (tmp_path / "new").exists()


def test_read_only_file_system_is_one_line(tmp_path, monkeypatch):
    def read_only(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(ToolError) as err:
        files.ensure_writable_dir(tmp_path / "c", "the croot", "--croot")
    assert err.value.message == (
        f"cannot use {tmp_path / 'c'} as the croot (Read-only file "
        "system); choose a writable folder with --croot"
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc")
def test_a_folder_under_proc_is_refused():
    with pytest.raises(ToolError):
        files.ensure_writable_dir(Path("/proc/self/croot"), "the croot", "--croot")
