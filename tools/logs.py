# ruff: noqa: E501  (the rule table keeps one rule per line, by design)
"""Streaming parser of conda-build logs: what each package's test phase ran and how it ended.

The log is read in binary. Outside a test phase (the build phase, often hundreds of MB) nothing
is parsed: for a regular file, threads locate every ``TEST START:`` with libc's memmem over small
pread blocks (``parse_file``); for a stream (.gz, .zip member, stdin), ``bytes.find`` over large
blocks. Inside a test phase, passing pytest lines are only counted (at C speed) and a line is
decoded and matched against the named rules of ``RULES`` only when it contains one of the rules'
keywords. Memory stays bounded: one block, one capped line, capped lists of evidence.

Formats (docs/FACTS.md, "PyTorch's test output" and "Command line and log"): conda-build's
framing (conda_build/build.py, ``test()``), PyTorch's test/run_test.py, pytest's terminal
reporter (src/_pytest/terminal.py), pytest-xdist, pytest-rerunfailures, CPython's unittest runner
(Lib/unittest/runner.py) and faulthandler (Modules/faulthandler.c).

Adding a format = one ``Rule`` in ``RULES`` (name, event kind, regex over the cleaned line,
keyword that must occur in the raw line, and real example lines with the groups they yield);
tests/test_logs_rules.py checks every example through ``classify``, the function the parser
uses. A new *kind* of event also needs an ``_on_<kind>`` method on ``PhaseState``.
"""

from __future__ import annotations

import ast
import bisect
import ctypes
import os
import re
import threading
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

from tools.report import Counts, FailureOutcome, PhaseEnd, add_counts
from tools.tally import Tally
from tools.text import strip_controls

BLOCK_SIZE = 8 << 20  # bytes read at a time from a stream
MAX_LINE = 16 << 10  # bytes of one line that are decoded and matched; the rest is ignored
# A line is seen whole up to MAX_CARRY bytes; a longer one only by its first MAX_LINE bytes (a
# 10 MB line, or a CR-only progress log that is one line, costs no memory and is seen the same
# way however the input is cut into blocks).
MAX_CARRY = 1 << 20
# Memory bounds. Per package: MAX_FAILURES failing ids (each cut at MAX_ID characters) and
# MAX_EVIDENCE entries per list (crashes, timeouts, evidence lines, ... each cut at 300
# characters); the counts go on. Per log: beyond the first entry of each list of a package (which
# is always kept, so that no gate loses its evidence), at most TEXT_BUDGET characters of ids and
# lines in all; and MAX_PHASES test phases reported one by one, later ones merged into one entry.
MAX_FAILURES = 5000
MAX_ID = 1000
MAX_EVIDENCE = 40
TEXT_BUDGET = 8 << 20
MAX_PHASES = 1000
_ITEM_COST = 100  # what one kept string costs beyond its characters (object, list/dict slot)

