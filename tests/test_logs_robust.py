"""Issue 9, the parser's part: nothing hangs, cost is linear and memory bounded for every input
shape, and each test is counted once. Every log goes through the file path (parse_file), the
stream path (.gz, stdin, zip members: parse_stream) and must give the same result on both.

Log lines follow docs/FACTS.md ("PyTorch's test output", "Command line and log").
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import signal
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import pytest

from tools.validate_logs import parser as logs
from tools.validate_logs.parser import LogParser, parse_bytes, parse_file, parse_stream
from tools.validate_logs.policy import Policy, build_report

PKG = "/croot/linux-64/pytorch-2.5.1-py311_0.conda"


@contextmanager
def within(seconds: float):
    """Fail (instead of hanging the suite) if the block runs longer than ``seconds``."""

    def expired(signum, frame):
        raise TimeoutError(f"took over {seconds} s: a hang or a cost that grows too fast")

    before = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def key(result: logs.LogResult):
    return (
        [dataclasses.asdict(p) for p in result.phases],
        result.build_failure,
        result.notes,
        result.bytes_read,
    )


def every_path(tmp_path, data: bytes, seconds: float = 20, **kw) -> logs.LogResult:
    """Parse ``data`` as a regular file, as a stream and as a .gz; assert one result."""
    path = tmp_path / "x.log"
    path.write_bytes(data)
    gz = tmp_path / "x.log.gz"
    gz.write_bytes(gzip.compress(data, compresslevel=1))
    with within(seconds):
        with open(path, "rb") as f:
            by_file = parse_file(f.fileno(), "x", **kw)
        with open(path, "rb") as f:
            streamed = parse_stream(f, "x", **kw)
        with gzip.open(gz, "rb") as f:
            gunzipped = parse_stream(f, "x", **kw)
    assert key(by_file) == key(streamed) == key(gunzipped)
    return by_file


def session(n: int, first: int = 0) -> list[str]:
    return [f"test_nn.py::TestNN::test_{i} PASSED [0.1s] [ 50%]" for i in range(first, first + n)]


# -- 1. hangs ---------------------------------------------------------------------------------
def test_cr_only_log_longer_than_a_block_does_not_hang(tmp_path):
    """A CR-only progress log is one line; its TEST START line is longer than the read block
    (~112 KiB): the file path looped forever on it."""
    data = b"TEST START: p\r" + b"PASSED\r" * 30000
    assert len(data) > logs.LINE_BLOCK
    result = every_path(tmp_path, data, seconds=10)
    (phase,) = result.phases
    assert phase.ended == "truncated" and phase.package.startswith("p")


def test_test_start_line_longer_than_every_block_size(tmp_path):
    """Longer than the file block, the scan block, the phase window and the stream block."""
    long = b"x" * (logs.BLOCK_SIZE + 3)
    data = (
        b"[1/2] c++ -c a.cpp\nTEST START: /croot/linux-64/pkg-1-0.conda "
        + long
        + b"\n"
        + b"+ python -m pytest test/\n"
        + "\n".join(session(3)).encode()
        + b"\n= 3 passed in 1.00s =\nTEST END: pkg\n"
    )
    result = every_path(tmp_path, data)
    (phase,) = result.phases
    assert phase.ended == "end" and phase.counts.passed == 3


@pytest.mark.parametrize("where", ["build", "phase", "marker_inside", "last_line"])
def test_any_line_longer_than_every_block_size(tmp_path, where):
    """A line longer than every block size, anywhere: it is seen by its first MAX_LINE bytes
    (a phase marker past those is not seen), the same on every path, in bounded time."""
    long = b"y" * (logs.BLOCK_SIZE + logs.MAX_CARRY + 5)
    body = [
        b"+ python -m pytest test/",
        *(s.encode() for s in session(2)),
        b"= 2 passed in 1.00s =",
    ]
    head = [b"BUILD START: ['pkg-1-0.conda']", b"[1/2] c++ -c a.cpp"]
    if where == "build":
        head.append(long)
    if where == "marker_inside":  # a marker deep inside a huge build line: not a phase start
        head.append(long + b"TEST START: hidden-1-0.conda")
    lines = head + [f"TEST START: {PKG}".encode()]
    lines += [long] if where == "phase" else []
    lines += body + [f"TEST END: {PKG}".encode()]
    data = b"\n".join(lines) + b"\n"
    if where == "last_line":
        data += long  # no newline at the end
    result = every_path(tmp_path, data)
    assert [p.package for p in result.phases] == ["pytorch-2.5.1-py311_0"]
    assert result.phases[0].counts.passed == 2 and result.phases[0].ended == "end"


@pytest.mark.parametrize("prefix", [0, 1, 2, 1023, 1024, 1025, 5000])
@pytest.mark.parametrize("fill", [b"x", b" "])
def test_a_marker_line_that_begins_far_before_its_marker(tmp_path, prefix, fill):
    """parse_file reads LINE_BACK bytes before a marker to find where its line begins; a line
    with more than that before the marker is read from its real start, on every path: text
    there makes it no TEST START line, indentation does not."""
    before = b"[1/2] c++ -c a.cpp\n" * 3
    line = fill * prefix + f"TEST START: {PKG}".encode()
    data = (
        before
        + line
        + b"\n+ python -m pytest test/\n"
        + "\n".join(session(2)).encode()
        + f"\n= 2 passed in 1.00s =\nTEST END: {PKG}\n".encode()
    )
    result = every_path(tmp_path, data)
    if prefix and fill == b"x":  # "xx...TEST START:" is no marker line: no phase started
        assert result.phases == []
    else:
        assert [p.counts.passed for p in result.phases] == [2]


def test_feed_block_boundaries_never_matter_for_long_lines():
    data = (
        f"TEST START: {PKG}\n".encode()
        + b"z" * 5000
        + b" PASSED\n"
        + b"w" * 70000
        + b"\n"
        + b"+ pytest\n"
        + b"q" * 3000
        + b"\r" * 3
        + f"\nTEST END: {PKG}\n".encode()
    )
    whole = key(parse_bytes(data))
    for size in (1, 13, 4096, 65537):
        parser = LogParser("<bytes>")
        for i in range(0, len(data), size):
            parser.feed(data[i : i + size])
        assert key(parser.close()) == whole, size


# -- 2. cost that grows faster than the input ---------------------------------------------------
def tiny_phases(n: int) -> bytes:
    return b"".join(
        b"TEST START: /c/linux-64/p%d-1.0-0.conda\n+ python -c 'import p'\n"
        b"TEST END: /c/linux-64/p%d-1.0-0.conda\n" % (i, i)
        for i in range(n)
    )


def test_many_tiny_phases_cost_linear_time_and_bounded_memory(tmp_path):
    """1 MB of tiny phases took over a minute and 250 MB (each phase end copied and re-split the
    rest of the block); 660 KB of them as .gz never ended. Now a phase costs what its lines do."""
    n = 6000  # ~600 KB
    data = tiny_phases(n)
    start = time.process_time()
    result = every_path(tmp_path, data, seconds=30)
    per_phase = (time.process_time() - start) / (3 * n)
    assert per_phase < 150e-6, f"{per_phase * 1e6:.0f} us per phase (it was over 400 us)"
    assert len(result.phases) == logs.MAX_PHASES + 1  # the rest merged into one entry
    merged = result.phases[-1]
    assert merged.package == f"{n - logs.MAX_PHASES} more test phases (merged)"
    assert merged.ended == "end" and any("merged" in note for note in result.notes)
    tracemalloc.start()
    try:
        with gzip.open(tmp_path / "x.log.gz", "rb") as f:
            parse_stream(f, "x")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 30 << 20, f"peak {peak >> 20} MB"


def test_test_phase_of_short_lines_is_linear_and_bounded_through_streams():
    """One 8 MB stream block of short lines was split into one list (475 MB); now it is looked
    at by window, only where a line can matter."""
    data = (
        f"TEST START: {PKG}\n+ python -m pytest test/\n".encode()
        + b"".join(b"%d\n" % (i % 97) for i in range(1_600_000))
        + b"test_a.py::T::t PASSED [0.1s] [ 50%]\n= 1 passed in 1.00s =\n"
        + f"TEST END: {PKG}\n".encode()
    )
    tracemalloc.start()
    try:
        with within(20):
            result = parse_stream(io.BytesIO(data), "x", block_size=logs.BLOCK_SIZE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20, f"peak {peak >> 20} MB"
    (phase,) = result.phases
    assert phase.counts.passed == 1 and phase.ended == "end"


def test_dense_results_then_many_short_phases_stay_linear(tmp_path):
    """A phase of many results (dense mode) followed by thousands of tiny phases in one
    stream block: what is split past a phase's end is bounded by what that phase cost."""
    data = (
        f"TEST START: {PKG}\n+ pytest\n".encode()
        + "\n".join(session(20_000)).encode()
        + b"\n= 20000 passed in 9.0s =\n"
        + f"TEST END: {PKG}\n".encode()
        + tiny_phases(3000)
    )
    result = every_path(tmp_path, data, seconds=30)
    assert result.phases[0].counts.passed == 20_000


