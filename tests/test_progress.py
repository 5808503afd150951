"""Progress while building: phases from conda-build's own lines, ninja's [n/N], run_test.py."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from tools.build import conda_build
from tools.build.progress import Progress, summarize

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "conda-build" / "logs"


@pytest.mark.skipif(not (CORPUS / "toy_01_first.log").is_file(), reason="corpus not present")
def test_phases_of_a_real_conda_build_log_in_order():
    """One line a second through the real conda-build 26.7.1 log of a build and its test."""
    p = Progress(start=0.0)
    seen = []
    for i, line in enumerate((CORPUS / "toy_01_first.log").read_text().splitlines()):
        p.feed(line, now=float(i))
        if not seen or seen[-1] != p.phase:
            seen.append(p.phase)
    assert seen == ["render", "source", "build", "package", "test"]  # from the first line on
    times = p.phase_times(now=500.0)
    assert list(times) == ["render", "source", "build", "package", "test"]
    assert all(t > 0 for t in times.values())


def test_ninja_progress_rate_and_eta():
    p = Progress(start=0.0)
    p.feed("export PREFIX=/x", now=1.0)
    for step in range(0, 101, 10):  # 10 steps every 6 s: 100/min
        p.feed(
            f"[{step}/1000] Building CXX object caffe2/CMakeFiles/torch_cpu.dir/u{step}.cpp.o",
            now=1.0 + step * 0.6,
        )
    status = p.status(now=61.0)
    assert "build 1m00s" in status and "ninja 100/1000 (10%)" in status
    assert "100/min" in status and "ETA 9m00s" in status


def test_test_files_from_run_test_py():
    p = Progress(start=0.0)
    for line in (
        "TEST START: /c/linux-64/pytorch-2.13.0-cpu_mkl_py311_h1_0.conda",
        "Selected tests:",
        " test_nn",
        " test_torch",
        " inductor/test_torchinductor",
        "Running test_nn 1/2 ... [2026-12-01 10:00:00.000000]",
        "test_nn.py::TestNN::test_linear PASSED [0.01s] [ 50%]",
        "Running test_nn 2/2 ... [2026-12-01 10:01:00.000000]",
        "Running test_torch 1/1 ... [2026-12-01 10:02:00.000000]",
    ):
        p.feed(line, now=10.0)
    status = p.status(now=70.0)
    assert "test 1m00s" in status and "test files 2/3, now test_torch 1/1" in status


def test_never_back_to_an_earlier_phase_except_the_next_outputs_packaging():
    p = Progress(start=0.0)
    for t, line in enumerate(
        [
            "Adding in variants from x",
            "export PREFIX=/p",
            "Packaging a",
            "TEST START: a",
            "Adding in variants from /tmp/info/recipe",
            "Packaging b",
            "TEST START: b",
        ]
    ):
        p.feed(line, now=float(t))
        if t == 4:
            assert p.phase == "test"
    assert p.phase == "test" and summarize(p.phase_times(now=7.0)).startswith("render 1s")


def _run(tmp_path, out, lines):
    script = "import sys\n" + "".join(f"print({line!r}, flush=True)\n" for line in lines)
    return conda_build.run_logged([sys.executable, "-c", script], {}, tmp_path / "b.log", out=out)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_status_line_the_log_does_not(tmp_path):
    out = _Tty()
    result = _run(
        tmp_path,
        out,
        [
            "Adding in variants from x",
            "export PREFIX=/p",
            "[1/2] Building C object a.o",
            "[2/2] Linking",
        ],
    )
    text = out.getvalue()
    assert "\r\x1b[2K[conda-build] build" in text
    assert text.endswith("\r\x1b[2K")  # cleared at the end: the summary starts on a clean line
    log = (tmp_path / "b.log").read_text()
    assert "[conda-build]" not in log and "\x1b" not in log
    assert "build" in result.phases


def test_without_a_terminal_at_most_one_progress_line_a_minute(tmp_path):
    out = io.StringIO()
    _run(tmp_path, out, [f"[{i}/50] Building C object u{i}.o" for i in range(50)])
    assert "[conda-build]" not in out.getvalue()  # a short run: under a minute, no line
    assert out.getvalue().count("\n") == 50


def test_phases_and_release_progress_render_durations_alike():
    from tools.release.flow import progress_line

    assert summarize({"render": 14, "build": 7800}) == "render 14s, build 2h10m"
    assert "elapsed 2h10m" in progress_line(1, 2, "v", 7800, None)
