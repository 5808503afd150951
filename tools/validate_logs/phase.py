"""One test phase's events turned into facts: ``PhaseState`` (what ran, what failed, crashed or
timed out) fills a ``PhaseResult``; its counting is ``Tally``'s.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from tools.validate_logs.results import Counts, Evidence, FailureOutcome, PhaseEnd, PhaseResult
from tools.validate_logs.rules import (
    _FINAL_WORD_RE,
    _OTHER_FINAL_WORDS,
    _TEST_FILE,
    _TEST_FRAME,
    _UNITTEST_ID,
    AS_FAILURE,
    FINAL_WORDS,
    OUTCOMES,
    SIGNAL_NAMES,
    SUITE_CMD,
    Rule,
    _literal_list,
    _module_of,
    clean_line,
    normalize_test_id,
    section_test_id,
)
from tools.validate_logs.tally import Tally

# Memory bounds. Per package: MAX_FAILURES failing ids (each cut at MAX_ID characters) and
# MAX_EVIDENCE entries per list (crashes, timeouts, evidence lines, ... each cut at 300
# characters); the counts go on. Per log: beyond the first entry of each list of a package (which
# is always kept, so that no gate loses its evidence), at most TEXT_BUDGET characters of ids and
# lines in all; and MAX_PHASES test phases reported one by one, later ones merged into one entry.
MAX_FAILURES = 5000
MAX_ID = 1000
MAX_EVIDENCE = 40
TEXT_BUDGET = 8 << 20
_ITEM_COST = 100  # what one kept string costs beyond its characters (object, list/dict slot)


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
        # failing ids without a file, by test name: (the dict holding it, the id)
        self._fileless: dict[str, list[tuple[dict[str, FailureOutcome], str]]] = {}
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
        # ids are short; a garbled line must not be kept
        test = normalize_test_id(test, self.module)[:MAX_ID]
        if not test:
            return
        f = self.r.failures
        if test in f:
            if outcome in ("crashed",) or f[test] == "flaky":
                f[test] = outcome
        elif len(f) < MAX_FAILURES and self._keep(f, len(test)):
            f[test] = outcome
            self._note_fileless(f, test)
        else:
            self.r.failures_truncated += 1

    def _note_fileless(self, held: dict[str, FailureOutcome], test: str) -> None:
        """Remember an id without its file (``Class::test``), by test name, so that a later line
        naming the file finds it without looking at every failure (see _adopt_module)."""
        if ".py::" not in test:
            name = test.rsplit("::", 1)[-1].split("[", 1)[0]
            self._fileless.setdefault(name, []).append((held, test))

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
        self._dump_crash = None

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
        names it: run_test.py's ``<file> failed!`` (all of them), a traceback frame in the test or
        pytest's ``self = <module.Class testMethod=test>`` (those of ``func``, of ``cls`` if
        given). Looked up by test name: the cost does not grow with the number of failures."""
        if not self._fileless:
            return
        module = module.removeprefix("test/")
        names = [func] if func else list(self._fileless)
        for name in names:
            left = []
            for held, test in self._fileless.pop(name, ()):
                if test not in held:
                    continue
                if cls and test.split("::", 1)[0] != cls:
                    left.append((held, test))
                    continue
                outcome = held.pop(test)
                held.setdefault(f"{module}.py::{test}"[:MAX_ID], outcome)
            if left:
                self._fileless[name] = left

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
        self.cmd_kind, module = _command_kind(cmd)
        self.last_cmd_suite = self.cmd_kind == "suite"
        if self.last_cmd_suite:
            self._suite()
            if module:
                self.module = module
            self._evidence(rule, text)
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
            self._note_fileless(self.section_failures, test)
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
            pytest_words = False
            for n, word in _FINAL_WORD_RE.findall(m["body"]):
                key = FINAL_WORDS.get(word)
                if key:
                    setattr(c, key, getattr(c, key) + int(n))
                    pytest_words = True
                elif word in _OTHER_FINAL_WORDS or word.startswith("subtests"):
                    pytest_words = True
            if not pytest_words:
                return  # "compiled 5 files in 2.0s": not pytest
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


_CHECK_CMD = re.compile(r"(?:\S*/)?python\S* -c\b|pip check|\S*python\S* -m pip check")


@functools.lru_cache(maxsize=256)
def _command_kind(cmd: str) -> tuple[str, str]:
    """What a test command runs: ("suite", the test file it names or "") for a test runner,
    ("check", "") for ``python -c`` and ``pip check``, else ("other", ""). Test phases repeat
    their commands: the answer is remembered."""
    if SUITE_CMD.search(cmd):
        ran = _TEST_FILE.search(cmd)
        return "suite", ran["file"] if ran else ""
    return ("check" if _CHECK_CMD.match(cmd) else "other"), ""


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