def test_phases_past_max_phases_are_merged_and_fail_like_them(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "MAX_PHASES", 3)
    ok = [
        f"TEST START: /c/ok{i}-1-0.conda\n+ python -m pytest test/\n"
        f"test_a.py::T::t PASSED [0.1s] [100%]\n= 1 passed in 1.0s =\nTEST END: ok{i}\n"
        for i in range(5)
    ]
    crash = (
        "TEST START: /c/bad-1-0.conda\n+ python -m pytest test/\n"
        "test_a.py::T::t Fatal Python error: Segmentation fault\n"
    )
    data = ("".join(ok) + crash + "TEST END: bad\n").encode()
    result = every_path(tmp_path, data)
    assert [p.package for p in result.phases][:3] == ["ok0-1-0", "ok1-1-0", "ok2-1-0"]
    merged = result.phases[3]
    assert merged.package == "3 more test phases (merged)" and merged.counts.passed == 2
    assert any(c.startswith("bad-1-0: Fatal Python error") for c in merged.crashes)
    assert merged.failures == {"test_a.py::T::t": "crashed"}
    report = build_report([result], Policy())
    assert report.verdict == "fail"
    assert [p.verdict for p in report.logs[0].packages] == ["pass", "pass", "pass", "fail"]


def test_merged_phases_keep_the_worst_ending_and_a_suite_that_fell_over(monkeypatch):
    monkeypatch.setattr(logs, "MAX_PHASES", 1)
    data = (
        f"TEST START: {PKG}\nTEST END: {PKG}\n"
        "TEST START: /c/a-1-0.conda\n+ python -m pytest test/\nTEST END: a\n"
        "TEST START: /c/b-1-0.conda\nimport: 'b'\n"
    ).encode()
    merged = parse_bytes(data).phases[1]
    assert merged.ended == "truncated" and merged.suite_started
    assert merged.fell_over == ["a-1-0: no test results and no count line"]


