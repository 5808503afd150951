"""Issue 10: forms of output real PyTorch runs print, each changing what the parser finds.

The lines are in the formats of docs/FACTS.md ("PyTorch's test output"); the real fragments they
were seen in are under tests/fixtures/logs/real/ (with their sources). Each test states what a
careful reader of the log concludes and checks the parser and the verdict agree.
"""

from __future__ import annotations

from tools.validate_logs import parser as logs
from tools.validate_logs.parser import parse_bytes
from tools.validate_logs.policy import Policy, evaluate_package

PKG = "/croot/linux-64/pytorch-2.5.1-py311_0.conda"


def phase(*body: str) -> bytes:
    """One conda-build test phase (docs/FACTS.md, "Command line and log") around ``body``."""
    lines = ["BUILD START: ['pytorch-2.5.1-py311_0.conda']", f"TEST START: {PKG}", *body]
    return ("\n".join([*lines, f"TEST END: {PKG}"]) + "\n").encode()


def one(data: bytes, **kw) -> logs.PhaseResult:
    (p,) = parse_bytes(data, **kw).phases
    return p


def bare(*lines: str):
    """A fragment without conda-build framing, read as one test run (--unframed)."""
    return one(("\n".join(lines) + "\n").encode(), framed=False)


def verdict(p) -> str:
    return evaluate_package(p, Policy()).verdict


# --- unittest headers with PyTorch's durations --------------------------------------------------
def test_unittest_failure_header_with_duration_names_the_failing_test():
    p = one(
        phase(
            "+ python ./test/run_test.py --core",
            "Running test_nn 1/1 ... [2024-07-12 17:09:33.052528]",
            "test_RNN_dropout_state (__main__.TestNN) ... FAIL (0.026s)",
            "=" * 70,
            "FAIL [0.026s]: test_RNN_dropout_state (__main__.TestNN)",
            "-" * 70,
            "AssertionError: 1 != 2",
            "=" * 70,
            "ERROR [62.3s]: test_lstm (__main__.TestNN.test_lstm)",
            "RuntimeError: boom",
            "Ran 12 tests in 70.1s",
            "FAILED (failures=1, errors=1)",
        )
    )
    assert p.failures == {
        "test_nn.py::TestNN::test_RNN_dropout_state": "failed",
        "test_nn.py::TestNN::test_lstm": "error",
    }
    assert (p.counts.failed, p.counts.errors, p.counts.passed) == (1, 1, 10)
    assert verdict(p) == "fail"


def test_unittest_ids_take_the_file_from_a_directly_run_test_file():
    p = bare(
        "+ python test/distributed/test_c10d_common.py -v",
        "FAIL: test_x (__main__.TestCommon)",
        "Ran 3 tests in 0.1s",
        "FAILED (failures=1)",
    )
    assert list(p.failures) == ["distributed/test_c10d_common.py::TestCommon::test_x"]


def test_unittest_and_pytest_runs_of_one_test_give_one_id():
    """A known-failures entry written from a pytest run matches the same test run by unittest."""
    under_unittest = bare(
        "Running test_nn 1/1 ... [2024-07-12 17:09:33.052528]",
        "FAIL [0.1s]: test_x (__main__.TestNN)",
        "Ran 1 test in 0.1s",
        "FAILED (failures=1)",
    )
    under_pytest = bare(
        "============================= test session starts ==============================",
        "FAILED [0.1s] test_nn.py::TestNN::test_x - AssertionError",
        "======================== 1 failed in 0.20s ========================",
    )
    assert list(under_unittest.failures) == list(under_pytest.failures)


# --- run_test.py without shard numbers -----------------------------------------------------------
def test_shardless_file_failure_with_signal_is_a_crash():
    p = bare(
        "Running test_jit ... [2019-03-01 10:00:00.000000]",
        "test_jit failed! Received signal: SIGSEGV",
    )
    assert p.files_failed == ["test_jit"] and p.crashes == ["SIGSEGV in test_jit"]
    assert verdict(p) == "fail"


def test_shardless_runtime_error_with_signal_is_a_crash_and_a_stop():
    p = bare(
        "+ python test/run_test.py",
        "Running test_c10d ... [2019-03-01 10:00:00.000000]",
        "Traceback (most recent call last):",
        "RuntimeError: test_c10d failed! Received signal: SIGSEGV",
    )
    assert p.crashes == ["SIGSEGV in test_c10d"]
    assert any("stopped at test_c10d" in i for i in p.interruptions)


