# ruff: noqa: E501  (the rule table keeps one rule per line, by design)
"""The line formats validate_logs knows: one ``Rule`` each, with real example lines.

A rule names an event kind (``PhaseState._on_<kind>`` in tools/validate_logs/phase.py handles
it), a regex over the cleaned line, literal keywords the raw line must contain (they feed the
prefilter that keeps the parser fast), and examples that tests/test_logs_rules.py runs through
``classify``, the function the parser uses. Where each format comes from is cited beside it
and in docs/FACTS.md ("PyTorch's test output", "Command line and log"): conda-build's framing
(conda_build/build.py, ``test()``), PyTorch's test/run_test.py and
torch/testing/_internal/common_distributed.py, pytest's terminal reporter
(src/_pytest/terminal.py), pytest-xdist, pytest-rerunfailures, CPython's unittest runner
(Lib/unittest/runner.py) and faulthandler (Modules/faulthandler.c), glibc's malloc checks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import NamedTuple

from tools.text import strip_controls
from tools.validate_logs.results import FailureOutcome

MAX_LINE = 16 << 10  # bytes of one line that are decoded and matched; the rest is ignored


Example = tuple[str, dict[str, str]]  # a line as a real log prints it, and the groups it yields


class Rule(NamedTuple):
    """One line format: its examples are checked by tests/test_logs_rules.py through classify()."""

    name: str  # stable identifier, shown in evidence
    kind: str  # event kind: PhaseState._on_<kind> handles it
    pattern: str  # regex searched in the cleaned line (timestamp, ANSI, CR, indentation removed)
    keyword: str  # literal(s) the raw line must contain, "A|B" for either (escaped, no groups)
    doc: str  # what it means
    examples: tuple[Example, ...] = ()  # at least one; where the format comes from, in comments


# Order matters: the first rule whose keyword and pattern match a line wins.
RULES: list[Rule] = [
    # conda-build framing: conda_build/build.py, test() and build()
    Rule(
        "conda.test_start",
        "phase_start",
        r"^TEST START: (?P<package>\S.*)$",
        r"TEST START:",
        "conda-build starts testing a package",
        examples=(
            (
                "TEST START: /croot/linux-64/pytorch-2.5.1-py311_0.conda",
                {"package": "/croot/linux-64/pytorch-2.5.1-py311_0.conda"},
            ),
        ),
    ),
    Rule(
        "conda.test_end",
        "phase_end",
        r"^TEST END: (?P<package>\S.*)$",
        r"TEST END:",
        "conda-build finished testing a package successfully",
        examples=(("TEST END: /croot/linux-64/pytorch-2.5.1-py311_0.conda", {}),),
    ),
    Rule(
        "conda.nothing_to_test",
        "phase_nothing",
        r"^Nothing to test for: (?P<package>\S.*)$",
        r"Nothing to test for:",
        "the package has no tests",
        examples=(("Nothing to test for: /croot/linux-64/libtorch-2.5.1-0.conda", {}),),
    ),
    Rule(
        "conda.tests_failed",
        "phase_failed",
        r"TESTS FAILED: (?P<package>\S+)",
        r"TESTS FAILED:",
        "conda-build: the test commands failed",
        examples=(
            (
                "conda_build.exceptions.CondaBuildUserError: TESTS FAILED: pytorch-2.5.1-py311_0.conda",
                {"package": "pytorch-2.5.1-py311_0.conda"},
            ),
        ),
    ),
    Rule(
        "conda.tests_failed_warning",
        "phase_failed",
        r"^WARNING: Tests failed for (?P<package>\S+)",
        r"Tests failed for",
        "conda-build: the test commands failed",
        examples=(
            (
                "WARNING: Tests failed for pytorch-2.5.1-py311_0.conda - moving package to /croot/broken",
                {"package": "pytorch-2.5.1-py311_0.conda"},
            ),
        ),
    ),
    Rule(
        "conda.build_start",
        "build_start",
        r"^BUILD START: (?P<package>.*)$",
        r"BUILD START:",
        "a new build begins (the previous test phase is over)",
        examples=(("BUILD START: ['pytorch-2.5.1-py311_0.conda']", {}),),
    ),
    # commands echoed by `set -x`
    Rule(
        "bash.echo",
        "command",
        r"^\++ (?P<cmd>\S.*)$",
        r"\+ ",
        "a test command echoed by set -x; `+ true` after the suite: it exited non-zero",
        examples=(
            (
                "+ python ./test/run_test.py --core --continue-through-error",
                {"cmd": "python ./test/run_test.py --core --continue-through-error"},
            ),
        ),
    ),
    Rule(
        "bash.killed",
        "crash",
        r"(?:^|: )(?:line \d+: )?\s*\d+ (?P<what>Killed|Segmentation fault|Aborted|Bus error)(?: \(core dumped\))?\s",
        r"Killed|Segmentation fault|Aborted|Bus error",
        "bash reports a child killed by a signal (Killed = SIGKILL, usually the OOM killer)",
        examples=(
            (
                "/bin/bash: line 12: 4711 Killed                  python ./test/run_test.py",
                {"what": "Killed"},
            ),
        ),
    ),
    Rule(
        "shell.signal",
        "crash",
        r"^(?P<what>Killed|Segmentation fault|Aborted|Bus error|Illegal instruction|Floating point exception)(?: \(core dumped\))?$",
        r"Killed|Segmentation fault|Aborted|Bus error|Illegal instruction|Floating point exception",
        "an interactive shell reports its command killed by a signal",
        # tests/fixtures/logs/real/run_test_segfault_core_dumped_at_start.log
        examples=(("Segmentation fault (core dumped)", {"what": "Segmentation fault"}),),
    ),
    # CI runners ending a job
    Rule(
        "ci.step_killed",
        "ci_exit",
        r"^##\[error\]Process completed with exit code (?P<code>\d+)\.",
        r"Process completed with exit code",
        "GitHub Actions: the step's process ended; above 128 it was killed by signal code-128",
        # tests/fixtures/logs/real/feedstock_gha_exit_code_137.log
        examples=(("##[error]Process completed with exit code 137.", {"code": "137"}),),
    ),
    Rule(
        "ci.no_output",
        "ci_timeout",
        r"^(?P<what>Too long with no output \(exceeded [^)]*\))",
        r"Too long with no output",
        "CircleCI killed a job that printed nothing for too long",
        # tests/fixtures/logs/real/circleci_timeout_no_output.log
        examples=(
            (
                "Too long with no output (exceeded 1h30m0s)",
                {"what": "Too long with no output (exceeded 1h30m0s)"},
            ),
        ),
    ),
    # PyTorch test/run_test.py: run_test(), print_log_file(), handle_error_messages(); a file
    # name carries " i/N" (its shard) since 2.1; older releases print the bare name
    Rule(
        "run_test.missing_dep",
        "fell_over",
        r"Missing pip dependency: (?P<what>.*)$",
        r"Missing pip dependency",
        "run_test.py exits before running anything",
        examples=(
            (
                "Missing pip dependency: pytest-rerunfailures, please run `pip install -r .ci/docker/requirements-ci.txt`",
                {},
            ),
        ),
    ),
    Rule(
        "run_test.running",
        "file_start",
        r"^Running (?P<file>\S+(?: \d+/\d+)?) \.\.\. \[",
        r"Running ",
        "run_test.py starts a test file (shard)",
        examples=(
            ("Running test_nn 1/1 ... [2024-07-12 17:09:33.052528]", {"file": "test_nn 1/1"}),
            # releases before 2.1: no shard
            ("Running test_autograd ... [2019-03-01 10:00:00.000000]", {"file": "test_autograd"}),
        ),
    ),
    Rule(
        "run_test.log_file",
        "file_start",
        r"^PRINTING LOG FILE of (?P<file>\S+ \d+/\d+)",
        r"PRINTING LOG FILE",
        "run_test.py prints a test file's captured log (CI)",
        examples=(
            (
                "PRINTING LOG FILE of test_cuda 1/1 (test/test-reports/test_cuda_1.1_2d3796d4cc177c38_.log)",
                {"file": "test_cuda 1/1"},
            ),
        ),
    ),
    Rule(
        "run_test.executing",
        "session_exec",
        r"^Executing \[",
        r"Executing \[",
        "run_test.py starts a test process",
        examples=(
            (
                "Executing ['python', '-bb', 'test_nn.py', '--shard-id=1', '--num-shards=1', '-vv'] ... [2024-07-12 17:09:33.052528]",
                {},
            ),
        ),
    ),
    Rule(
        "run_test.exit_code",
        "exit_code",
        r"^Got exit code (?P<code>-?\d+)(?: \((?P<signal>\w+)\))?(?P<retry>, retrying)?",
        r"Got exit code",
        "a test process ended; negative = signal, 124 = timeout",
        examples=(("Got exit code -11 (SIGSEGV)", {"code": "-11", "signal": "SIGSEGV"}),),
    ),
    Rule(
        "run_test.timeout",
        "timeout",
        r"^Command took >(?P<minutes>\d+)min, returning 124",
        r"Command took >",
        "run_test.py killed a test file that ran too long",
        examples=(("Command took >30min, returning 124", {"minutes": "30"}),),
    ),
    Rule(
        "run_test.retry",
        "retry",
        r"^(?:Retrying single test\.\.\.|Retrying\.\.\.)",
        r"Retrying",
        "the next pytest session re-runs a failed test",
        examples=(("Retrying single test...", {}),),
    ),
    Rule(
        "run_test.retry_ok",
        "retry_ok",
        r"^Test succee?e?ded in new process",
        r"Test succe",
        "the re-run in a new process passed (which test: see the flaky list)",
        examples=(("Test succeeeded in new process, continuing with the rest of the tests", {}),),
    ),
    Rule(
        "run_test.failed_consistently",
        "failed_test",
        r"^FAILED CONSISTENTLY: (?P<test>\S+)",
        r"FAILED CONSISTENTLY:",
        "run_test.py (2.10+): a test failed on every retry",
        examples=(
            (
                "FAILED CONSISTENTLY: test/test_x.py::TestX::test_y",
                {"test": "test/test_x.py::TestX::test_y"},
            ),
        ),
    ),
    Rule(
        "run_test.failed_consistently_list",
        "failed_list",
        r"^The following tests failed consistently: (?P<list>\[.*\])",
        r"The following tests failed",
        "run_test.py: tests that failed on every retry",
        examples=(
            (
                "The following tests failed consistently: ['test/test_x.py::T::t']",
                {"list": "['test/test_x.py::T::t']"},
            ),
        ),
    ),
    Rule(
        "run_test.flaky_list",
        "flaky_list",
        r"^The following tests failed and then succeeded when run in a new process\s*(?P<list>\[.*\])",
        r"The following tests failed",
        "run_test.py: flaky tests",
        examples=(
            (
                "The following tests failed and then succeeded when run in a new process['test/test_x.py::T::t']",
                {"list": "['test/test_x.py::T::t']"},
            ),
        ),
    ),
    Rule(
        "run_test.file_failed",
        "file_failed",
        r"^(?P<file>\S+ \d+/\d+|(?:[\w.-]+/)*test_\w+) failed!(?: Received signal: (?P<signal>\w+)| (?P<msg>\S.*))?$",
        r"failed!",
        "run_test.py: a test file failed (with the signal that killed it)",
        examples=(
            (
                "nn/test_pruning 1/1 failed! Received signal: SIGBUS",
                {"file": "nn/test_pruning 1/1", "signal": "SIGBUS"},
            ),
            (
                "test_jit failed! Received signal: SIGSEGV",
                {"file": "test_jit", "signal": "SIGSEGV"},
            ),
        ),
    ),
    Rule(
        "run_test.aborted",
        "aborted",
        r"^RuntimeError: (?P<file>\S+ \d+/\d+|(?:[\w.-]+/)*test_\w+) failed!(?: Received signal: (?P<signal>\w+))?",
        r"RuntimeError: ",
        "run_test.py stopped at the first failing file (no --continue-through-error)",
        examples=(
            ("RuntimeError: test_ops 3/4 failed!", {"file": "test_ops 3/4"}),
            (
                "RuntimeError: test_c10d failed! Received signal: SIGSEGV",
                {"file": "test_c10d", "signal": "SIGSEGV"},
            ),
        ),
    ),
    Rule(
        "run_test.file_ok",
        "file_ok",
        r"^(?P<file>\S+ \d+/\d+) was successful",
        r"was successful",
        "run_test.py: a test file passed (CI)",
        examples=(
            (
                "test_nn 1/4 was successful, full logs can be found in artifacts with path test/test-reports/x.log",
                {"file": "test_nn 1/4"},
            ),
        ),
    ),
    # pytest: src/_pytest/terminal.py (TerminalReporter), pytest-xdist, pytest-rerunfailures
    Rule(
        "pytest.session_start",
        "session_start",
        r"^=+ test session starts =+$",
        r"= test session starts",
        "a pytest session begins",
        examples=(
            (
                "============================= test session starts ==============================",
                {},
            ),
        ),
    ),
    Rule(
        "pytest.final_counts",
        "final_counts",
        r"^=* ?(?P<body>(?:\d+ [a-z ]+?(?:, )?)+|no tests ran) in (?P<secs>\d+(?:\.\d+)?)s(?: \(\d+:\d\d:\d\d\))? ?=*$",
        r" in ",
        "pytest's final count line",
        examples=(
            (
                "==== 2 failed, 2 passed, 1 skipped, 1 xfailed, 1 warning, 1 error in 0.03s ====",
                {"body": "2 failed, 2 passed, 1 skipped, 1 xfailed, 1 warning, 1 error"},
            ),
        ),
    ),
    Rule(
        "pytest.interrupted",
        "interrupted",
        r"^!+ (?P<what>Interrupted: .*?|KeyboardInterrupt|_pytest\.outcomes\.Exit: .*?|stopping after \d+ failures?) !+$",
        r"!!! ",
        "pytest stopped early: collection errors, Ctrl-C/timeout, Exit, -x",
        examples=(
            (
                "!!!!!!!!!!!!!!!!!!!! Interrupted: 2 errors during collection !!!!!!!!!!!!!!!!!!!!",
                {"what": "Interrupted: 2 errors during collection"},
            ),
        ),
    ),
    Rule(
        "pytest.collect_error",
        "collect_error",
        r"^_+ ERROR collecting (?P<file>\S+) _+$",
        r"ERROR collecting",
        "pytest could not import/collect a test file",
        examples=(
            (
                "_______________________ ERROR collecting test_sparse.py ________________________",
                {"file": "test_sparse.py"},
            ),
        ),
    ),
    Rule(
        "pytest.section",
        "section",
        r"^=+ (?P<title>FAILURES|ERRORS|PASSES|RERUNS|short test summary info|warnings summary|slowest \d+ durations) =+$",
        r" FAILURES =| ERRORS =| PASSES =| RERUNS =|short test summary|warnings summary| durations =",
        "a section of pytest's report: FAILURES and ERRORS hold one header per failing test",
        examples=(
            (
                "=================================== FAILURES ===================================",
                {"title": "FAILURES"},
            ),
            (
                "=========================== short test summary info ============================",
                {"title": "short test summary info"},
            ),
        ),
    ),
    Rule(
        "pytest.failure_header",
        "failure_header",
        r"^_+ (?P<setup>ERROR at (?:setup|teardown) of )?(?P<test>[A-Za-z][\w.]*(?:\[.*\])?) _+$",
        r" __",
        "a failing test's header in pytest's FAILURES/ERRORS section (Class.test or test[param])",
        examples=(
            (
                "__________________ TestLinalgCPU.test_det_cpu_float64 __________________",
                {"test": "TestLinalgCPU.test_det_cpu_float64"},
            ),
            (
                "______________________ test_foo[param-1] ______________________",
                {"test": "test_foo[param-1]"},
            ),
            (
                "_____________ ERROR at setup of TestX.test_y _____________",
                {"setup": "ERROR at setup of ", "test": "TestX.test_y"},
            ),
        ),
    ),
    Rule(
        "pytest.collected",
        "collected",
        r"^(?:collecting \.\.\. )?collected (?P<n>\d+) items?(?: / (?P<errors>\d+) errors?)?",
        r" item",
        "pytest collected the tests of a session (its final count line must follow)",
        examples=(
            ("collected 1479 items / 22 deselected / 1457 selected", {"n": "1479"}),
            ("collecting ... collected 12 items", {"n": "12"}),
            # tests/fixtures/logs/real/feedstock_session_start_collect_errors_cut.log
            ("collected 192953 items / 60 errors / 1 skipped", {"n": "192953", "errors": "60"}),
        ),
    ),
    Rule(
        "pytest.summary",
        "summary_result",
        r"^(?P<outcome>FAILED|ERROR|XPASS)(?: \[\d+(?:\.\d+)?s\])? (?P<test>[^\s\[(]\S*(?:\[.*?\])?)(?: - (?P<msg>.*))?$",
        r"FAILED |ERROR |XPASS ",
        "pytest's short test summary (-rfEX)",
        examples=(
            (
                "FAILED [0.3790s] test_x.py::C::t - AssertionError: not close",
                {
                    "outcome": "FAILED",
                    "test": "test_x.py::C::t",
                    "msg": "AssertionError: not close",
                },
            ),
        ),
    ),
    Rule(
        "pytest.verbose",
        "result",
        r"^(?P<test>\S+::.+?)(?: <- \S+)? (?P<outcome>FAILED|ERROR|XFAIL|XPASS|RERUN|PASSED|SKIPPED)\b",
        r"FAILED|ERROR|XFAIL|XPASS|RERUN|PASSED|SKIPPED",
        "pytest -v line: nodeid OUTCOME [duration] [ nn%]",
        examples=(
            (
                "test_nn.py::TestNN::test_x FAILED [0.1194s]   [  0%]",
                {"test": "test_nn.py::TestNN::test_x", "outcome": "FAILED"},
            ),
        ),
    ),
    Rule(
        "pytest.verbose_rerun_tuple",
        "result",
        r"^(?P<test>\S+::.+?)(?: <- \S+)? \('(?P<outcome>RERUN)',",
        r"RERUN",
        "pytest -v rerun line under PyTorch's conftest",
        examples=(
            (
                "test_x.py::T::test_y ('RERUN', {'yellow': True}) [0.0117s] [ 70%]",
                {"test": "test_x.py::T::test_y", "outcome": "RERUN"},
            ),
        ),
    ),
    Rule(
        "pytest.xdist",
        "result",
        r"^\[gw\d+\] \[ *\d+%\] (?P<outcome>PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED|RERUN) (?P<test>\S.*)$",
        r"\[gw",
        "pytest-xdist -v line",
        examples=(
            (
                "[gw3] [ 10%] FAILED test/test_linalg.py::TestLinalgCPU::test_x",
                {"outcome": "FAILED", "test": "test/test_linalg.py::TestLinalgCPU::test_x"},
            ),
        ),
    ),
    Rule(
        "pytest.worker_crash",
        "worker_crash",
        r"worker '(?P<worker>gw\d+)' crashed while running '(?P<test>[^']+)'",
        r"' crashed while",
        "an xdist worker died in a test",
        examples=(
            (
                "worker 'gw1' crashed while running 'test/test_linalg.py::TestLinalgCPU::test_x'",
                {"worker": "gw1", "test": "test/test_linalg.py::TestLinalgCPU::test_x"},
            ),
        ),
    ),
    Rule(
        "pytest.node_down",
        "worker_down",
        r"^\[(?P<worker>gw\d+)\] node down: (?P<what>.*)$",
        r"\] node down",
        "an xdist worker died",
        examples=(
            (
                "[gw4] node down: Not properly terminated",
                {"worker": "gw4", "what": "Not properly terminated"},
            ),
        ),
    ),
    Rule(
        "pytest.max_crashed",
        "worker_limit",
        r"^maximum crashed workers reached: (?P<n>\d+)",
        r"maximum crashed workers",
        "xdist gave up after too many crashes",
        examples=(("maximum crashed workers reached: 4", {"n": "4"}),),
    ),
    Rule(
        "pytest.quiet",
        "quiet",
        r"^(?:\S+\.py +)?(?P<chars>[.FEsxXR]+) +\[ *\d+%\]$",
        r"%\]",
        "pytest's progress line (-q, or the default with the file first)",
        examples=(
            (
                "......F..s.xFE                                                           [ 23%]",
                {"chars": "......F..s.xFE"},
            ),
            # tests/fixtures/logs/real/feedstock_glibc_free_invalid_next_size.log
            (
                "test_cuda_trace.py FFFFFFFFFFFF                                          [  4%]",
                {"chars": "FFFFFFFFFFFF"},
            ),
        ),
    ),
    # crashes inside a test process
    Rule(
        "python.fatal",
        "crash",
        r"(?:^|\s)(?:Fatal Python error|Windows fatal exception): (?P<what>.*)$",
        r"Fatal Python error|Windows fatal exception",
        "the interpreter crashed (segfault, abort)",
        examples=(("Fatal Python error: Segmentation fault", {"what": "Segmentation fault"}),),
    ),
    Rule(
        "cxx.terminate",
        "crash",
        r"(?P<what>terminate called (?:after throwing an instance of '[^']*'|without an active exception|recursively))",
        r"terminate called",
        "an uncaught C++ exception: std::terminate aborts the process",
        # tests/fixtures/logs/real/circleci_indented_terminate_called.log
        examples=(
            (
                "test_all_reduce_sum_cuda (__main__.TestDistBackendWithSpawn) ... terminate called after throwing an instance of 'c10::Error'",
                {"what": "terminate called after throwing an instance of 'c10::Error'"},
            ),
        ),
    ),
    Rule(
        "glibc.error",
        "crash",
        r"\*\*\* (?P<what>Error in `[^`']*'?: .*?)(?:: 0x[0-9a-f]+)? \*\*\*",
        r"\*\*\* Error in",
        "glibc found heap corruption and aborts the process (glibc before 2.26)",
        # tests/fixtures/logs/real/feedstock_glibc_free_invalid_next_size.log
        examples=(
            (
                "...FFFF..*** Error in `/envs/pytorch-test/bin/python3.10': free(): invalid next size (fast): 0x000055e1589b6900 ***",
                {
                    "what": "Error in `/envs/pytorch-test/bin/python3.10': free(): invalid next size (fast)"
                },
            ),
        ),
    ),
    Rule(
        "native.signal_received",
        "crash",
        r"^Signal Received: (?P<n>\d+) \((?P<what>\w+)\)",
        r"Signal Received: ",
        "a native crash handler's report (an out-of-tree backend's test run)",
        # tests/fixtures/logs/real/faulthandler_extension_modules_signal_abort.log
        examples=(("Signal Received: 6 (Aborted)", {"n": "6", "what": "Aborted"}),),
    ),
    Rule(
        "torch.dist_worker_signal",
        "worker_signal",
        r"Expected zero exit code but got (?P<code>-\d+)",
        r"Expected zero exit code but got -",
        "a distributed test's worker process died by a signal (common_distributed.py)",
        # tests/fixtures/logs/real/circleci_fail_duration_exitcode_minus11.log
        examples=(
            (
                "AssertionError: False is not true : Expected zero exit code but got -11",
                {"code": "-11"},
            ),
        ),
    ),
    Rule(
        "torch.dist_worker_timeout",
        "worker_timeout",
        r"Process (?P<n>\d+) terminated or timed out after (?P<secs>\d+(?:\.\d+)?) seconds",
        r"terminated or timed out after",
        "a distributed test's worker process hung (common_distributed.py)",
        # tests/fixtures/logs/real/jenkins_hhmmss_error_process_timeout.log
        examples=(
            (
                "RuntimeError: Process 0 terminated or timed out after 100.08543348312378 seconds",
                {"n": "0", "secs": "100.08543348312378"},
            ),
        ),
    ),
    # faulthandler's dump (Modules/faulthandler.c) may be all an excerpt shows of a crash
    Rule(
        "python.faulthandler_timeout",
        "dump_timeout",
        r"^Timeout \((?P<t>\d+:\d\d:\d\d(?:\.\d+)?)\)!$",
        r"Timeout \(",
        "faulthandler.dump_traceback_later fired: the stacks that follow are a hung process's",
        examples=(("Timeout (0:30:00)!", {"t": "0:30:00"}),),
    ),
    Rule(
        "python.faulthandler_thread",
        "crash_dump",
        r"^(?:Current thread|Thread) 0x[0-9a-fA-F]+ \(most recent call first\):",
        r"most recent call first",
        "faulthandler dumps a thread's stack: the process crashed (or hung and was dumped)",
        examples=(
            ("Current thread 0x00007f2b8c6b9740 (most recent call first):", {}),
            ("Thread 0x00007f2a6dffb700 (most recent call first):", {}),
        ),
    ),
    Rule(
        "python.faulthandler_frame",
        "crash_dump",
        r'^File "[^"]*", line \d+ in \S+$',
        r'", line ',
        "a frame of faulthandler's dump (a traceback's frame has ', in' instead)",
        examples=(
            # tests/fixtures/logs/real/faulthandler_no_fatal_line_view_ops.log
            ('  File "/dev/shm/pytorch/test/test_view_ops.py", line 694 in test_T_view', {}),
            (
                '  File "/opt/conda/lib/python3.11/site-packages/torch/nn/functional.py", line 2546 in batch_norm',
                {},
            ),
        ),
    ),
    Rule(
        "python.extension_modules",
        "crash_dump",
        r"^Extension modules: \S",
        r"Extension modules: ",
        "faulthandler's list of loaded extension modules, printed after a fatal error (3.10+)",
        examples=(
            (
                "Extension modules: numpy.core._multiarray_umath, torch._C, torch._C._fft (total: 20)",
                {},
            ),
        ),
    ),
    Rule(
        "torch.cuda_oom",
        "oom",
        r"(?P<what>(?:torch\.)?(?:cuda\.)?OutOfMemoryError: .*|CUDA out of memory\..*)$",
        r"OutOfMemoryError|CUDA out of memory",
        "CUDA ran out of memory",
        examples=(("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.39 GiB.", {}),),
    ),
    # unittest: Lib/unittest/runner.py (TextTestResult; PyTorch's runner adds ' [0.026s]')
    Rule(
        "unittest.ran",
        "unittest_ran",
        r"^Ran (?P<n>\d+) tests? in \d",
        r"Ran ",
        "unittest's total",
        examples=(("Ran 123 tests in 4.500s", {"n": "123"}),),
    ),
    Rule(
        "unittest.ok",
        "unittest_status",
        r"^(?P<status>OK)(?: \((?P<detail>[^)]*)\))?$",
        r"OK",
        "unittest: all passed",
        examples=(("OK (skipped=5)", {"status": "OK", "detail": "skipped=5"}),),
    ),
    Rule(
        "unittest.failed",
        "unittest_status",
        r"^(?P<status>FAILED) \((?P<detail>[^)]*)\)$",
        r"FAILED \(",
        "unittest: some failed",
        examples=(
            (
                "FAILED (failures=2, errors=1, skipped=3, expected failures=1, unexpected successes=1)",
                {"status": "FAILED"},
            ),
        ),
    ),
    Rule(
        "unittest.no_tests",
        "unittest_status",
        r"^(?P<status>NO TESTS RAN)$",
        r"NO TESTS RAN",
        "unittest (3.12+): nothing ran",
        examples=(("NO TESTS RAN", {}),),
    ),
    Rule(
        "unittest.header",
        "unittest_failure",
        r"^(?P<outcome>FAIL|ERROR)(?: \[\d+(?:\.\d+)?s\])?: (?P<name>\w+) \((?P<cls>[\w.]+)\)",
        r"FAIL: |ERROR: |FAIL \[|ERROR \[",
        "unittest failure block header (PyTorch's runner adds the test's duration)",
        examples=(
            (
                "FAIL: test_x (__main__.TestX)",
                {"outcome": "FAIL", "name": "test_x", "cls": "__main__.TestX"},
            ),
            (
                "FAIL [0.026s]: test_RNN_dropout_state (__main__.TestNN)",
                {"outcome": "FAIL", "name": "test_RNN_dropout_state", "cls": "__main__.TestNN"},
            ),
            (
                "ERROR [62.3s]: test_x (__main__.TestY.test_x)",
                {"outcome": "ERROR", "name": "test_x", "cls": "__main__.TestY.test_x"},
            ),
        ),
    ),
    Rule(
        "unittest.verbose",
        "result",
        r"^(?P<test>\w+ \([\w.]+\))(?: \.\.\.)? (?P<outcome>ok|FAIL|ERROR|skipped|expected failure|unexpected success)\b",
        r"\) \.\.\. ",
        "unittest -v line",
        examples=(
            (
                "test_x (__main__.TestX) ... skipped 'no CUDA'",
                {"test": "test_x (__main__.TestX)", "outcome": "skipped"},
            ),
            # tests/fixtures/logs/real/indented_error_jit_c10d_sigsegv.log
            (
                "  test_process_group_as_module_member (__main__.C10dProcessGroupSerialization) ... ERROR (0.007s)",
                {"outcome": "ERROR"},
            ),
        ),
    ),
    Rule(
        "unittest.started",
        "test_started",
        r"^(?P<test>\w+ \([\w.]+\)) \.\.\.(?: |$)",
        r"\) \.\.\.",
        "unittest -v: a test began and its outcome is not on this line (it may never come)",
        # tests/fixtures/logs/real/run_test_jit_sigsegv_noprefix.log
        examples=(
            (
                "test_dcgan_models (__main__.TestEndToEndHybridFrontendModels) ... Traceback (most recent call last):",
                {"test": "test_dcgan_models (__main__.TestEndToEndHybridFrontendModels)"},
            ),
        ),
    ),
    Rule(
        "python.test_frame",
        "test_frame",
        r'^File "(?P<path>[^"]*?(?P<file>test_\w+)\.py)", line \d+,? in (?P<func>[\w<>]+)$',
        r'", line ',
        "a traceback frame in a test file: names the file of the failure whose block it is in",
        # tests/fixtures/logs/real/unittest_fail_duration_rnn_dropout.log
        examples=(
            (
                '  File "test_nn.py", line 8810, in test_RNN_dropout_state',
                {"file": "test_nn", "func": "test_RNN_dropout_state"},
            ),
        ),
    ),
    Rule(
        "pytest.self_repr",
        "test_self",
        r"^self = <(?P<module>[\w.]+)\.(?P<cls>\w+) testMethod=(?P<func>\w+)>",
        r"Method=",
        "pytest's traceback shows the TestCase: module, class and method of a failure",
        # tests/fixtures/logs/real/pytest_failures_header_no_summary_det.log
        examples=(
            (
                "self = <test_linalg.TestLinalgCPU testMethod=test_det_cpu_float64>, device = 'cpu', dtype = torch.float64",
                {"module": "test_linalg", "cls": "TestLinalgCPU", "func": "test_det_cpu_float64"},
            ),
        ),
    ),
    # pip check and import/assert checks
    Rule(
        "pip.check",
        "pip_check",
        r"^(?P<what>\S+ \S+ (?:has requirement|requires) .*(?:, but you have|, which is not installed).*)$",
        r", but you have|, which is not installed",
        "pip check found broken requirements",
        examples=(
            ("torchvision 0.20.1 has requirement torch==2.5.0, but you have torch 2.5.1.", {}),
        ),
    ),
    Rule(
        "python.exception",
        "exception",
        r"^(?P<what>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit)(?:: .*)?)$",
        r"Error|Exception",
        "an uncaught exception's last line",
        examples=(
            (
                "ModuleNotFoundError: No module named 'expecttest'",
                {"what": "ModuleNotFoundError: No module named 'expecttest'"},
            ),
        ),
    ),
]

OUTCOMES = {
    "PASSED": "passed",
    "FAILED": "failed",
    "ERROR": "errors",
    "XFAIL": "xfailed",
    "XPASS": "xpassed",
    "SKIPPED": "skipped",
    "RERUN": "rerun",
    "ok": "passed",
    "FAIL": "failed",
    "skipped": "skipped",
    "expected failure": "xfailed",
    "unexpected success": "xpassed",
}
FINAL_WORDS = {
    "passed": "passed",
    "failed": "failed",
    "error": "errors",
    "errors": "errors",
    "skipped": "skipped",
    "xfailed": "xfailed",
    "xpassed": "xpassed",
    "rerun": "rerun",
    "reruns": "rerun",
}  # deselected, warnings, subtests: not tests that ran
# a counted outcome (a Counts field) as the outcome of a failing test
AS_FAILURE: dict[str, FailureOutcome] = {
    "failed": "failed",
    "errors": "error",
    "xpassed": "xpassed",
}
SIGNAL_NAMES = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV"}
# PyTorch's suite: test/run_test.py, pytest, unittest, or a test file run directly. conda-build's own
# generated import-test script is also called run_test.py, but lives in test_tmp/ and runs with -s.
SUITE_CMD = re.compile(
    r"\btest/run_test\.py|(?:^|[\s/])pytest(?:\s|$)|-m (?:pytest|unittest)\b"
    r"|\btest/(?:[\w.-]+/)*test_\S*\.py"
)

# A CI runner's time stamp at the start of a line: GitHub Actions' ISO form
# (2025-08-01T17:19:12.4224458Z), CircleCI's (Jul 06 09:41:22) and a bracketed ISO or clock time
# (Jenkins' timestamper: [2023-01-01T10:00:00.000Z], [10:00:00], or a bare 15:44:47).
# A frame inside a test method: traceback's `File "x", line 3, in f`, faulthandler's `... 3 in f`
_TEST_FRAME = re.compile(
    r'^File "(?P<path>[^"]*?(?P<file>test_\w+)\.py)", line \d+,? in (?P<func>test\w*)$'
)


def _module_of(path: str) -> str:
    """A test file's path as an id's FILE: relative to PyTorch's test/ folder, without .py."""
    path = path.replace("\\", "/").removesuffix(".py")
    return path.rsplit("/test/", 1)[-1] if "/test/" in path else path.rsplit("/", 1)[-1]


