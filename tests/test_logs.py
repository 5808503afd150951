"""The streaming parser: framing, count semantics, noise, bounded memory, and no input crashes it.

Log lines follow docs/FACTS.md ("PyTorch's test output", "Command line and log").
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.validate_logs import parser as logs
from tools.validate_logs import phase as phase_module
from tools.validate_logs.parser import LogParser, parse_bytes, parse_file, parse_stream
from tools.validate_logs.rules import normalize_test_id

PKG = "/croot/linux-64/pytorch-2.5.1-py311_0.conda"


def phase(*body: str, end: str | None = f"TEST END: {PKG}") -> bytes:
    lines = [
        "BUILD START: ['pytorch-2.5.1-py311_0.conda']",
        "[1/2] c++ -O3 -c a.cpp",
        f"TEST START: {PKG}",
        *body,
    ]
    if end:
        lines.append(end)
    return ("\n".join(lines) + "\n").encode()


SESSION = [
    "+ python ./test/run_test.py --core --continue-through-error",
    "Running test_nn 1/1 ... [2024-07-12 17:09:33.052528]",
    "============================= test session starts ==============================",
    "test_nn.py::TestNN::test_a PASSED [0.1194s]   [ 33%]",
    "test_nn.py::TestNN::test_b FAILED [0.1194s]   [ 66%]",
    "test_nn.py::TestNN::test_c SKIPPED [0.0001s] (no CUDA) [100%]",
    "FAILED [0.3790s] test_nn.py::TestNN::test_b - AssertionError: x",
    "============== 1 failed, 1 passed, 1 skipped in 0.03s ===============",
    "Got exit code 1",
]


def one(data: bytes, **kw) -> logs.PhaseResult:
    result = parse_bytes(data, **kw)
    assert len(result.phases) == 1, result.phases
    return result.phases[0]


def test_package_name_and_counts_from_one_session():
    p = one(phase(*SESSION))
    assert p.package == "pytorch-2.5.1-py311_0"
    assert (p.counts.passed, p.counts.failed, p.counts.skipped) == (1, 1, 1)
    assert p.failures == {"test_nn.py::TestNN::test_b": "failed"}
    assert p.ended == "end" and p.suite_started


def test_count_lines_of_several_sessions_are_summed_not_double_counted():
    body = SESSION + [
        "Running test_torch 1/1 ... [2024-07-12 17:10:33.052528]",
        "test_torch.py::TestTorch::test_a PASSED [0.1s] [ 50%]",
        "test_torch.py::TestTorch::test_b PASSED [0.1s] [100%]",
        "====================== 2 passed, 3 deselected in 1.00s ======================",
    ]
    p = one(phase(*body))
    assert (p.counts.passed, p.counts.failed, p.counts.skipped) == (3, 1, 1)


def test_count_line_wins_over_per_test_lines():
    # -x stopped early: the count line is what pytest ran; per-test lines agree or are fewer
    p = one(phase("test_a.py::T::t PASSED [0.1s] [ 1%]", "======== 500 passed in 9.00s ========"))
    assert p.counts.passed == 500


def test_per_test_lines_count_when_a_session_never_printed_its_count_line():
    body = [
        "+ python ./test/run_test.py",
        "test_a.py::T::t1 PASSED [0.1s] [ 1%]",
        "test_a.py::T::t2 PASSED [0.1s] [ 2%]",
        "test_a.py::T::t3 Fatal Python error: Aborted",
        "Got exit code -6 (SIGIOT)",
    ]
    p = one(phase(*body))
    assert p.counts.passed == 2
    assert p.failures == {"test_a.py::T::t3": "crashed"}
    assert any("SIGIOT" in c for c in p.crashes) and any("Aborted" in c for c in p.crashes)


def test_retry_session_counts_as_rerun_and_flaky_is_not_a_failure():
    body = SESSION[:-1] + [
        "Got exit code 1",
        "Retrying single test...",
        "test_nn.py::TestNN::test_b PASSED [0.1s] [100%]",
        "================== 1 passed, 2 deselected in 0.36s ==================",
        "Test succeeeded in new process, continuing with the rest of the tests",
        "The following tests failed and then succeeded when run in a new process"
        "['test/test_nn.py::TestNN::test_b']",
    ]
    p = one(phase(*body))
    assert (p.counts.passed, p.counts.failed, p.counts.rerun) == (1, 0, 1)
    assert p.failures["test_nn.py::TestNN::test_b"] == "flaky"


def test_retry_of_the_last_test_does_not_hide_the_real_failure():
    """docs/FACTS.md ("PyTorch's test output"): without -x the retry can re-run only the file's
    last test, see it pass and report success although pytest printed FAILED for another test."""
    body = SESSION[:-1] + [
        "Got exit code 1",
        "Retrying single test...",
        "test_nn.py::TestNN::test_c PASSED [0.1s] [100%]",
        "================== 1 passed, 2 deselected in 0.36s ==================",
        "Test succeeeded in new process, continuing with the rest of the tests",
    ]
    p = one(phase(*body))
    assert p.failures == {"test_nn.py::TestNN::test_b": "failed"} and p.counts.failed == 1


def test_plus_true_after_the_suite_is_evidence_but_not_after_other_commands():
    p = one(phase(*SESSION, "+ true"))
    assert p.suite_exit_nonzero
    p = one(phase(*SESSION, "+ pip check", "+ true"))
    assert not p.suite_exit_nonzero


def test_conda_builds_own_run_test_py_is_not_the_suite():
    p = one(
        phase("+ /croot/_test_env/bin/python -s /croot/x/test_tmp/run_test.py", "import: 'torch'")
    )
    assert not p.suite_started


def test_assert_check_failure_is_recorded():
    p = one(
        phase(
            '+ python -c "import torch; assert torch.backends.mkldnn.is_available()"',
            "Traceback (most recent call last):",
            "AssertionError",
            end=f"TESTS FAILED: {PKG}",
        )
    )
    assert p.check_failures == ["AssertionError"] and p.ended == "tests-failed"


def test_missing_pip_dependency_is_fell_over():
    p = one(
        phase(
            "+ python ./test/run_test.py --core",
            "Missing pip dependency: pytest-rerunfailures, please run `pip install`",
        )
    )
    assert p.suite_started and p.fell_over


def test_nothing_to_test_for_after_test_start_and_alone():
    result = parse_bytes(
        phase(f"Nothing to test for: {PKG}", end=None)
        + b"Nothing to test for: /croot/linux-64/libtorch-1-0.conda\n"
    )
    # the second has no TEST START before it: it is found only when the parser sees the line,
    # i.e. inside a phase; outside, conda-build always prints TEST START first
    assert [p.ended for p in result.phases] == ["nothing-to-test"]


def test_phase_cut_off_and_next_build_start_are_unfinished():
    assert one(phase(*SESSION, end=None)).ended == "truncated"
    data = phase(*SESSION, end="BUILD START: ['pytorch-2.5.1-py312_0.conda']")
    assert one(data).ended == "next-build"


def test_no_test_phase_and_build_failure():
    r = parse_bytes(
        b"BUILD START: ['x.conda']\n[1/2] c++\nconda_build.exceptions."
        b"BuildScriptException: Command '['/bin/bash']' returned non-zero exit "
        b"status 1.\n"
    )
    assert r.phases == [] and "BuildScriptException" in r.build_failure


def test_unframed_reads_everything_as_one_phase():
    r = parse_bytes("\n".join(SESSION).encode(), name="ci.log", framed=False)
    assert len(r.phases) == 1 and r.phases[0].counts.failed == 1 and not r.framed


def test_noise_timestamps_crlf_ansi_invalid_utf8():
    noisy = []
    for line in [f"TEST START: {PKG}", *SESSION, f"TEST END: {PKG}"]:
        line = line.replace("FAILED", "\x1b[31mFAILED\x1b[0m")
        noisy.append(b"2025-08-01T17:19:12.4224458Z " + line.encode() + b"\xff\xfe\r")
    p = one(b"\n".join(noisy) + b"\n")
    assert (p.counts.passed, p.counts.failed, p.counts.skipped) == (1, 1, 1)
    assert list(p.failures) == ["test_nn.py::TestNN::test_b"] and p.ended == "end"


def test_block_boundaries_do_not_matter():
    data = phase(*SESSION, "+ true") * 3
    whole = parse_bytes(data)
    for size in (1, 7, 64, 1000):
        parser = LogParser("x")
        for i in range(0, len(data), size):
            parser.feed(data[i : i + size])
        split = parser.close()
        assert [(p.package, p.counts, p.failures, p.ended) for p in split.phases] == [
            (p.package, p.counts, p.failures, p.ended) for p in whole.phases
        ]


@pytest.mark.parametrize("workers", [1, 3])
def test_file_and_streamed_parses_agree(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(logs, "SCAN_BLOCK", 4096)  # markers cross block and range borders
    data = (
        b"[1/9] c++ -c x.cpp\n" * 50_000
        + phase(*SESSION)
        + b"[2/9] c++\n" * 1000
        + phase(*SESSION, "+ true")
        + b"TEST START: /x/last-1-0.conda\n"
        + b"tail " * 100
    )
    path = tmp_path / "x.log"
    path.write_bytes(data)
    with open(path, "rb") as f:
        by_offset = parse_file(f.fileno(), "x", block_size=4096, workers=workers)
    with open(path, "rb") as f:
        streamed = parse_stream(f, "x", block_size=4096)
    key = [
        (p.package, p.counts, p.failures, p.ended, p.suite_exit_nonzero) for p in streamed.phases
    ]
    assert len(key) == 3 and key[2][3] == "truncated"
    assert [
        (p.package, p.counts, p.failures, p.ended, p.suite_exit_nonzero) for p in by_offset.phases
    ] == key


def test_scan_markers_finds_every_marker_once(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "SCAN_BLOCK", 64)
    data = bytearray(b"x" * 5000)
    spots = [0, 60, 128, 1000, 1660, 2495, 3330, 4989]  # across blocks and thread ranges
    for at in spots:
        data[at : at + 11] = b"TEST START:"
    path = tmp_path / "m.log"
    path.write_bytes(bytes(data))
    for workers in (1, 2, 3, 7):
        with open(path, "rb") as f:
            assert logs.scan_markers(f.fileno(), len(data), b"TEST START:", workers) == spots


def test_ten_megabyte_line_is_bounded(tmp_path):
    big = b"x" * (10 << 20)
    data = phase("+ python ./test/run_test.py", "FAILED " + "y" * 100, end=None)
    data += big + b"\ntest_a.py::T::t FAILED [0.1s] [100%]\n" + f"TEST END: {PKG}\n".encode()
    parser = LogParser("big")
    for i in range(0, len(data), 1 << 20):
        parser.feed(data[i : i + (1 << 20)])
        assert len(parser.carry) <= logs.MAX_CARRY
    p = parser.close().phases[0]
    assert p.ended == "end" and "test_a.py::T::t" in p.failures


def test_truncated_last_line_without_newline_is_parsed():
    p = one(phase(*SESSION, end=None) + b"test_nn.py::TestNN::test_z FAILED [0.1s] [100%]")
    assert "test_nn.py::TestNN::test_z" in p.failures and p.ended == "truncated"


def test_failure_ids_are_bounded(monkeypatch):
    monkeypatch.setattr(phase_module, "MAX_FAILURES", 5)
    body = [f"FAILED test_a.py::T::t{i} - boom" for i in range(12)]
    p = one(phase("+ python ./test/run_test.py", *body))
    assert len(p.failures) == 5 and p.failures_truncated == 7
    assert p.counts.failed == 5  # what is known; the count line normally says more


def test_normalize_test_id():
    assert normalize_test_id("test/dynamo/test_x.py::T::t") == "dynamo/test_x.py::T::t"
    # unittest names no file: the file being run gives it, else only Class::test is known
    assert normalize_test_id("test_x (__main__.T)") == "T::test_x"
    assert normalize_test_id("test_x (__main__.T.test_x)") == "T::test_x"
    assert normalize_test_id("test_x (__main__.T)", "test_nn") == "test_nn.py::T::test_x"
    assert normalize_test_id("test_x (__main__.T.test_x)", "nn/test_a") == "nn/test_a.py::T::test_x"
    assert normalize_test_id("test_x (test.test_nn.T)") == "test_nn.py::T::test_x"
    assert normalize_test_id("test_x (test_nn.T)", "other") == "test_nn.py::T::test_x"
    # pytest's ids are kept; run_test.py's repo-root ids lose test/
    assert normalize_test_id("test_nn.py::T::test_x", "other") == "test_nn.py::T::test_x"


def test_count_line_variants():
    for line, expect in [
        (
            "= 2 failed, 2 passed, 1 skipped, 3 deselected, 1 xfailed, 1 xpassed, 4 warnings, "
            "2 errors, 2 rerun in 2916.32s (0:48:36) =",
            (2, 2, 1, 1, 1, 2, 2),
        ),
        ("no tests ran in 0.00s", (0, 0, 0, 0, 0, 0, 0)),
        ("3 passed in 0.10s", (3, 0, 0, 0, 0, 0, 0)),
        ("== 7 deselected in 0.00s ==", (0, 0, 0, 0, 0, 0, 0)),
        ("===== 5 passed, 2 subtests passed in 1.0s =====", (5, 0, 0, 0, 0, 0, 0)),
    ]:
        c = one(phase("+ pytest test/", line)).counts
        assert (c.passed, c.failed, c.skipped, c.xfailed, c.xpassed, c.errors, c.rerun) == expect


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=200),
            st.sampled_from(
                [s.encode() for s in SESSION]
                + [
                    f"TEST START: {PKG}".encode(),
                    f"TEST END: {PKG}".encode(),
                    b"+ true",
                    b"Got exit code -9",
                    b"Ran 3 tests in 0.1s",
                    b"FAILED (errors=1)",
                    b"OK",
                    b"The following tests failed consistently: ['a",
                    b"worker 'gw0' crashed while running 'x'",
                    b"Nothing to test for: x",
                    b"TESTS FAILED: x",
                    b"\x1b[31m",
                    b"\r",
                    b"\xff\xfe",
                    b"= 1 failed in 0.1s =",
                    b"...F [ 50%]",
                    b"Retrying single test...",
                    b"Test succeeeded in new process, continuing",
                ]
            ),
        ),
        max_size=60,
    ),
    st.booleans(),
    st.integers(min_value=1, max_value=64),
)
def test_no_input_crashes_the_parser(chunks, framed, block):
    data = b"\n".join(chunks)
    parser = LogParser("fuzz", framed=framed)
    for i in range(0, len(data), block):
        parser.feed(data[i : i + block])
    result = parser.close()
    for p in result.phases:
        assert p.counts.failed >= 0 and p.counts.errors >= 0
        assert p.ended in ("end", "tests-failed", "nothing-to-test", "truncated", "next-build")


def test_prefix_rewrites_and_placeholder_paths():
    """docs/FACTS.md ("PyTorch's test output"): stdout has $PREFIX/$SRC_DIR rewritten, stderr
    keeps the 255-character placeholder prefix; Windows logs show %PREFIX%. None of it hides
    the suite or its results."""
    placeholder = "/croot/pytorch_1724234567890/_test_env_" + "placehold_" * 24
    p = one(
        phase(
            f"+ {placeholder}/bin/python ./test/run_test.py --core --continue-through-error",
            "Executing ['$PREFIX/bin/python', '-bb', 'test_nn.py'] ... [2024-07-12 17:09:33]",
            "test_nn.py::TestNN::test_a PASSED [0.1s] [ 50%]",
            "test_nn.py::TestNN::test_b FAILED [0.1s] [100%]",
            f'  File "{placeholder}/lib/python3.11/site-packages/torch/nn/functional.py", line 9',
            "==== 1 failed, 1 passed in 1.00s ====",
            "+ true",
            '+ %PREFIX%\\python.exe -c "import torch"',
        )
    )
    assert p.suite_started and p.suite_exit_nonzero
    assert (p.counts.passed, p.counts.failed) == (1, 1)
    assert list(p.failures) == ["test_nn.py::TestNN::test_b"]