# --- time stamps and indentation -----------------------------------------------------------------
def test_circleci_and_bracketed_time_stamps_and_indentation_are_stripped():
    lines = [
        "TEST START: " + PKG,
        "+ python ./test/run_test.py",
        "Running test_nn 1/1 ... [2024-07-12 17:09:33.052528]",
        "============================= test session starts ==============================",
        "test_nn.py::TestNN::test_a PASSED [0.1s] [ 50%]",
        "test_nn.py::TestNN::test_b FAILED [0.1s] [100%]",
        "==================== 1 failed, 1 passed in 0.20s ====================",
        "TEST END: " + PKG,
    ]
    for prefix in ("Jul 06 09:41:22 ", "[2023-01-01T10:00:00.000Z] ", "[10:00:00] ", "    "):
        p = one(("\n".join(prefix + line for line in lines) + "\n").encode())
        assert p.ended == "end", prefix
        assert p.failures == {"test_nn.py::TestNN::test_b": "failed"}, prefix
        assert (p.counts.passed, p.counts.failed) == (1, 1), prefix


# --- pytest's FAILURES section -------------------------------------------------------------------
def test_failures_section_headers_name_the_tests_when_no_summary_was_printed():
    p = bare(
        "Running test_linalg 1/1 ... [2024-07-12 17:09:33.052528]",
        "============================= test session starts ==============================",
        "collected 3 items",
        "test_linalg.py .FE                                                       [100%]",
        "=================================== FAILURES ===================================",
        "_________________ TestLinalgCPU.test_det_cpu_float64 _________________",
        "E   AssertionError: Tensor-likes are not close!",
        "_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _",
        "___________________________ test_foo[param-1] ___________________________",
        "==================================== ERRORS ====================================",
        "_____________ ERROR at setup of TestLinalgCPU.test_inv_cpu _____________",
        "===================== 2 failed, 1 passed, 1 error in 1.20s =====================",
    )
    assert p.failures == {
        "test_linalg.py::TestLinalgCPU::test_det_cpu_float64": "failed",
        "test_linalg.py::test_foo[param-1]": "failed",
        "test_linalg.py::TestLinalgCPU::test_inv_cpu": "error",
    }


def test_failures_headers_do_not_duplicate_the_summary_and_passes_are_not_failures():
    p = bare(
        "============================= test session starts ==============================",
        "test_nn.py::TestNN::test_b FAILED [0.1194s]   [100%]",
        "=================================== FAILURES ===================================",
        "__________________________ TestNN.test_b __________________________",
        "==================================== PASSES ====================================",
        "__________________________ TestNN.test_a __________________________",
        "=========================== short test summary info ============================",
        "FAILED test_nn.py::TestNN::test_b - AssertionError",
        "==================== 1 failed, 1 passed in 0.20s ====================",
    )
    assert p.failures == {"test_nn.py::TestNN::test_b": "failed"}


# --- faulthandler dumps --------------------------------------------------------------------------
def test_faulthandler_dump_without_fatal_error_line_is_a_crash_recorded_once():
    p = bare(
        "Running test_ops 2/4 ... [2024-07-12 17:09:33.052528]",
        "test_ops.py::TestCommonCPU::test_x_cpu_float32 PASSED [0.1s] [ 10%]",
        "Current thread 0x00007f2b8c6b9740 (most recent call first):",
        '  File "/opt/conda/lib/python3.11/site-packages/torch/nn/functional.py", line 25 in f',
        '  File "/opt/conda/lib/python3.11/site-packages/_pytest/python.py", line 159 in g',
        "Extension modules: numpy.core._multiarray_umath, torch._C (total: 2)",
    )
    assert p.crashes == ["faulthandler stack dump: the process crashed in test_ops 2/4"]
    assert verdict(p) == "fail"


def test_fatal_error_then_its_dump_is_one_crash():
    p = bare(
        "test_nn.py::TestNN::test_x Fatal Python error: Segmentation fault",
        "",
        "Current thread 0x00007f2b8c6b9740 (most recent call first):",
        '  File "/x/test_nn.py", line 12 in test_x',
    )
    assert p.crashes == ["Fatal Python error: Segmentation fault"]
    assert p.failures == {"test_nn.py::TestNN::test_x": "crashed"}