# A test file named by the suite command: python test/test_nn.py, pytest test/distributed/x.py
_TEST_FILE = re.compile(r"(?:^|[\s/])(?:test/)?(?P<file>(?:[\w.-]+/)*test_\w+)\.py\b")
_TS_RE = re.compile(
    r"^(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? "
    r"|\[(?:\d{4}-\d\d-\d\d[T ])?\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\] ?"
    r"|\d\d:\d\d:\d\d )"
)


def _literals(keyword: str) -> tuple[bytes, ...]:
    return tuple(re.sub(r"\\(.)", r"\1", alt).encode() for alt in keyword.split("|"))


# (rule, its keyword literals); patterns are compiled on first use (most never match a log)
_KEYWORDS = [(r, _literals(r.keyword)) for r in RULES]
_RULE_AT = [r for r, _ in _KEYWORDS]
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _rules_by_literal() -> tuple[re.Pattern[bytes], dict[bytes, tuple[int, ...]]]:
    """Every keyword literal occurring in a line: searched from each start found plus one, the
    regex finds the longest literal at every start (longest first); the others starting there
    are its prefixes. Returns the regex and, per literal, the indexes of the rules that literal
    or one of its prefixes opens."""
    lits = sorted({lit for _, ls in _KEYWORDS for lit in ls}, key=lambda x: (-len(x), x))
    # grouped by first byte (longest first inside a group): re then tests one group per start
    # instead of every literal, which keeps the per-line search cheap as rules are added
    by_first: dict[bytes, list[bytes]] = {}
    for lit in lits:
        by_first.setdefault(lit[:1], []).append(lit[1:])
    rx = re.compile(
        b"|".join(
            re.escape(first) + b"(?:" + b"|".join(re.escape(r) for r in rests) + b")"
            for first, rests in sorted(by_first.items())
        )
    )
    rules = {
        lit: tuple(i for i, (_, ls) in enumerate(_KEYWORDS) if any(lit.startswith(x) for x in ls))
        for lit in lits
    }
    return rx, rules


