# ruff: noqa: E501  (one example line per rule, mirroring the rule table)
"""One example line per rule of tools.logs.RULES: adding a rule means adding a line here.

Each example is a line in the format of ../shared/reference/pytorch-test-output.md or
../shared/reference/conda-build.md ("What the log shows"); the test checks that this rule (and no
earlier one) claims the line, and the named groups it extracts.
"""

from __future__ import annotations

import pytest

from tools.logs import _PREFILTER, RULES, _literals, _pattern, clean_line

EXAMPLES = [
    ("conda.test_start", "TEST START: /croot/linux-64/pytorch-2.5.1-py311_0.conda", {"package": "/croot/linux-64/pytorch-2.5.1-py311_0.conda"}),
    ("conda.test_end", "TEST END: /croot/linux-64/pytorch-2.5.1-py311_0.conda", {}),
    ("conda.nothing_to_test", "Nothing to test for: /croot/linux-64/libtorch-2.5.1-0.conda", {}),
    ("conda.tests_failed", "conda_build.exceptions.CondaBuildUserError: TESTS FAILED: pytorch-2.5.1-py311_0.conda", {"package": "pytorch-2.5.1-py311_0.conda"}),
    ("conda.tests_failed_warning", "WARNING: Tests failed for pytorch-2.5.1-py311_0.conda - moving package to /croot/broken", {"package": "pytorch-2.5.1-py311_0.conda"}),
    ("conda.build_start", "BUILD START: ['pytorch-2.5.1-py311_0.conda']", {}),
    ("bash.echo", "+ python ./test/run_test.py --core --continue-through-error", {"cmd": "python ./test/run_test.py --core --continue-through-error"}),
    ("bash.killed", "/bin/bash: line 12: 4711 Killed                  python ./test/run_test.py", {"what": "Killed"}),
    ("run_test.missing_dep", "Missing pip dependency: pytest-rerunfailures, please run `pip install -r .ci/docker/requirements-ci.txt`", {}),
    ("run_test.running", "Running test_nn 1/1 ... [2024-07-12 17:09:33.052528]", {"file": "test_nn 1/1"}),
    ("run_test.log_file", "PRINTING LOG FILE of test_cuda 1/1 (test/test-reports/test_cuda_1.1_2d3796d4cc177c38_.log)", {"file": "test_cuda 1/1"}),
    ("run_test.executing", "Executing ['python', '-bb', 'test_nn.py', '--shard-id=1', '--num-shards=1', '-vv'] ... [2024-07-12 17:09:33.052528]", {}),
    ("run_test.exit_code", "Got exit code -11 (SIGSEGV)", {"code": "-11", "signal": "SIGSEGV"}),
    ("run_test.timeout", "Command took >30min, returning 124", {"minutes": "30"}),
    ("run_test.retry", "Retrying single test...", {}),
    ("run_test.retry_ok", "Test succeeeded in new process, continuing with the rest of the tests", {}),
    ("run_test.failed_consistently", "FAILED CONSISTENTLY: test/test_x.py::TestX::test_y", {"test": "test/test_x.py::TestX::test_y"}),
    ("run_test.failed_consistently_list", "The following tests failed consistently: ['test/test_x.py::T::t']", {"list": "['test/test_x.py::T::t']"}),
    ("run_test.flaky_list", "The following tests failed and then succeeded when run in a new process['test/test_x.py::T::t']", {"list": "['test/test_x.py::T::t']"}),
    ("run_test.file_failed", "nn/test_pruning 1/1 failed! Received signal: SIGBUS", {"file": "nn/test_pruning 1/1", "signal": "SIGBUS"}),
    ("run_test.aborted", "RuntimeError: test_ops 3/4 failed!", {"file": "test_ops 3/4"}),
    ("run_test.file_ok", "test_nn 1/4 was successful, full logs can be found in artifacts with path test/test-reports/x.log", {"file": "test_nn 1/4"}),
    ("pytest.session_start", "============================= test session starts ==============================", {}),
    ("pytest.final_counts", "==== 2 failed, 2 passed, 1 skipped, 1 xfailed, 1 warning, 1 error in 0.03s ====", {"body": "2 failed, 2 passed, 1 skipped, 1 xfailed, 1 warning, 1 error"}),
    ("pytest.interrupted", "!!!!!!!!!!!!!!!!!!!! Interrupted: 2 errors during collection !!!!!!!!!!!!!!!!!!!!", {"what": "Interrupted: 2 errors during collection"}),
    ("pytest.collect_error", "_______________________ ERROR collecting test_sparse.py ________________________", {"file": "test_sparse.py"}),
    ("pytest.summary", "FAILED [0.3790s] test_x.py::C::t - AssertionError: not close", {"outcome": "FAILED", "test": "test_x.py::C::t", "msg": "AssertionError: not close"}),
    ("pytest.verbose", "test_nn.py::TestNN::test_x FAILED [0.1194s]   [  0%]", {"test": "test_nn.py::TestNN::test_x", "outcome": "FAILED"}),
    ("pytest.verbose_rerun_tuple", "test_x.py::T::test_y ('RERUN', {'yellow': True}) [0.0117s] [ 70%]", {"test": "test_x.py::T::test_y", "outcome": "RERUN"}),
    ("pytest.xdist", "[gw3] [ 10%] FAILED test/test_linalg.py::TestLinalgCPU::test_x", {"outcome": "FAILED", "test": "test/test_linalg.py::TestLinalgCPU::test_x"}),
    ("pytest.worker_crash", "worker 'gw1' crashed while running 'test/test_linalg.py::TestLinalgCPU::test_x'", {"worker": "gw1", "test": "test/test_linalg.py::TestLinalgCPU::test_x"}),
    ("pytest.node_down", "[gw4] node down: Not properly terminated", {"worker": "gw4", "what": "Not properly terminated"}),
    ("pytest.max_crashed", "maximum crashed workers reached: 4", {"n": "4"}),
    ("pytest.quiet", "......F..s.xFE                                                           [ 23%]", {"chars": "......F..s.xFE"}),
    ("python.fatal", "Fatal Python error: Segmentation fault", {"what": "Segmentation fault"}),
    ("torch.cuda_oom", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.39 GiB.", {}),
    ("unittest.ran", "Ran 123 tests in 4.500s", {"n": "123"}),
    ("unittest.ok", "OK (skipped=5)", {"status": "OK", "detail": "skipped=5"}),
    ("unittest.failed", "FAILED (failures=2, errors=1, skipped=3, expected failures=1, unexpected successes=1)", {"status": "FAILED"}),
    ("unittest.no_tests", "NO TESTS RAN", {}),
    ("unittest.header", "FAIL: test_x (__main__.TestX)", {"outcome": "FAIL", "name": "test_x", "cls": "__main__.TestX"}),
    ("unittest.verbose", "test_x (__main__.TestX) ... skipped 'no CUDA'", {"test": "test_x (__main__.TestX)", "outcome": "skipped"}),
    ("pip.check", "torchvision 0.20.1 has requirement torch==2.5.0, but you have torch 2.5.1.", {}),
    ("python.exception", "ModuleNotFoundError: No module named 'expecttest'", {"what": "ModuleNotFoundError: No module named 'expecttest'"}),
]  # fmt: skip


def claiming_rule(line: str):
    """The first rule whose keyword is in the line and whose pattern matches (as the parser)."""
    raw = line.encode()
    text = clean_line(raw)
    for rule in RULES:
        if any(lit in raw for lit in _literals(rule.keyword)):
            m = _pattern(rule).search(text)
            if m:
                return rule, m
    return None, None


@pytest.mark.parametrize(("name", "line", "groups"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_rule_claims_its_example(name, line, groups):
    rule, m = claiming_rule(line)
    assert rule is not None and rule.name == name, f"claimed by {rule and rule.name}"
    for key, value in groups.items():
        assert m[key] == value


@pytest.mark.parametrize(("name", "line", "groups"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_rule_survives_noise(name, line, groups):
    """GHA timestamp, ANSI colours around the line and CRLF do not change which rule claims it."""
    noisy = f"2025-08-01T17:19:12.4224458Z \x1b[1m{line}\x1b[0m\r"
    rule, m = claiming_rule(noisy)
    assert rule is not None and rule.name == name
    for key, value in groups.items():
        assert m[key] == value


def test_every_rule_has_an_example():
    assert {r.name for r in RULES} == {e[0] for e in EXAMPLES}


def test_rule_names_are_unique_and_kinds_have_handlers():
    from tools.logs import LogParser, PhaseState

    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    framing = {"phase_start", "phase_end", "phase_nothing", "phase_failed", "build_start"}
    for rule in RULES:
        assert rule.kind in framing or hasattr(PhaseState, f"_on_{rule.kind}"), rule.name
    assert hasattr(LogParser, "_event")


def test_keywords_are_flat_literals():
    # the prefilter joins keywords into one flat alternation: groups would break it
    for rule in RULES:
        assert "(?" not in rule.keyword and "(" not in rule.keyword.replace("\\(", ""), rule.name


@pytest.mark.parametrize(
    "line",
    [
        "[1/3] c++ -O3 -DNDEBUG -c $SRC_DIR/aten/src/ATen/native/cpu/Activation.cpp",
        "test_nn.py::TestNN::test_x PASSED [0.1194s]   [  0%]",
        "compiled 5 files in 2.0s",  # looks like a count line, is not pytest's
        "Uploading artifacts took 0.26 seconds",
    ],
)
def test_noise_lines_claim_no_event(line):
    rule, _ = claiming_rule(line)
    assert rule is None or rule.kind in ("result",), rule and rule.name


def test_prefilter_lets_every_example_through_or_it_is_a_line_end_rule():
    from tools.logs import _TAIL_RULES

    for name, line, _ in EXAMPLES:
        if name not in _TAIL_RULES:
            assert _PREFILTER.search(line.encode()), name