def test_traceback_frames_are_not_a_crash():
    p = bare(
        "Traceback (most recent call last):",
        '  File "/x/test_nn.py", line 12, in test_x',
        "AssertionError: x",
        "Ran 1 test in 0.1s",
        "FAILED (failures=1)",
    )
    assert p.crashes == []


def test_faulthandler_timeout_dump_is_a_hang_not_a_crash():
    p = bare(
        "Running test_nn 1/1 ... [2024-07-12 17:09:33.052528]",
        "Timeout (0:30:00)!",
        "Thread 0x00007f2a6dffb700 (most recent call first):",
        '  File "/x/threading.py", line 320 in wait',
    )
    assert p.crashes == [] and p.timeouts == ["test_nn 1/1 hung (faulthandler timeout 0:30:00)"]
    assert verdict(p) == "fail"


# --- unfinished pytest sessions ------------------------------------------------------------------
def test_a_session_without_its_count_line_is_never_a_pass_even_unframed():
    p = bare(
        "============================= test session starts ==============================",
        "collected 3 items",
        "test_nn.py::TestNN::test_a PASSED [0.1s] [ 33%]",
        "test_nn.py::TestNN::test_b PASSED [0.1s] [ 66%]",
    )
    assert any("never printed its final count line" in i for i in p.interruptions)
    assert verdict(p) == "fail"


def test_an_excerpt_starting_at_collected_counts_as_a_session():
    p = bare("collected 2 items", "test_nn.py::TestNN::test_a PASSED [0.1s] [ 50%]")
    assert verdict(p) == "fail"


def test_a_finished_session_or_an_explained_one_adds_nothing():
    finished = bare(
        "============================= test session starts ==============================",
        "test_nn.py::TestNN::test_a PASSED [0.1s] [100%]",
        "======================== 1 passed in 0.20s ========================",
    )
    assert finished.interruptions == [] and verdict(finished) == "pass"
    crashed = bare(
        "Running test_nn 1/1 ... [2024-07-12 17:09:33.052528]",
        "============================= test session starts ==============================",
        "test_nn.py::TestNN::test_a Fatal Python error: Aborted",
        "Got exit code -6 (SIGIOT)",
    )
    assert crashed.interruptions == [] and crashed.crashes


def test_an_unfinished_session_followed_by_another_is_reported():
    p = one(
        phase(
            "+ pytest test/test_a.py test/test_b.py",
            "============================= test session starts ==============================",
            "test_a.py::T::test_1 PASSED [0.1s] [ 50%]",
            "============================= test session starts ==============================",
            "test_b.py::T::test_1 PASSED [0.1s] [100%]",
            "======================== 1 passed in 0.20s ========================",
        )
    )
    assert len(p.interruptions) == 1 and verdict(p) == "fail"


def test_collect_only_count_line_closes_the_session():
    p = bare(
        "============================= test session starts ==============================",
        "collected 5 items",
        "======================== 5 tests collected in 0.20s ========================",
    )
    assert p.interruptions == []


def test_framed_phase_with_an_unfinished_session_fails_although_test_end_came():
    data = phase(
        "+ python -m pytest test/test_nn.py",
        "============================= test session starts ==============================",
        "test_nn.py::TestNN::test_a PASSED [0.1s] [ 50%]",
        "+ true",
    )
    (p,) = parse_bytes(data).phases
    assert p.ended == "end" and verdict(p) == "fail"


def test_a_traceback_frame_names_the_file_of_its_test_only():
    """Failures without a file learn it from a frame in their own test function, by name:
    the others keep their Class::test ids (and a frame costs a lookup, not a pass over all)."""
    lines = [f"FAIL: test_{i} (__main__.TestX)" for i in range(300)]
    lines += ['  File "/ci/pytorch/test/test_nn.py", line 9, in test_7'] * 200
    lines += ["Ran 300 tests in 1.0s", "FAILED (failures=300)"]
    p = bare(*lines)
    assert "test_nn.py::TestX::test_7" in p.failures
    assert "TestX::test_8" in p.failures and len(p.failures) == 300