_LITERAL_RE, _RULES_OF = _rules_by_literal()


def _rules_in(raw: bytes) -> set[int]:
    """Indexes of the rules whose keyword occurs in ``raw``."""
    search = _LITERAL_RE.search
    found: set[int] = set()
    m = search(raw)
    while m is not None:  # from every start, not only non-overlapping matches
        found.update(_RULES_OF[m.group()])
        m = search(raw, m.start() + 1)
    return found


def classify(
    raw: bytes | str, found: set[int] | None = None
) -> tuple[Rule, re.Match[str], str] | None:
    """The rule that claims one raw log line, its match and the cleaned text, or None: the
    first rule (in RULES order) whose keyword occurs in the raw line and whose pattern matches
    the cleaned line. ``found``: the rules whose keywords the caller already found in it."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    return classify_raw(raw, _rules_in(raw) if found is None else found)


def classify_raw(raw: bytes, found: set[int]) -> tuple[Rule, re.Match[str], str] | None:
    """``classify`` for the parser's hot path: ``raw`` is bytes, ``found`` is known."""
    if not found:
        return None
    text = clean_line(raw)
    for i in sorted(found) if len(found) > 1 else found:
        rule = _RULE_AT[i]
        rx = _PATTERNS.get(rule.name) or _pattern(rule)
        m = rx.search(text)
        if m is not None:
            return rule, m, text
    return None


