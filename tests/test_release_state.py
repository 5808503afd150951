"""The release state file: round trip, atomic replacement, corrupt files treated as empty."""

from __future__ import annotations

import json
import os

import pytest

from tools.release.state import (
    BUILD_FAILED,
    BUILT,
    INTERRUPTED,
    ReleaseState,
    VariantRecord,
    load_state,
    save_state,
    write_atomic,
)


def _state() -> ReleaseState:
    state = ReleaseState("2.5.1")
    state.record(
        VariantRecord(
            "py311-cpu-mkl",
            BUILT,
            0,
            "pass",
            [],
            {"passed": 10},
            12.5,
            "logs/py311-cpu-mkl.log",
            "abc",
        )
    )
    state.record(
        VariantRecord(
            "py312-cpu-mkl",
            BUILD_FAILED,
            1,
            "fail",
            ["no tests"],
            {},
            3.0,
            "logs/py312-cpu-mkl.log",
            "abc",
        )
    )
    state.record(VariantRecord("py313-cpu-mkl", INTERRUPTED, -2))
    return state


def test_round_trip(tmp_path):
    path = tmp_path / "state.json"
    save_state(_state(), path)
    loaded, warning = load_state(path, "2.5.1")
    assert warning is None
    assert loaded == _state()
    assert [r.done for r in loaded.variants.values()] == [True, False, False]


def test_missing_file_is_empty_without_warning(tmp_path):
    state, warning = load_state(tmp_path / "none.json", "2.5.1")
    assert state.variants == {} and warning is None


@pytest.mark.parametrize(
    "content",
    [
        "",  # killed before anything was written (cannot happen with write_atomic, but a user can)
        '{"format": 1, "version": "2.5.1", "variants": {"py311-cpu-mkl": {"name": "py3',
        "[1, 2]",
        '{"format": 1, "version": "2.5.1", "variants": {"a": {"name": "a", "build": "maybe"}}}',
        '{"format": 1, "version": "2.5.1", "variants": {"a": {"name": "b", "build": "built"}}}',
        '{"format": 99, "version": "2.5.1", "variants": {}}',
        "\x00\x01 binary",
    ],
)
def test_corrupt_file_is_reported_and_treated_as_empty(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_text(content)
    state, warning = load_state(path, "2.5.1")
    assert state.variants == {}
    assert warning is not None
    assert "\n" not in warning
    assert str(path) in warning and "treating it as empty" in warning


def test_truncated_real_state_is_corrupt(tmp_path):
    path = tmp_path / "state.json"
    save_state(_state(), path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    state, warning = load_state(path, "2.5.1")
    assert state.variants == {} and "corrupt" in warning


def test_other_version_is_not_reused(tmp_path):
    path = tmp_path / "state.json"
    save_state(_state(), path)
    state, warning = load_state(path, "2.6.0")
    assert state.variants == {} and "2.5.1" in warning


def test_write_atomic_leaves_no_temporary_files_and_replaces(tmp_path):
    path = tmp_path / "sub" / "state.json"
    write_atomic(path, "one")
    write_atomic(path, b"two")
    assert path.read_text() == "two"
    assert os.listdir(path.parent) == ["state.json"]


def test_write_atomic_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    save_state(_state(), path)
    before = path.read_text()

    def boom(*_a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(path, "{}")
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["state.json"]
    assert json.loads(before)["version"] == "2.5.1"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("log", 5, "log is not a string"),
        ("elapsed", "1e400", "elapsed"),  # written as a JSON number below: inf once parsed
        ("elapsed", -3, "elapsed"),
        ("returncode", "0", "returncode"),
        ("verdict", "maybe", "verdict"),
        ("counts", {"passed": -1}, "counts"),
        ("counts", {"passed": True}, "counts"),
        ("reasons", [1, 2], "reasons"),
        ("fingerprint", None, "fingerprint"),
    ],
)
def test_wrong_field_types_make_the_state_empty_with_one_warning(tmp_path, field, value, needle):
    path = tmp_path / "state.json"
    save_state(_state(), path)
    data = json.loads(path.read_text())
    data["variants"]["py311-cpu-mkl"][field] = value
    text = json.dumps(data)
    if value == "1e400":
        text = text.replace('"1e400"', "1e400")
    path.write_text(text)
    state, warning = load_state(path, "2.5.1")
    assert state.variants == {}
    assert warning is not None and "\n" not in warning and needle in warning


def test_markup_in_a_state_value_is_data(tmp_path):
    """A '[...]' that rich would read as markup is kept as text (the report prints it raw)."""
    path = tmp_path / "state.json"
    state = _state()
    state.variants["py312-cpu-mkl"].reasons = ["[bold red]x[/] and [/x]"]
    save_state(state, path)
    loaded, warning = load_state(path, "2.5.1")
    assert warning is None
    assert loaded.variants["py312-cpu-mkl"].reasons == ["[bold red]x[/] and [/x]"]