# Outside a test phase only this is searched for. conda-build prints it before "Nothing to test
# for:" (conda_build/build.py test()), so one bytes.find per block suffices.
PHASE_MARKERS = (b"TEST START:",)
LINE_BLOCK = 112 << 10  # bytes of a test phase read at a time from a file (see SCAN_BLOCK)


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
        r"_ ",
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
        r"collected ",
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
        "glibc.abort",
        "crash",
        r"^(?P<what>(?:free|malloc|realloc|munmap_chunk|malloc_consolidate)\(\): [a-z][\w ()]*|double free or corruption \(\w+\)|corrupted size vs\. prev_size)$",
        r"\(\): |double free or corruption|corrupted size vs",
        "glibc found heap corruption and aborts the process (glibc 2.26+)",
        examples=(
            ("free(): invalid pointer", {"what": "free(): invalid pointer"}),
            ("double free or corruption (out)", {"what": "double free or corruption (out)"}),
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
        r"testMethod=",
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
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _rules_by_literal() -> tuple[re.Pattern[bytes], dict[bytes, tuple[int, ...]]]:
    """Every keyword literal occurring in a line: searched from each start found plus one, the
    regex finds the longest literal at every start (longest first); the others starting there
    are its prefixes. Returns the regex and, per literal, the indexes of the rules that literal
    or one of its prefixes opens."""
    lits = sorted({lit for _, ls in _KEYWORDS for lit in ls}, key=lambda x: (-len(x), x))
    rx = re.compile(b"|".join(re.escape(x) for x in lits))
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
    if found is None:
        found = _rules_in(raw)
    if not found:
        return None
    text = clean_line(raw)
    for i in sorted(found):
        rule = _KEYWORDS[i][0]
        m = _pattern(rule).search(text)
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


def clean_line(raw: bytes) -> str:
    """Decode one raw log line and drop its noise: a CI time stamp, ANSI codes, CR, and the
    indentation a paste or a CI wrapper adds (rules match from the first visible character)."""
    text = raw[:MAX_LINE].decode("utf-8", "replace").lstrip()
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


@dataclass
class Evidence:
    rule: str
    text: str


@dataclass
class PhaseResult:
    """What one package's test phase showed: facts only, no verdict (see tools.policy)."""

    package: str
    ended: PhaseEnd = "truncated"
    counts: Counts = field(default_factory=Counts)
    count_lines: int = 0  # pytest final lines + unittest totals seen
    suite_started: bool = False  # run_test.py / pytest / unittest ran (or was started)
    suite_exit_nonzero: bool = False  # `+ true` right after the suite command
    failures: dict[str, FailureOutcome] = field(default_factory=dict)  # test id -> outcome
    failures_truncated: int = 0
    flaky: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    collection_errors: list[str] = field(default_factory=list)
    interruptions: list[str] = field(default_factory=list)
    fell_over: list[str] = field(default_factory=list)  # hard evidence: Missing pip dependency
    exceptions: list[str] = field(default_factory=list)  # uncaught exceptions before any result
    check_failures: list[str] = field(default_factory=list)  # pip check, import/assert checks
    files_failed: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    oom: list[str] = field(default_factory=list)


@dataclass
class LogResult:
    name: str
    phases: list[PhaseResult] = field(default_factory=list)
    framed: bool = True  # False: parsed as one test phase (CI logs without conda-build framing)
    bytes_read: int = 0
    build_failure: str | None = None  # conda-build's BuildScriptException, seen near the end
    notes: list[str] = field(default_factory=list)  # about the input itself (truncated .gz)


class PhaseState:
    """Accumulates the events of one test phase into a PhaseResult."""

    def __init__(self, package: str, budget: _Budget | None = None) -> None:
        self.r = PhaseResult(package=package)
        self.budget = budget if budget is not None else _Budget(TEXT_BUDGET)
        self._flaky_seen: set[str] = set()
        self.tally = Tally()
        self.last_cmd_suite = False
        self.cmd_kind = "none"  # suite | check | other | none
        self.current_file = ""
        self.results_since_exec = True
        self.last_exception = ""
        self.pending_ran: int | None = None
        self.module = ""  # the test file being run, as an id's FILE (no .py, no shard)
        self.session_open = False  # a pytest session began and printed no final count line yet
        self.session_explained = False  # ... and a crash, timeout or interruption says why
        self.process_crashed = False  # a crash of the current test process is recorded
        self.section = (
            ""  # pytest report section: "failures" (FAILURES/ERRORS), "other", "" unknown
        )
        self.section_failures: dict[
            str, FailureOutcome
        ] = {}  # FAILURES headers: id -> outcome (see finish)
        self._dump_crash: int | None = None  # crashes[i] a faulthandler dump may still name
        self.running_test = ""  # a unittest -v test that began and printed no outcome yet
        self.block_test = ""  # the failure whose block (header, then traceback) is being read
        self.last_result = b""  # the last pytest result line seen (names where a crash was)

    # -- helpers
    def _keep(self, held, size: int) -> bool:
        """May one more string of ``size`` characters join ``held`` (a list or dict of this
        package)? The first always may; later ones while the log's text budget lasts."""
        if not held:
            self.budget.left -= size + _ITEM_COST
            return True
        return self.budget.take(size + _ITEM_COST)

    def _evidence(self, rule: Rule, text: str) -> None:
        ev = self.r.evidence
        if len(ev) < MAX_EVIDENCE and self._keep(ev, min(len(text), 300)):
            ev.append(Evidence(rule.name, text[:300]))

    def _fail(self, test: str, outcome: FailureOutcome) -> None:
        test = normalize_test_id(test, self.module)[
            :MAX_ID
        ]  # ids are short; a garbled line must not be kept
        if not test:
            return
        f = self.r.failures
        if test in f:
            if outcome in ("crashed",) or f[test] == "flaky":
                f[test] = outcome
        elif len(f) < MAX_FAILURES and self._keep(f, len(test)):
            f[test] = outcome
        else:
            self.r.failures_truncated += 1

    def _add(self, lst: list[str], text: str) -> None:
        r = self.r
        if lst is r.crashes or lst is r.timeouts or lst is r.interruptions or lst is r.oom:
            self.session_explained = True  # why an open pytest session printed no count line
        elif lst is r.collection_errors or lst is r.fell_over:
            self.session_explained = True
        if len(lst) < MAX_EVIDENCE and text not in lst and self._keep(lst, len(text)):
            lst.append(text)

    def _new_process(self) -> None:
        """A new test process (a file, a pytest session): its crash and report sections."""
        self.process_crashed = False
        self.section = ""
        self.running_test = ""

    def _where(self) -> str:
        """Where a crash happened, as far as the log says: the test file run_test.py announced,
        else the last test that printed a result."""
        if self.current_file:
            return f" in {self.current_file}"
        if self.last_result:
            last = clean_line(self.last_result).split(" ", 1)[0]
            if "::" in last:
                return f" (after {last[:MAX_ID]})"
        return ""

    def _running_crashed(self) -> None:
        """The test process died: the unittest test that had begun never finished."""
        if self.running_test:
            self._fail(self.running_test, "crashed")
            self.running_test = ""

    def _adopt_module(self, module: str, func: str = "", cls: str = "") -> None:
        """Failures recorded without a file (``Class::test``) learn it from a later line that
        names it: run_test.py's ``<file> failed!``, a traceback frame in the test, pytest's
        ``self = <module.Class testMethod=test>``. Only ids matching ``func``/``cls`` if given."""
        module = module.removeprefix("test/")
        for held in (self.r.failures, self.section_failures):
            if not any(".py::" not in t for t in held):
                continue
            renamed: dict[str, FailureOutcome] = {}
            for test, outcome in held.items():
                if (
                    ".py::" not in test
                    and (not func or test.rsplit("::", 1)[-1].split("[", 1)[0] == func)
                    and (not cls or test.split("::", 1)[0] == cls)
                ):
                    test = f"{module}.py::{test}"[:MAX_ID]
                renamed.setdefault(test, outcome)
            held.clear()
            held.update(renamed)

    def _open_session(self) -> None:
        self._close_unfinished()
        self.session_open = True
        self.session_explained = False

    def _close_unfinished(self) -> None:
        """A pytest session that never printed its final count line did not finish: its
        process died or the log is cut. That is never a pass (unless something already
        recorded says why, such as a crash or a timeout)."""
        if self.session_open and not self.session_explained:
            where = f" ({self.current_file})" if self.current_file else ""
            self._add(
                self.r.interruptions,
                f"a pytest session{where} never printed its final count line: the test "
                "process died or the log is cut",
            )
        self.session_open = False

    def _flush_segment(self) -> None:
        self.tally.process_ended()

    def _suite(self) -> None:
        self.r.suite_started = True

    # -- event handlers: one per Rule.kind
    def _on_command(self, m, rule, text):
        cmd = m["cmd"]
        if cmd in ("true", "exit 0"):
            if self.last_cmd_suite:
                self.r.suite_exit_nonzero = True
                self._evidence(rule, text)
            self.last_cmd_suite = False
            return
        self.last_cmd_suite = bool(SUITE_CMD.search(cmd))
        if self.last_cmd_suite:
            self._suite()
            self.cmd_kind = "suite"
            ran = _TEST_FILE.search(cmd)
            if ran:
                self.module = ran["file"]
            self._evidence(rule, text)
        elif re.match(r"(?:\S*/)?python\S* -c\b|pip check|\S*python\S* -m pip check", cmd):
            self.cmd_kind = "check"
        else:
            self.cmd_kind = "other"
        self.last_exception = ""

    def _on_crash(self, m, rule, text):
        what = m["what"]
        self.process_crashed = True
        if rule.name == "python.fatal":
            what = f"Fatal Python error: {what}"
        running = text[: m.start()].strip()  # the unfinished line of the test that crashed
        if "::" in running and " " not in running:
            self._fail(running, "crashed")
        elif running.endswith(" ...") and _UNITTEST_ID.match(running[:-4]):
            self.running_test = running[:-4]  # unittest -v: "test_x (__main__.T) ... "
        self._running_crashed()
        self._add(self.r.crashes, what[:200] + self._where())
        self._evidence(rule, text)
        # No segment flush here: an xdist worker's crash leaves its session running, and the
        # session's count line covers the tests before the crash. A process that died is
        # flushed by what follows it: run_test.py's exit code, the next session, or the end.

    def _on_crash_dump(self, m, rule, text):
        # faulthandler's dump follows "Fatal Python error" (recorded already); an excerpt may
        # show only the dump. One crash per process.
        frame = _TEST_FRAME.match(text)
        if not self.process_crashed:
            self.process_crashed = True
            self._running_crashed()
            self._add(
                self.r.crashes, f"faulthandler stack dump: the process crashed{self._where()}"
            )
            self._dump_crash = len(self.r.crashes) - 1
        if frame and self._dump_crash is not None:
            # the innermost test frame of the dump: the test that was running
            i, self._dump_crash = self._dump_crash, None
            if i < len(self.r.crashes) and " in test " not in self.r.crashes[i]:
                self.r.crashes[i] += f" in test {frame['func']} ({frame['file']}.py)"
            self._adopt_module(_module_of(frame["path"]), func=frame["func"])
        self._evidence(rule, text)

    def _on_test_started(self, m, rule, text):
        self._suite()
        self.running_test = m["test"]

    def _on_test_frame(self, m, rule, text):
        module = _module_of(m["path"])
        if m["func"].startswith("test"):
            self._adopt_module(module, func=m["func"])
        elif self.block_test and ".py::" not in self.block_test:
            # the first test-file frame of a failure's traceback is in that test's file
            name = self.block_test.rsplit("::", 1)[-1].split("[", 1)[0]
            cls = self.block_test.split("::", 1)[0] if self.block_test.count("::") > 1 else ""
            self._adopt_module(module, func=name, cls=cls)
        self.block_test = ""
        if self._dump_crash is not None:  # a faulthandler dump's frames use the same text
            self._on_crash_dump(m, rule, text)

    def _on_test_self(self, m, rule, text):
        self._adopt_module(m["module"].replace(".", "/"), func=m["func"], cls=m["cls"])

    def _on_ci_exit(self, m, rule, text):
        code = int(m["code"])
        if code > 128:
            signal = SIGNAL_NAMES.get(code - 128, f"signal {code - 128}")
            self._add(self.r.crashes, f"the CI step was killed by {signal} (exit code {code})")
            self._evidence(rule, text)

    def _on_ci_timeout(self, m, rule, text):
        self._add(self.r.timeouts, f"{m['what']}: the CI runner stopped the job{self._where()}")
        self._evidence(rule, text)

    def _on_worker_signal(self, m, rule, text):
        code = int(m["code"])
        signal = SIGNAL_NAMES.get(-code, f"signal {-code}")
        self._add(
            self.r.crashes, f"a worker process died by {signal} (exit code {code}){self._where()}"
        )
        self._evidence(rule, text)

    def _on_worker_timeout(self, m, rule, text):
        secs = float(m["secs"])
        self._add(
            self.r.timeouts,
            f"worker process {m['n']} terminated or timed out after {secs:.0f} s{self._where()}",
        )
        self._evidence(rule, text)

    def _on_dump_timeout(self, m, rule, text):
        # faulthandler.dump_traceback_later: the stacks that follow are a hang, not a crash
        self.process_crashed = True
        self._add(
            self.r.timeouts,
            f"{self.current_file or 'a test process'} hung (faulthandler timeout {m['t']})",
        )
        self._evidence(rule, text)

    def _on_oom(self, m, rule, text):
        self._add(self.r.oom, m["what"][:200])
        self._evidence(rule, text)

    def _on_fell_over(self, m, rule, text):
        self._suite()
        self._add(self.r.fell_over, text[:200])
        self._evidence(rule, text)

    def _on_file_start(self, m, rule, text):
        self._suite()
        self.current_file = m["file"]
        self.module = m["file"].split(" ", 1)[0]
        self._new_process()

    def _on_session_exec(self, m, rule, text):
        self._suite()
        self._flush_segment()  # a new process: what the last one showed without a count line
        self._close_unfinished()
        self._new_process()
        self.results_since_exec = False
        self.last_exception = ""

    def _on_session_start(self, m, rule, text):
        self._suite()
        self._flush_segment()
        self._open_session()
        self._new_process()

    def _on_collected(self, m, rule, text):
        self._suite()
        if m["errors"]:
            self._add(self.r.collection_errors, f"pytest: {m['errors']} errors during collection")
            self._evidence(rule, text)
        if not self.session_open:  # an excerpt that begins after the session's banner
            self._open_session()

    def _on_section(self, m, rule, text):
        self.section = "failures" if m["title"] in ("FAILURES", "ERRORS") else "other"

    def _on_failure_header(self, m, rule, text):
        if self.section == "other":  # PASSES, RERUNS, ...: not failures
            return
        self._suite()
        test = section_test_id(m["test"], self.module)[:MAX_ID]
        if test not in self.section_failures and len(self.section_failures) < MAX_FAILURES:
            self.section_failures[test] = "error" if m["setup"] else "failed"
        self.block_test = test  # its traceback follows

    def _on_exit_code(self, m, rule, text):
        code = int(m["code"])
        self._flush_segment()
        self.session_open = False  # the process ended: its exit code says how (below)
        where = f" in {self.current_file}" if self.current_file else ""
        signal = m["signal"] or (SIGNAL_NAMES.get(-code) if code < 0 else None)
        if code < 0 or code > 255:
            self._running_crashed()
            what = signal or (f"exit code {code}" if code < 0 else f"Windows crash {code:#x}")
            self._add(self.r.crashes, f"{what}{where}")
            self._evidence(rule, text)
        elif code == 124:
            pass  # the timeout rule records it
        elif code not in (0, 5) and not self.results_since_exec:
            # the process exited before any result: the file could not even be imported
            detail = f": {self.last_exception}" if self.last_exception else ""
            self._add(
                self.r.collection_errors,
                f"{self.current_file or 'a test file'} exited {code} before any test "
                f"result{detail}"[:300],
            )
            self._evidence(rule, text)
        if m["retry"]:
            self.tally.retry_pending = True
        self.results_since_exec = True

    def _on_timeout(self, m, rule, text):
        self._add(
            self.r.timeouts,
            f"{self.current_file or 'a test file'} took more than {m['minutes']} min",
        )
        self._evidence(rule, text)

    def _on_retry(self, m, rule, text):
        self.tally.retry_pending = True

    def _on_retry_ok(self, m, rule, text):
        # Not proof that the failed test is flaky: with -x removed (Anaconda's patch) the retry
        # can re-run only the file's LAST test (docs/FACTS.md, "PyTorch's test output"). Only the
        # "failed and then succeeded" list, which names tests, marks a test flaky.
        self.tally.retry_pending = False
        self._evidence(rule, text)

    def _flaky(self, tests: Iterable[str]) -> None:
        f = self.r.failures
        for test in tests:
            test = normalize_test_id(test)[:MAX_ID]
            before = f.get(test)
            if before not in ("failed", "error", None):
                continue
            if before is None and not (len(f) < MAX_FAILURES and self._keep(f, len(test))):
                continue  # not kept (memory bound); it was not counted as a failure either
            self.tally.became_flaky(before or "")
            if test not in self._flaky_seen:
                self._flaky_seen.add(test)
                self.r.flaky.append(test)
            f[test] = "flaky"

    def _on_failed_test(self, m, rule, text):
        self.tally.retry_pending = False
        self._fail(m["test"], "failed")
        self._evidence(rule, text)

    def _on_failed_list(self, m, rule, text):
        self.tally.retry_pending = False
        for test in _literal_list(m["list"]):
            self._fail(test, "failed")
        self._evidence(rule, text)

    def _on_flaky_list(self, m, rule, text):
        self._flaky(_literal_list(m["list"]))
        self._evidence(rule, text)

    def _on_file_failed(self, m, rule, text):
        self._suite()
        self._add(self.r.files_failed, m["file"])
        if m["signal"]:
            self._running_crashed()
            self._add(self.r.crashes, f"{m['signal']} in {m['file']}")
        self._adopt_module(m["file"].split(" ", 1)[0])
        self._evidence(rule, text)

    def _on_aborted(self, m, rule, text):
        if m["signal"]:
            self._running_crashed()
            self._add(self.r.crashes, f"{m['signal']} in {m['file']}")
        self._adopt_module(m["file"].split(" ", 1)[0])
        if self.cmd_kind in ("suite", "none"):
            self._add(
                self.r.interruptions,
                f"run_test.py stopped at {m['file']} (no --continue-through-error)",
            )
            self._evidence(rule, text)
        else:
            self._on_exception({"what": text}, rule, text)

    def _on_file_ok(self, m, rule, text):
        self._suite()

    def _on_final_counts(self, m, rule, text):
        self._suite()
        c = Counts()
        if m["body"] != "no tests ran":
            words = _FINAL_WORD_RE.findall(m["body"])
            if not any(
                w in FINAL_WORDS or w in _OTHER_FINAL_WORDS or w.startswith("subtests")
                for _, w in words
            ):
                return  # "compiled 5 files in 2.0s": not pytest
            for n, word in words:
                key = FINAL_WORDS.get(word)
                if key:
                    setattr(c, key, getattr(c, key) + int(n))
        self.session_open = False
        self.section = ""
        self._close_session(c)

    def _close_session(self, c: Counts) -> None:
        self.tally.session_counts(c)
        self.r.count_lines = self.tally.count_lines
        self.results_since_exec = True

    def _on_interrupted(self, m, rule, text):
        what = m["what"]
        if what.startswith("stopping after"):
            self._evidence(rule, text)  # -x: the file stopped early; the failure is counted
        elif "during collection" in what:
            self._add(
                self.r.collection_errors,
                f"pytest {what}" + (f" ({self.current_file})" if self.current_file else ""),
            )
        else:
            self._add(
                self.r.interruptions,
                f"pytest {what}" + (f" ({self.current_file})" if self.current_file else ""),
            )
        self._evidence(rule, text)

    def _on_collect_error(self, m, rule, text):
        self._suite()
        self._add(self.r.collection_errors, f"error collecting {m['file']}")
        self._evidence(rule, text)

    def _on_summary_result(self, m, rule, text):
        self._suite()
        outcome = AS_FAILURE[OUTCOMES[m["outcome"]]]
        test = m["test"]
        if outcome == "error" and "::" not in test:
            self._add(self.r.collection_errors, f"error collecting {test}")
        self._fail(test, outcome)
        self.results_since_exec = True

    def _on_result(self, m, rule, text):
        self._suite()
        self.running_test = ""
        if "::" in m["test"]:
            self.last_result = text.encode()
        outcome = OUTCOMES[m["outcome"]]
        seg = self.tally.segment
        setattr(seg, outcome, getattr(seg, outcome) + 1)
        if outcome in ("failed", "errors"):
            self._fail(m["test"], AS_FAILURE[outcome])
        self.results_since_exec = True

    def _on_quiet(self, m, rule, text):
        self._suite()
        seg = self.tally.segment
        for ch in m["chars"]:
            key = {
                ".": "passed",
                "F": "failed",
                "E": "errors",
                "s": "skipped",
                "x": "xfailed",
                "X": "xpassed",
                "R": "rerun",
            }[ch]
            setattr(seg, key, getattr(seg, key) + 1)
        self.results_since_exec = True

    def _on_worker_crash(self, m, rule, text):
        self._add(self.r.crashes, f"xdist worker {m['worker']} crashed in {m['test']}")
        self._fail(m["test"], "crashed")
        self._evidence(rule, text)

    def _on_worker_down(self, m, rule, text):
        self._add(self.r.crashes, f"xdist worker {m['worker']} went down (node down: {m['what']})")
        self._evidence(rule, text)

    def _on_worker_limit(self, m, rule, text):
        self._add(
            self.r.interruptions, f"xdist stopped: maximum crashed workers reached ({m['n']})"
        )
        self._evidence(rule, text)

    def _on_unittest_ran(self, m, rule, text):
        self._suite()
        self.pending_ran = int(m["n"])

    def _on_unittest_status(self, m, rule, text):
        if self.pending_ran is None:
            return
        ran, self.pending_ran = self.pending_ran, None
        c = Counts()
        detail = {k.strip(): v for k, v in re.findall(r"([a-z ]+)=(\d+)", m["detail"] or "")}
        c.failed = int(detail.get("failures", 0))
        c.errors = int(detail.get("errors", 0))
        c.skipped = int(detail.get("skipped", 0))
        c.xfailed = int(detail.get("expected failures", 0))
        c.xpassed = int(detail.get("unexpected successes", 0))
        c.passed = max(0, ran - c.failed - c.errors - c.skipped - c.xfailed - c.xpassed)
        self._close_session(c)

    def _on_unittest_failure(self, m, rule, text):
        test = f"{m['name']} ({m['cls']})"
        self._fail(test, AS_FAILURE[OUTCOMES[m["outcome"]]])
        self.block_test = normalize_test_id(test, self.module)  # its traceback follows

    def _on_pip_check(self, m, rule, text):
        self._add(self.r.check_failures, f"pip check: {m['what']}"[:300])
        self._evidence(rule, text)

    def _on_exception(self, m, rule, text):
        what = m["what"][:300]
        self.last_exception = what
        if self.cmd_kind == "check":
            self._add(self.r.check_failures, what)
            self._evidence(rule, text)
        elif not self.results_since_exec or (
            self.r.count_lines == 0 and not self.tally.segment.ran
        ):
            self._add(self.r.exceptions, what)

    def _on_build_start(self, m, rule, text):  # handled by the parser (closes the phase)
        pass

    # -- end of phase
    def finish(self, ended: PhaseEnd) -> PhaseResult:
        if self.pending_ran is not None:  # `Ran N tests` without a status line
            self._close_session(Counts(passed=self.pending_ran))
            self.pending_ran = None
        self._close_unfinished()
        self._section_failures()
        outcomes = list(self.r.failures.values())
        self.r.counts = self.tally.total(
            failed_ids=outcomes.count("failed") + outcomes.count("crashed"),
            errored_ids=outcomes.count("error"),
        )
        self.r.ended = ended
        return self.r

    def _section_failures(self) -> None:
        """FAILURES headers name tests the short summary or -v lines may have named already
        (by their full id): only the others are added."""
        if not self.section_failures:
            return
        known = self.r.failures
        suffixes = {t.split(".py::", 1)[-1] for t in known}
        for test, outcome in self.section_failures.items():
            if test not in known and test.split(".py::", 1)[-1] not in suffixes:
                self._fail(test, outcome)
        self.section_failures = {}


def _literal_list(text: str) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return re.findall(r"'([^']+)'", text)
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


_TAIL = 65536  # bytes kept from the end of a stream, to name a build failure
_MARKER = PHASE_MARKERS[0]
PHASE_WINDOW = 128 << 10  # bytes of a test phase handled at once (bounds the split line lists)


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


class _Budget:
    """Characters of ids and evidence a log may still keep (see TEXT_BUDGET)."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left

    def take(self, n: int) -> bool:
        if self.left < n:
            return False
        self.left -= n
        return True


_ENDED_RANK: dict[PhaseEnd, int] = {
    "nothing-to-test": 0,
    "end": 1,
    "tests-failed": 2,
    "next-build": 3,
    "truncated": 4,
}
_LIST_FIELDS = (
    "crashes",
    "timeouts",
    "collection_errors",
    "interruptions",
    "fell_over",
    "exceptions",
    "check_failures",
    "files_failed",
    "oom",
)


class LogParser:
    """Feed bytes, get a LogResult. ``framed=False`` parses everything as one test phase.

    The result depends only on the bytes, never on how they are cut into ``feed`` calls: lines
    end at ``\n`` only, and each line is seen whole up to MAX_CARRY bytes, else by its first
    MAX_LINE bytes. Every byte is looked at a bounded number of times (the cost is linear) and
    what is held is bounded: the unfinished line (MAX_CARRY), one PHASE_WINDOW of split lines,
    the 64 KiB tail, and the capped results.
    """

    def __init__(self, name: str, framed: bool = True) -> None:
        self.result = LogResult(name=name, framed=framed)
        self.framed = framed
        self.budget = _Budget(TEXT_BUDGET)
        self.phase: PhaseState | None = None if framed else PhaseState(name, self.budget)
        self.carry = bytearray()  # the head of the unfinished last line (at most MAX_CARRY)
        self.discarding = False  # that line outgrew MAX_CARRY: its MAX_LINE head is kept, no more
        self.tail = bytearray()  # the last bytes seen, to name a build failure at the end
        self.track_tail = True  # parse_file reads the tail itself
        self.notes = self.result.notes
        self._dense = False  # inside a test phase: split every line (many results) or not
        self._overflow: PhaseResult | None = None  # phases past MAX_PHASES, merged
        self._overflow_state: PhaseState | None = None
        self._merged = 0

    # Public API -------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        n = len(data)
        if not n:
            return
        self.result.bytes_read += n
        if self.track_tail:
            t = self.tail
            t += memoryview(data)[-_TAIL:]
            if len(t) > 2 * _TAIL:
                del t[:-_TAIL]
        pos = 0
        if self.carry or self.discarding:  # finish the line begun by an earlier block
            nl = data.find(b"\n")
            if nl < 0:
                self._grow(data, 0, n)
                return
            self._grow(data, 0, nl)
            line = bytes(self.carry)
            self.drop_line()
            self._one(line)
            pos = nl + 1
        last = data.rfind(b"\n", pos)
        if last >= 0:
            self._lines(data, pos, last + 1)
            pos = last + 1
        if pos < n:
            self._grow(data, pos, n)

    def close(self) -> LogResult:
        if self.carry or self.discarding:  # the last line had no newline
            line = bytes(self.carry)
            self.drop_line()
            self._one(line)
        if self.phase is not None:
            self._end_phase("truncated" if self.framed else "end")
        if self._overflow is not None:
            self._overflow.package = f"{self._merged} more test phases (merged)"
            self.result.phases.append(self._overflow)
            self.notes.append(
                f"over {MAX_PHASES} test phases: the {self._merged} after the first "
                f"{MAX_PHASES} are reported merged as one entry"
            )
            self._overflow = None
        tail = bytes(self.tail[-_TAIL:])
        idx = tail.rfind(b"BuildScriptException")
        if idx >= 0 and self.framed:
            start = tail.rfind(b"\n", 0, idx) + 1
            end = tail.find(b"\n", idx)
            self.result.build_failure = clean_line(tail[start : end if end >= 0 else None])[:300]
        return self.result

    def marker_pending(self) -> bool:
        """The unfinished line holds a phase marker: its end must be read before skipping on."""
        return _MARKER in self.carry

    def drop_line(self) -> None:
        """Forget the unfinished line (the caller skips to a line start past it)."""
        self.carry.clear()
        self.discarding = False

    # Internals --------------------------------------------------------------------------------
    def _grow(self, data: bytes, a: int, b: int) -> None:
        """Append data[a:b] to the unfinished line, within MAX_CARRY."""
        if self.discarding or a >= b:
            return
        c = self.carry
        if len(c) + b - a <= MAX_CARRY:
            c += memoryview(data)[a:b]
            return
        if len(c) < MAX_LINE:
            c += memoryview(data)[a : a + MAX_LINE - len(c)]
        else:
            del c[MAX_LINE:]
        self.discarding = True

    def _one(self, line: bytes) -> None:
        """One complete line (already cut to what is seen of it)."""
        if self.phase is None:
            if _MARKER in line:
                self._line(line)
        else:
            self._phase_one(line)

    def _lines(self, buf: bytes, pos: int, end: int) -> None:
        """Complete lines buf[pos:end] (buf[end - 1] is a newline)."""
        while pos < end:
            pos = (
                self._skip(buf, pos, end)
                if self.phase is None
                else self._phase_lines(buf, pos, end)
            )

    def _skip(self, buf: bytes, pos: int, end: int) -> int:
        """Outside a test phase: only a line with a phase marker matters (bytes.find speed).
        Returns where parsing goes on: after the line that started a phase, or ``end``."""
        find = buf.find
        while True:
            i = find(_MARKER, pos, end)
            if i < 0:
                return end
            s = buf.rfind(b"\n", pos, i) + 1 or pos
            e = find(b"\n", i, end)
            if e - s > MAX_CARRY:  # a huge line: only its head is seen
                line = buf[s : s + MAX_LINE]
                seen = _MARKER in line
            else:
                line = buf[s:e]
                seen = True
            pos = e + 1
            if seen:
                self._line(line)
                if self.phase is not None:
                    return pos

    def _phase_lines(self, buf: bytes, pos: int, end: int) -> int:
        """Inside a test phase: lines in windows of at most PHASE_WINDOW bytes. Returns where
        the phase ended (after its last line), or ``end``."""
        while pos < end:
            w = pos + PHASE_WINDOW
            if w >= end:
                w_end = end
            else:
                nl = buf.rfind(b"\n", pos, w)
                if nl < 0:  # one line longer than the window
                    e = buf.find(b"\n", w, end)
                    self._phase_one(
                        buf[pos:e] if e - pos <= MAX_CARRY else buf[pos : pos + MAX_LINE]
                    )
                    pos = e + 1
                    if self.phase is None:
                        return pos
                    continue
                w_end = nl + 1
            pos = (
                self._dense_window(buf, pos, w_end)
                if self._dense
                else self._sparse_window(buf, pos, w_end)
            )
            if self.phase is None:
                return pos
        return pos

    def _sparse_window(self, buf: bytes, pos: int, end: int) -> int:
        """Only the lines holding a candidate literal (_CANDIDATES) are looked at: a line with
        none of them does nothing in _phase_one. Cheap when few lines matter."""
        search = _CANDIDATES.search
        rfind = buf.rfind
        find = buf.find
        hits = 0
        p = pos
        while True:
            m = search(buf, p, end)
            if m is None:
                break
            i = m.start()
            s = rfind(b"\n", p, i) + 1 or p
            e = find(b"\n", i, end)
            hits += 1
            self._phase_one(buf[s:e])
            p = e + 1
            if self.phase is None:
                return p
        if hits > 16 and hits * 2 > buf.count(b"\n", pos, end):
            self._dense = True  # most lines matter (pytest -v results): split them all
        return end

    def _dense_window(self, buf: bytes, pos: int, end: int) -> int:
        """Every line, split at C speed; passing-test lines are only counted. Dense mode
        follows a full window of the same phase (see _sparse_window), so what is split past
        the phase's end costs at most what that window did: the cost stays linear."""
        lines = buf[pos : end - 1].split(b"\n")
        prefilter = _PREFILTER.search
        # Passing tests are the bulk: they are only counted. Every line between two lines of
        # `others` is a pytest "... PASSED" line (a C-speed filter; no Python per passing line).
        others = [(k, line) for k, line in enumerate(lines) if b" PASSED" not in line]
        others.append((len(lines), b""))  # sentinel: the passes after the last other line
        idle = 0
        prev = -1
        ph = self.phase
        assert ph is not None
        for k, line in others:
            if k - prev > 1:
                ph.tally.segment.passed += k - prev - 1
                ph.last_result = lines[k - 1]
                ph.results_since_exec = True
            prev = k
            if k == len(lines):
                break
            if b"::" in line and b"FAILED" not in line:
                if b" SKIPPED" in line:
                    ph.tally.segment.skipped += 1
                    continue
                if b" XFAIL " in line:
                    ph.tally.segment.xfailed += 1
                    continue
            if prefilter(line) is None and not _may_count(line):
                idle += 1
                continue
            self._line(line)
            if self.phase is not ph:  # a TEST START inside the phase begins another one
                if self.phase is None:  # the phase ended: the rest is build output again
                    return pos + sum(len(x) + 1 for x in lines[: k + 1])
                ph = self.phase
        if idle * 4 > len(lines) * 3:
            self._dense = False  # few lines matter: look only at those
        return end

    def _phase_one(self, line: bytes) -> None:
        """What _dense_window does with one line."""
        ph = self.phase
        assert ph is not None
        if b" PASSED" in line:
            ph.tally.segment.passed += 1
            ph.last_result = line
            ph.results_since_exec = True
            return
        if b"::" in line and b"FAILED" not in line:
            if b" SKIPPED" in line:
                ph.tally.segment.skipped += 1
                return
            if b" XFAIL " in line:
                ph.tally.segment.xfailed += 1
                return
        found = _rules_in(line)
        # as in _dense_window: a line with only the count line's or -q's keywords (" in ", "%]")
        # is looked at when it ends like them
        if found and (not found <= _TAIL_RULE_INDEXES or _may_count(line)):
            self._line(line, found)

    def _line(self, raw: bytes, found: set[int] | None = None) -> None:
        hit = classify(raw, found)
        if hit is not None:
            self._event(*hit)

    def _event(self, rule: Rule, m: re.Match, text: str) -> None:
        kind = rule.kind
        if not self.framed and (kind.startswith("phase_") or kind == "build_start"):
            return  # one unframed phase: conda-build markers are only text here
        if kind == "phase_start":
            if self.phase is not None:
                self._end_phase("truncated" if self.framed else "end")
            self.phase = PhaseState(_package_name(m["package"]), self.budget)
            self._dense = False
            self.phase._evidence(rule, text)
            return
        if self.phase is None:
            if kind == "phase_nothing":  # no TEST START before it
                state = PhaseState(_package_name(m["package"]), self.budget)
                self._keep_phase(state.finish("nothing-to-test"))
            return
        if kind == "phase_end":
            self._end_phase("end")
        elif kind == "phase_nothing":
            self._end_phase("nothing-to-test")
        elif kind == "phase_failed":
            self.phase._evidence(rule, text)
            self._end_phase("tests-failed")
        elif kind == "build_start":
            self._end_phase("next-build")
        else:
            getattr(self.phase, f"_on_{kind}")(m, rule, text)

    def _end_phase(self, how: PhaseEnd) -> None:
        assert self.phase is not None
        phase, self.phase = self.phase, None
        self._keep_phase(phase.finish(how))

    def _keep_phase(self, r: PhaseResult) -> None:
        if len(self.result.phases) < MAX_PHASES:
            self.result.phases.append(r)
        else:
            self._merge(r)

    def _merge(self, r: PhaseResult) -> None:
        """Fold a phase past MAX_PHASES into one entry that fails wherever one of them would."""
        o = self._overflow
        if o is None:
            o = self._overflow = PhaseResult(package="", ended="nothing-to-test")
            self._overflow_state = PhaseState("", self.budget)  # its bounded helpers, into o
            self._overflow_state.r = o
        state = self._overflow_state
        assert state is not None
        self._merged += 1
        add_counts(o.counts, r.counts)
        o.count_lines += r.count_lines
        o.suite_started = o.suite_started or r.suite_started
        o.suite_exit_nonzero = o.suite_exit_nonzero or r.suite_exit_nonzero
        if _ENDED_RANK.get(r.ended, 4) > _ENDED_RANK.get(o.ended, 4):
            o.ended = r.ended
        o.failures_truncated += r.failures_truncated
        for test, outcome in r.failures.items():
            if test in o.failures:
                continue
            if len(o.failures) < MAX_FAILURES and state._keep(o.failures, len(test)):
                o.failures[test] = outcome
            else:
                o.failures_truncated += 1
        for test in r.flaky:
            if len(o.flaky) < MAX_EVIDENCE and test not in o.flaky:
                o.flaky.append(test)
        for name in _LIST_FIELDS:
            for item in getattr(r, name):
                state._add(getattr(o, name), f"{r.package}: {item}"[:300])
        if r.suite_started and not r.fell_over and r.counts.ran == 0 and r.count_lines == 0:
            state._add(o.fell_over, f"{r.package}: no test results and no count line")
        for ev in r.evidence:
            if len(o.evidence) < MAX_EVIDENCE:
                o.evidence.append(ev)


def _package_name(raw: str) -> str:
    """``TEST START: /croot/linux-64/pytorch-2.5.1-py311_0.conda`` -> ``pytorch-2.5.1-py311_0``."""
    name = raw.strip().rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    for ext in (".conda", ".tar.bz2"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name or raw.strip()


def parse_stream(
    stream: BinaryIO, name: str, framed: bool = True, block_size: int = BLOCK_SIZE
) -> LogResult:
    """Parse a binary stream in blocks; memory does not grow with its size."""
    parser = LogParser(name, framed=framed)
    buf = bytearray(block_size)
    view = memoryview(buf)
    readinto = getattr(stream, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(view)
            if not n:
                break
            parser.feed(bytes(view[:n]))
        else:
            data = stream.read(block_size)
            if not data:
                break
            parser.feed(data)
    return parser.close()


def _load_memmem():
    """libc's memmem (glibc, musl, macOS): 2-3x faster than bytes.find on build output, and as a
    ctypes call it runs without the GIL, so several threads search at once."""
    try:
        fn = ctypes.CDLL(None).memmem
    except (OSError, AttributeError, TypeError):
        return None
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    return fn


_MEMMEM = _load_memmem()
# bytes each scanning thread reads at a time: small enough to stay in the CPU cache and below
# glibc's mmap threshold (128 KiB), which measured 2x faster than 1 MiB blocks on a 1 GiB log
SCAN_BLOCK = 112 << 10
CAN_SCAN_FILES = hasattr(os, "preadv") and hasattr(os, "pread")


def _scan_range(
    fd: int, start: int, stop: int, marker: bytes, workers: int, cap: int | None
) -> tuple[list[int], int]:
    """Offsets of ``marker`` starting in [start, stop), and how far that list is complete: the
    range is split into one part per thread; each preads its part in small blocks into its own
    buffer and searches it with memmem, outside the GIL, and stops after ``cap`` hits (memory
    bound). Returns (hits, upto): every hit in [start, upto) is listed."""
    m = len(marker)
    size = stop - start
    step = -(-size // workers) if size else 0
    ranges = [(start + i * step, min(stop, start + (i + 1) * step)) for i in range(workers)]
    found = [array("q") for _ in ranges]
    ends = [b for _, b in ranges]
    errors: list[BaseException] = []

    def scan(i: int, a: int, b: int) -> None:
        try:
            hits = found[i]
            buf = bytearray(SCAN_BLOCK + m - 1)
            view = memoryview(buf)
            base = (
                ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
                if _MEMMEM is not None
                else 0
            )
            off = a
            while off < b:
                own = min(SCAN_BLOCK, b - off)  # hits must start here; the rest is overlap
                want, got = own + m - 1, 0
                while got < want:
                    n = os.preadv(fd, [view[got:want]], off + got)
                    if n <= 0:
                        break
                    got += n
                s = 0
                while s < got:
                    if base:
                        ptr = _MEMMEM(base + s, got - s, marker, m)
                        hit = ptr - base if ptr else -1
                    else:
                        hit = buf.find(marker, s, got)
                    if hit < 0 or hit >= own:
                        break
                    hits.append(off + hit)
                    if cap is not None and len(hits) >= cap:
                        ends[i] = off + hit + 1
                        return
                    s = hit + 1
                off += own
            del view
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    if workers == 1:
        scan(0, start, stop)
    else:
        threads = [
            threading.Thread(target=scan, args=(i, a, b), daemon=True)
            for i, (a, b) in enumerate(ranges)
            if a < b
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    hits: list[int] = []
    upto = start
    for i, (_, b) in enumerate(ranges):
        hits.extend(found[i])
        upto = ends[i]
        if ends[i] < b:  # this part stopped at its cap: what follows is not known yet
            break
    return hits, max(upto, start)


def _default_workers(size: int) -> int:
    return min(4, os.cpu_count() or 1) if _MEMMEM is not None and size >= 8 << 20 else 1


def scan_markers(fd: int, size: int, marker: bytes, workers: int | None = None) -> list[int]:
    """Offsets of every ``marker`` in the file (up to 4 threads, one per core; memory: one
    block per thread, and the list)."""
    return _scan_range(fd, 0, size, marker, workers or _default_workers(size), None)[0]


class _MarkerIndex:
    """The phase markers of a file, found ahead of the parser a span at a time: memory is
    bounded by MARKER_CAP offsets per thread, however many markers the file holds. (Searching
    the next span while the parser works measured slower on 2 cores: the GIL.)"""

    def __init__(self, fd: int, size: int, marker: bytes, workers: int | None) -> None:
        self.fd, self.size, self.marker, self.workers = fd, size, marker, workers
        self.hits: list[int] = []
        self.lo = self.hi = 0  # every marker starting in [lo, hi) is in hits
        self.span = MARKER_SPAN

    def next(self, p: int) -> int:
        """The first marker offset >= p, or -1 if there is none."""
        p = max(p, 0)
        while True:
            if self.lo <= p < self.hi:
                i = bisect.bisect_left(self.hits, p)
                if i < len(self.hits):
                    return self.hits[i]
                p = self.hi
            if p >= self.size:
                return -1
            stop = min(self.size, p + self.span)
            self.hits, self.hi = self._scan(p, stop)
            self.lo = p
            # dense markers: scan less ahead (the other threads' work past a cap is redone)
            self.span = (
                max(MARKER_SPAN >> 5, min(MARKER_SPAN, 2 * (self.hi - p)))
                if self.hi < stop
                else min(MARKER_SPAN, self.span * 2)
            )

    def _scan(self, p: int, stop: int) -> tuple[list[int], int]:
        workers = self.workers or _default_workers(stop - p)
        return _scan_range(self.fd, p, stop, self.marker, workers, MARKER_CAP)


MARKER_SPAN = 256 << 20  # bytes of a file searched for phase markers ahead of the parser
MARKER_CAP = 1 << 16  # marker offsets one searching thread holds at a time


def _last_newline(fd: int, lo: int, hi: int) -> int:
    """Offset of the last newline in [lo, hi) of the file, or -1; reads backwards from hi."""
    b, step = hi, 4096  # the line is usually short: read little first, then more
    while b > lo:
        a = max(lo, b - step)
        chunk = os.pread(fd, b - a, a)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return a + i
        if len(chunk) < b - a:
            return -1
        b, step = a, min(step * 2, SCAN_BLOCK)
    return -1


def parse_file(
    fd: int,
    name: str,
    framed: bool = True,
    block_size: int | None = None,
    workers: int | None = None,
) -> LogResult:
    """Parse a regular file by offset: the same parse as feeding the whole file to LogParser,
    but build output is jumped over. Phase markers are located ahead (in parallel, at memory
    speed); from a point outside a test phase the parser jumps to the start of the next
    marker's line (nothing in between can matter), then reads on in blocks. The build output
    between phases is never copied into Python objects."""
    size = os.fstat(fd).st_size
    block_size = block_size or LINE_BLOCK
    parser = LogParser(name, framed=framed)
    parser.track_tail = False
    index = _MarkerIndex(fd, size, _MARKER, workers) if framed else None
    _read_file(fd, size, parser, index, block_size)
    parser.result.bytes_read = size
    parser.tail = bytearray(os.pread(fd, _TAIL, max(0, size - _TAIL)))
    return parser.close()


def _read_file(
    fd: int, size: int, parser: LogParser, index: _MarkerIndex | None, block_size: int
) -> None:
    k = len(_MARKER)
    pos = 0
    no_newline_before = -1  # a marker whose line is known to start before pos
    first = min(block_size, 8192)  # a phase is read from a small block up, doubling: a tiny
    read = first  # phase then costs no full block (past it the parser only skips to a marker)
    while pos < size:
        if index is not None and parser.phase is None and not parser.marker_pending():
            read = first
            target = index.next(pos - k + 1)  # a marker may straddle pos
            if target < 0:
                break  # no marker ahead: the rest is build output
            if target > pos and target != no_newline_before:
                j = _last_newline(fd, pos, target)
                if j >= 0:  # the lines before the marker's own do nothing: skip them
                    parser.drop_line()
                    pos = j + 1
                else:
                    no_newline_before = target
        chunk = os.pread(fd, read, pos)
        if not chunk:
            break
        pos += len(chunk)
        parser.feed(chunk)
        read = min(block_size, read * 2)


def parse_bytes(data: bytes, name: str = "<bytes>", framed: bool = True) -> LogResult:
    parser = LogParser(name, framed=framed)
    parser.feed(data)
    return parser.close()