def _pattern(rule: Rule) -> re.Pattern[str]:
    rx = _PATTERNS.get(rule.name)
    if rx is None:
        rx = _PATTERNS[rule.name] = re.compile(rule.pattern)
    return rx


# Rules found by the line-end check in LogParser._lines (the count line and -q progress end in a
# recognisable way) stay out of the prefilter: their keywords would make it slow.
_TAIL_RULES = {"pytest.final_counts", "pytest.quiet"}
_TAIL_RULE_INDEXES = frozenset(i for i, r in enumerate(RULES) if r.name in _TAIL_RULES)
# One flat alternation of literals (no groups): re factors common prefixes, which keeps it fast.
# Keywords are therefore plain alternations of (escaped) literals, without groups.
_PREFILTER = re.compile(
    b"|".join(
        sorted(
            {
                alt.encode()
                for r in RULES
                if r.name not in _TAIL_RULES
                for alt in r.keyword.split("|")
            }
        )
    )
)
_ANSI_BYTES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]")
_FINAL_WORD_RE = re.compile(r"(\d+) ([a-z]+(?: [a-z]+)?)")
_OTHER_FINAL_WORDS = {"deselected", "warning", "warnings", "tests collected", "test collected"}


_TS_FIRST = frozenset("0123456789[JFMASOND")  # what a time stamp of _TS_RE can start with


