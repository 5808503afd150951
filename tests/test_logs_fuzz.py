"""Property test (issue 9): the same input through every way validate_logs reads a log (a regular
file by offset, a stream in blocks, a .gz, stdin, a zip member, and fed in random pieces)
finishes within a time bound with the same result.

Inputs: random bytes, mutated fixtures (tests/fixtures/logs/), CR-only and mixed line ends, lines
longer than every block size, many phases. The block sizes and caps are shrunk while it runs, so
that "longer than every block" and "past every cap" are cheap to reach; one case runs with the real
sizes. CI runs a few examples; ``PYTORCH_TASKS_FUZZ_EXAMPLES=2000`` runs more (CONTRIBUTING.md).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import sys
import tempfile
import time
import zipfile
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.validate_logs import parser as logs
from tools.validate_logs.inputs import GZIP_MAGIC, LogInput

EXAMPLES = int(os.environ.get("PYTORCH_TASKS_FUZZ_EXAMPLES", "25"))
SECONDS = 10.0  # per example, all paths together
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "logs").glob("*.log"))
FIXTURE_BYTES = [p.read_bytes() for p in FIXTURES]

# Small enough that a few hundred bytes cross every block and reach every cap.
TINY = {
    "MAX_LINE": 48,
    "MAX_CARRY": 160,
    "PHASE_WINDOW": 96,
    "LINE_BLOCK": 64,
    "SCAN_BLOCK": 40,
    "MARKER_SPAN": 256,
    "MARKER_CAP": 2,
    "MAX_PHASES": 4,
    "MAX_FAILURES": 3,
    "MAX_EVIDENCE": 3,
    "TEXT_BUDGET": 600,
}

PKG = "/croot/linux-64/pytorch-2.5.1-py311_0.conda"
SNIPPETS = [
    s.encode()
    for s in [
        f"TEST START: {PKG}",
        f"TEST END: {PKG}",
        "BUILD START: ['x.conda']",
        "Nothing to test for: x",
        "TESTS FAILED: x",
        "+ python ./test/run_test.py --core",
        "+ python -m pytest -n 2 test/",
        "+ true",
        "Running test_nn 1/1 ... [2024-07-12 17:09:33]",
        "Executing ['python'] ... [x]",
        "============================= test session starts ==============================",
        "test_nn.py::TestNN::test_a PASSED [0.1194s]   [ 33%]",
        "test_nn.py::TestNN::test_b FAILED [0.1194s]   [ 66%]",
        "test_nn.py::TestNN::test_c SKIPPED [0.0001s] (no CUDA) [100%]",
        "test_nn.py::TestNN::test_d XFAIL [0.1s] [ 10%]",
        "[gw0] [ 50%] PASSED test/test_a.py::T::t",
        "[gw1] [ 75%] FAILED test/test_a.py::T::u",
        "Fatal Python error: Segmentation fault",
        "test_a.py::T::t3 Fatal Python error: Aborted",
        "worker 'gw1' crashed while running 'test/test_a.py::T::u'",
        "[gw1] node down: x",
        "FAILED [0.3790s] test_nn.py::TestNN::test_b - AssertionError: x",
        "============== 1 failed, 1 passed, 1 skipped in 0.03s ===============",
        "Got exit code -11 (SIGSEGV)",
        "Got exit code 1, retrying",
        "Retrying single test...",
        "The following tests failed consistently: ['test/test_a.py::T::t']",
        "The following tests failed and then succeeded when run in a new process"
        "['test_a.py::T::t']",
        "Ran 3 tests in 0.1s",
        "FAILED (errors=1)",
        "OK",
        "..F.s [ 50%]",
        "RuntimeError: test_nn 1/1 failed!",
        "ImportError: libx.so",
        "\x1b[31mFAILED\x1b[0m",
        "2025-08-01T17:19:12.4224458Z TEST END: x",
        "conda_build.exceptions.BuildScriptException: x",
    ]
]
ENDS = [b"\n", b"\r", b"\r\n", b"\n\n"]


def long_run(draw) -> bytes:
    """A line longer than every (shrunk) block size, maybe with a marker inside it."""
    n = draw(st.integers(min_value=TINY["MAX_CARRY"] - 5, max_value=4 * TINY["MAX_CARRY"]))
    body = bytearray(draw(st.sampled_from([b"x", b"PASSED\r", b"ab "])) * n)
    if draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=len(body)))
        body[at:at] = b"TEST START: hidden"
    return bytes(body)


long_runs = st.composite(long_run)


@st.composite
def pieces(draw) -> bytes:
    """Snippets and junk joined with mixed line ends (CR-only included), some lines longer than
    every block, and many phases."""
    parts = draw(
        st.lists(
            st.one_of(st.sampled_from(SNIPPETS), st.binary(max_size=40), long_runs()), max_size=40
        )
    )
    cr_only = draw(st.booleans()) and draw(st.booleans())
    out = bytearray()
    for part in parts:
        out += part + (b"\r" if cr_only else draw(st.sampled_from(ENDS)))
    repeat = draw(st.sampled_from([1, 1, 1, 3, 12]))  # many phases
    return bytes(out) * repeat


@st.composite
def mutated_fixture(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(FIXTURE_BYTES)))
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        op = draw(st.sampled_from(["delete", "duplicate", "insert", "cr", "long"]))
        a = draw(st.integers(min_value=0, max_value=len(data)))
        b = min(len(data), a + draw(st.integers(min_value=0, max_value=400)))
        if op == "delete":
            del data[a:b]
        elif op == "duplicate":
            data[a:a] = data[a:b]
        elif op == "insert":
            data[a:a] = draw(st.one_of(st.binary(max_size=30), st.sampled_from(SNIPPETS)))
        elif op == "cr":
            data[a:b] = data[a:b].replace(b"\n", draw(st.sampled_from([b"\r", b"\r\n"])))
        else:
            data[a:a] = long_run(draw)
    return bytes(data)


INPUTS = st.one_of(st.binary(max_size=3000), mutated_fixture(), pieces())


def key(result: logs.LogResult):
    return (
        [dataclasses.asdict(p) for p in result.phases],
        result.build_failure,
        result.notes,
        result.bytes_read,
    )


def every_path(data: bytes, framed: bool, block: int, workers: int) -> list:
    """One result per way of reading ``data``."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.log"
        path.write_bytes(data)
        gz = Path(tmp) / "x.log.gz"
        gz.write_bytes(gzip.compress(data, compresslevel=1))
        zpath = Path(tmp) / "logs.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("x.log", data)
        with open(path, "rb") as f:
            results.append(key(logs.parse_file(f.fileno(), "x", framed=framed, workers=workers)))
        with open(path, "rb") as f:
            results.append(key(logs.parse_stream(f, "x", framed=framed, block_size=block)))
        with gzip.open(gz, "rb") as f:
            results.append(key(logs.parse_stream(f, "x", framed=framed, block_size=block)))
        with (
            mock.patch.object(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(data))),
            LogInput(name="<stdin>").open() as f,
        ):
            results.append(key(logs.parse_stream(f, "x", framed=framed, block_size=block)))
        with LogInput(name="z", path=zpath, member="x.log", index=0).open() as f:
            results.append(key(logs.parse_stream(f, "x", framed=framed, block_size=block)))
    parser = logs.LogParser("x", framed=framed)
    step = max(1, block // 3)
    for i in range(0, len(data), step):
        parser.feed(data[i : i + step])
    results.append(key(parser.close()))
    return results


def check(data: bytes, framed: bool, block: int, workers: int) -> None:
    if data.startswith(GZIP_MAGIC):  # stdin and zip members starting so are read as .gz
        data = b"x" + data
    start = time.monotonic()
    results = every_path(data, framed, block, workers)
    took = time.monotonic() - start
    assert took < SECONDS, f"{took:.1f} s for {len(data)} bytes"
    for other in results[1:]:
        assert other == results[0]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    INPUTS,
    st.booleans(),
    st.integers(min_value=1, max_value=300),
    st.integers(min_value=1, max_value=3),
)
def test_every_path_gives_the_same_result_with_tiny_blocks(data, framed, block, workers):
    with ExitStack() as stack:
        for name, value in TINY.items():
            stack.enter_context(mock.patch.object(logs, name, value))
        check(data, framed, block, workers)


@settings(
    max_examples=max(3, EXAMPLES // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.one_of(mutated_fixture(), pieces()), st.sampled_from([4096, 1 << 16, logs.BLOCK_SIZE]))
def test_every_path_gives_the_same_result_with_real_blocks(data, block):
    check(data, True, block, 2)
