"""dev_test end to end with the conda-build stand-in: the loop 'dev_build once, then dev_test
until green', --failed-only, --repeat and a changed test section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import dev_build, dev_test
from tools.cli import run_main


@pytest.fixture
def box(session_box):
    return session_box


def run(prog, main, box, capsys, *extra):
    code = run_main(prog, main, [*box.args, *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def build(box, capsys, *extra):
    return run(dev_build.PROG, dev_build.main, box, capsys, *extra)


def run_dev_test(box, capsys, *extra):
    return run(dev_test.PROG, dev_test.main, box, capsys, *extra)


def test_loop_dev_build_once_then_dev_test_until_green(box, capsys, monkeypatch):
    monkeypatch.setenv("CONDA_BUILD_STANDIN_FAIL_TESTS", "all")
    code, out, _ = build(box, capsys, "--tests", "core")
    assert code == 1 and "tests:       FAIL" in out, out
    work = box.croot / "work"
    assert work.is_dir() and any(work.iterdir())

    # The fix is outside the package (here: the failure goes away); only what failed runs.
    monkeypatch.delenv("CONDA_BUILD_STANDIN_FAIL_TESTS")
    code, out, err = run_dev_test(box, capsys, "--failed-only")
    assert code == 0, out + err
    assert "selection: 1 test file(s), 2 test(s)" in out
    log = sorted(box.logs.glob("dev-test-*.log"))[-1].read_text()
    assert "PYTORCH_TEST_SELECTION=" in log and "the selected tests only" in log
    assert "test_torch.py::TestTorch::test_cat PASSED" in log
    assert "test_nn.py::TestNN::test_linear" not in log  # not selected
    assert "fixed: 2" in out and "still failing: 0" in out and "new: 0" in out
    selection = json.loads((box.croot / dev_test.SELECTION_FILE).read_text())
    assert selection["files"] == ["test_torch"]
    assert sorted(selection["tests"]["test_torch"]) == [
        "TestTorch::test_cat",
        "TestTorch::test_view",
    ]
    # conda-build's --test kept dev_build's work dir where the next dev_build looks for it
    assert work.is_dir() and any(work.iterdir())
    code, out, _ = build(box, capsys, "--tests", "core")
    assert code == 0 and "work dir:    reused" in out, out


def test_repeat_lists_the_flaky_test_as_a_known_failures_entry(box, capsys, monkeypatch):
    code, out, _ = build(box, capsys)
    assert code == 0, out
    monkeypatch.setenv("CONDA_BUILD_STANDIN_FLAKY", "test_nn.py::TestNN::test_conv2d")
    code, out, _ = run_dev_test(box, capsys, "--repeat", "4", "--tests", "core")
    assert code == 1, out
    assert out.count("  run ") == 4
    assert "flaky:       1 test(s) failed in some of 4 runs" in out
    snippet = out.split("paste into a known-failures file (fill in each reason):\n", 1)[1]
    assert 'test: "test_nn.py::TestNN::test_conv2d"' in snippet
    assert 'reason: "FILL IN' in snippet
    assert len(list(box.logs.glob("dev-test-*-run*.log"))) == 4


def test_a_changed_test_section_is_refused_and_dev_build_reuses_the_work_dir(box, capsys):
    code, out, _ = build(box, capsys)
    assert code == 0, out
    meta = box.recipe / "meta.yaml"
    meta.write_text(
        meta.read_text().replace(
            "  imports:\n    - torch\n", "  imports:\n    - torch\n    - torch.nn\n", 1
        )
    )
    code, _, err = run_dev_test(box, capsys)
    assert code == 2 and "test section changed" in err and "nox -s dev_build" in err
    code, out, _ = build(box, capsys)
    assert code == 0 and "only meta.yaml's test section changed" in out, out
    code, out, err = run_dev_test(box, capsys)
    assert code == 0, out + err


def test_without_a_dev_build_package_one_line_names_the_command(box, capsys):
    code, _, err = run_dev_test(box, capsys, "--python", "3.12")
    assert code == 2 and err.count("\n") == 1
    assert "make it with: nox -s dev_build -- --python 3.12" in err


def test_failed_only_without_a_validated_log_is_one_line(box, capsys):
    code, out, _ = build(box, capsys, "--no-test")
    assert code == 0, out
    code, _, err = run_dev_test(box, capsys, "--failed-only")
    assert code == 2 and "no validated log" in err
    assert Path(box.croot / "work").is_dir()