def clean_line(raw: bytes) -> str:
    """Decode one raw log line and drop its noise: a CI time stamp, ANSI codes, CR, and the
    indentation a paste or a CI wrapper adds (rules match from the first visible character)."""
    text = raw[:MAX_LINE].decode("utf-8", "replace")
    if text[:1].isspace():
        text = text.lstrip()
    if text[:1] in _TS_FIRST:
        text = _TS_RE.sub("", text, count=1).lstrip()
    if "\x1b" in text or "\r" in text or "\x00" in text:
        text = strip_controls(text).lstrip()
        text = _TS_RE.sub("", text, count=1).lstrip()
    return text.rstrip()


_UNITTEST_ID = re.compile(r"^(\w+) \(([\w.]+)\)$")


def normalize_test_id(test: str, module: str = "") -> str:
    """One id form for every runner: ``FILE.py::Class::test``, FILE relative to PyTorch's test/
    folder (CONTRIBUTING.md, "Test ids").

    run_test.py lists ids from the repo root (``test/x.py::T::t``), pytest from test/. unittest's
    ``test_x (__main__.TestX)`` (3.11+: ``(__main__.TestX.test_x)``) names no file: ``module`` is
    the file being run (``test_nn``, ``distributed/test_c10d``: run_test.py's ``Running`` line or
    the command), giving ``test_nn.py::TestX::test_x``; without it, ``TestX::test_x``. A dotted
    module (``test_nn.TestX``) gives ``test_nn.py::TestX::test_x``."""
    test = test.strip().strip("'\"")
    m = _UNITTEST_ID.match(test)
    if m:
        name, cls = m.groups()
        if cls.endswith("." + name):
            cls = cls[: -len(name) - 1]
        mod, _, klass = cls.rpartition(".")
        if mod and mod != "__main__":
            module = mod.replace(".", "/")
        module = module.removeprefix("test/")
        return f"{module}.py::{klass}::{name}" if module else f"{klass}::{name}"
    return test[5:] if test.startswith("test/") else test