def test_text_kept_per_log_is_bounded_but_every_package_keeps_its_first(monkeypatch):
    monkeypatch.setattr(logs, "TEXT_BUDGET", 20_000)
    body = "".join(f"FAILED test_a.py::T::test_{'x' * 200}_{i} - boom\n" for i in range(200))
    data = "".join(
        f"TEST START: /c/p{k}-1-0.conda\n+ python -m pytest test/\n{body}TEST END: p\n"
        for k in range(10)
    ).encode()
    phases = parse_bytes(data).phases
    kept = sum(len(p.failures) for p in phases)
    assert kept < 20_000 // 200 + 10
    assert all(p.failures for p in phases)  # the first of each package is always kept
    assert all(len(p.failures) + p.failures_truncated == 200 for p in phases)


# -- 4. wrong data ------------------------------------------------------------------------------
XDIST = [
    "+ python -m pytest -n 2 test/test_linalg.py",
    "============================= test session starts ==============================",
    "created: 2/2 workers",
    "2 workers [12 items]",
    *[
        f"[gw{i % 2}] [ {8 * i:2d}%] PASSED test/test_linalg.py::TestLinalgCPU::test_op_{i}"
        for i in range(8)
    ],
    "Fatal Python error: Segmentation fault",
    "",
    "Current thread 0x00007f (most recent call first):",
    '  File "$PREFIX/lib/python3.12/site-packages/torch/linalg.py", line 9 in det',
    "[gw1] node down: Not properly terminated",
    "[gw1] [ 75%] FAILED test/test_linalg.py::TestLinalgCPU::test_op_8",
    "replacing crashed worker gw1",
    *[
        f"[gw{i % 3}] [ {8 * i:2d}%] PASSED test/test_linalg.py::TestLinalgCPU::test_op_{i}"
        for i in range(9, 12)
    ],
    "worker 'gw1' crashed while running 'test/test_linalg.py::TestLinalgCPU::test_op_8'",
    "FAILED test/test_linalg.py::TestLinalgCPU::test_op_8",
    "============ 1 failed, 11 passed in 64.02s (0:01:04) ============",
]