def section_test_id(header: str, module: str = "") -> str:
    """pytest's FAILURES header names ``TestX.test_y[param]`` or ``test_y[param]``: as an id,
    ``FILE.py::TestX::test_y[param]`` where the file is known, else ``TestX::test_y[param]``."""
    name, bracket, param = header.partition("[")
    ident = "::".join(name.split(".")) + bracket + param
    module = module.removeprefix("test/")
    return f"{module}.py::{ident}" if module else ident


def _literal_list(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return re.findall(r"'([^']+)'", text)
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def _any_literal(literals: Iterable[bytes]) -> re.Pattern[bytes]:
    """A regex that finds any of ``literals``, grouped by first byte: ``re`` tries the branches
    of a flat alternation one by one at every position whose byte starts one of them."""
    lits = set(literals)
    lits = {x for x in lits if not any(o != x and o in x for o in lits)}  # a longer one is implied
    by_first: dict[bytes, list[bytes]] = {}
    for lit in sorted(lits):
        by_first.setdefault(lit[:1], []).append(lit[1:])
    alts = []
    for first, rests in sorted(by_first.items()):
        if rests == [b""]:
            alts.append(re.escape(first))
        else:
            alts.append(re.escape(first) + b"(?:" + b"|".join(re.escape(r) for r in rests) + b")")
    return re.compile(b"|".join(alts))


# Inside a test phase a line does something in _phase_one only if it holds a rule keyword, or
# "%]" / " in " (the line-end check of _may_count): _sparse_window looks only at such lines.
_CANDIDATES = _any_literal([lit for _, lits in _KEYWORDS for lit in lits] + [b"%]", b" in "])


def _may_count(line: bytes) -> bool:
    """The count line ("= 1 failed, 2 passed in 3.01s (0:00:03) =") and -q progress
    ("..F.s  [ 40%]") are recognised by their end."""
    tail = line.rstrip(b"= \r")
    if tail.endswith(b"m") and b"\x1b" in tail:
        tail = _ANSI_BYTES.sub(b"", tail).rstrip(b"= \r")
    return tail.endswith(b"%]") or (tail.endswith((b"s", b")")) and b" in " in tail)