def test_fatal_python_error_inside_an_xdist_session_counts_each_test_once(tmp_path):
    """The crash used to close the per-test count, which the session's count line then counted
    again: 21 tests where the log has 12 (a lower failure rate, a fooled coverage check)."""
    data = ("\n".join([f"TEST START: {PKG}", *XDIST, f"TEST END: {PKG}"]) + "\n").encode()
    (phase,) = every_path(tmp_path, data).phases
    assert (phase.counts.passed, phase.counts.failed, phase.counts.ran) == (11, 1, 12)
    assert any("Segmentation fault" in c for c in phase.crashes)


def test_a_crashed_pytest_run_then_another_session_count_both_once():
    """pytest run directly (no run_test.py): the crashed process printed no count line, so its
    per-test lines count; the next session's count line counts its own tests only."""
    data = (
        "\n".join(
            [
                f"TEST START: {PKG}",
                "+ python -m pytest test/test_a.py",
                "============================= test session starts ==============================",
                "test_a.py::T::t1 PASSED [0.1s] [ 50%]",
                "test_a.py::T::t2 Fatal Python error: Aborted",
                "+ python -m pytest test/test_b.py",
                "============================= test session starts ==============================",
                "test_b.py::T::t1 PASSED [0.1s] [ 50%]",
                "test_b.py::T::t2 PASSED [0.1s] [100%]",
                "============ 2 passed in 1.00s ============",
                f"TEST END: {PKG}",
            ]
        ).encode()
        + b"\n"
    )
    (phase,) = parse_bytes(data).phases
    assert (phase.counts.passed, phase.counts.failed) == (3, 1)
    assert phase.failures == {"test_a.py::T::t2": "crashed"}


# -- shortcuts for tiny phases: the line cache and the head lines -----------------------------
FIXTURE_LOGS = sorted((Path(__file__).parent / "fixtures" / "logs").rglob("*.log"))
# (SEEN_LINE, SEEN_LINES, HEAD_LINES): nothing remembered; forgotten after every two lines;
# no head read line by line; a head of one line
SHORTCUTS_OFF = [(-1, 2048, 32), (256, 2, 32), (256, 2048, 0), (256, 2048, 1)]


@pytest.mark.parametrize("log", FIXTURE_LOGS, ids=lambda p: p.name)
def test_shortcuts_for_tiny_phases_never_change_a_result(log, monkeypatch):
    """LogParser remembers what a short line classified as (SEEN_LINE, SEEN_LINES), and reads
    the first HEAD_LINES lines of a phase one by one. Neither may change what is found: the
    handlers still run for every occurrence of a line, and a head line does what the window
    search would have done with it. Each log is read twice over (every line repeats), whole
    and in 100-byte pieces."""
    data = log.read_bytes() * 2
    framed = b"TEST START:" in data

    def both() -> tuple:
        whole = parse_bytes(data, "x", framed=framed)
        parser = LogParser("x", framed=framed)
        for i in range(0, len(data), 100):
            parser.feed(data[i : i + 100])
        assert key(parser.close()) == key(whole)
        return key(whole)

    expected = both()
    for seen_line, seen_lines, head in SHORTCUTS_OFF:
        monkeypatch.setattr(logs, "SEEN_LINE", seen_line)
        monkeypatch.setattr(logs, "SEEN_LINES", seen_lines)
        monkeypatch.setattr(logs, "HEAD_LINES", head)
        assert both() == expected, (seen_line, seen_lines, head)


def test_a_repeated_crash_line_is_a_crash_of_every_phase_that_prints_it():
    crash = b"test_a.py::T::t Fatal Python error: Segmentation fault\n"
    data = b"".join(
        b"TEST START: /c/p%d-1-0.conda\n+ python -m pytest test/\n%sTEST END: p%d\n" % (i, crash, i)
        for i in range(3)
    )
    phases = parse_bytes(data).phases
    assert [p.failures for p in phases] == [{"test_a.py::T::t": "crashed"}] * 3
    assert all(p.crashes for p in phases)


def test_remembered_lines_are_bounded(monkeypatch):
    monkeypatch.setattr(logs, "SEEN_LINES", 8)
    parser = LogParser("x")
    parser.feed(f"TEST START: {PKG}\n".encode())
    for i in range(100):
        parser.feed(b"+ python -m pytest test/test_%d.py\n" % i)
        assert len(parser._seen) <= 8
    parser.feed(b"+ " + b"x" * 300 + b"\n")  # longer than SEEN_LINE: not remembered
    assert not any(len(line) > logs.SEEN_LINE for line in parser._seen)
