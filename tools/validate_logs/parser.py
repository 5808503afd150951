"""Streaming parser of conda-build logs: what each package's test phase ran and how it ended.

The log is read in binary. Outside a test phase (the build phase, often hundreds of MB) nothing
is parsed: for a regular file, threads locate every ``TEST START:`` with libc's memmem over small
pread blocks (``parse_file``); for a stream (.gz, .zip member, stdin), ``bytes.find`` over large
blocks. Inside a test phase, passing pytest lines are only counted (at C speed) and a line is
decoded and matched against the named rules of ``RULES`` only when it contains one of the rules'
keywords; what a short line classified as is remembered (test phases repeat their lines), and
the first lines of a phase are read one by one (a tiny phase ends before a search would pay).
Memory stays bounded: one block, one capped line, a capped set of remembered lines, capped lists
of evidence.

The line formats and how a line is classified are in ``rules``; what a test phase's lines mean
is ``phase.PhaseState``'s.
"""

from __future__ import annotations

import bisect
import ctypes
import os
import re
import threading
from array import array
from typing import BinaryIO, cast

from tools.validate_logs.phase import MAX_EVIDENCE, MAX_FAILURES, TEXT_BUDGET, PhaseState, _Budget
from tools.validate_logs.results import LogResult, PhaseEnd, PhaseResult, add_counts
from tools.validate_logs.rules import (
    _CANDIDATES,
    _PREFILTER,
    _TAIL_RULE_INDEXES,
    MAX_LINE,
    RULES,
    Rule,
    _may_count,
    _rules_in,
    classify_raw,
    clean_line,
)

BLOCK_SIZE = 8 << 20  # bytes read at a time from a stream
# A line is seen whole up to MAX_CARRY bytes; a longer one only by its first MAX_LINE bytes (a
# 10 MB line, or a CR-only progress log that is one line, costs no memory and is seen the same
# way however the input is cut into blocks).
MAX_CARRY = 1 << 20
MAX_PHASES = 1000
HEAD_LINES = 32  # lines at the start of each test phase read one by one (see _head_lines)
SEEN_LINE = 256  # lines up to this long have their classification remembered ...
SEEN_LINES = 2048  # ... this many at a time (then forgotten, all at once)
_UNSEEN = object()
_Hit = tuple[Rule, re.Match, str]  # what classify_raw found: the rule, its match, the text

# Outside a test phase only this is searched for. conda-build prints it before "Nothing to test
# for:" (conda_build/build.py test()), so one bytes.find per block suffices.
PHASE_MARKERS = (b"TEST START:",)
LINE_BACK = 1024  # bytes read before a phase marker to find its line's start in the same read
LINE_BLOCK = 112 << 10  # bytes of a test phase read at a time from a file (see SCAN_BLOCK)


_TAIL = 65536  # bytes kept from the end of a stream, to name a build failure
_MARKER = PHASE_MARKERS[0]
_START_ONLY = {0}  # RULES[0] is conda's TEST START (tests/test_logs_rules.py checks it)
PHASE_WINDOW = 128 << 10  # bytes of a test phase handled at once (bounds the split line lists)


# conda-build's framing: handled by the parser itself; every other kind by PhaseState._on_<kind>
_FRAMING = frozenset({"phase_start", "phase_end", "phase_nothing", "phase_failed", "build_start"})
_HANDLERS = {r.kind: f"_on_{r.kind}" for r in RULES if r.kind not in _FRAMING}
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
    the 64 KiB tail, SEEN_LINES remembered short lines, and the capped results.
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
        self._head = 0  # lines of the current test phase still to be read one by one
        self._overflow: PhaseResult | None = None  # phases past MAX_PHASES, merged
        self._overflow_state: PhaseState | None = None
        self._merged = 0
        # what _phase_one made of a short line, by its bytes: test phases repeat their lines
        # (the session banner, `collected N items`, the command, the count line), and the
        # outcome depends on the bytes only
        self._seen: dict[bytes, _Hit | None] = {}

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
                self._marker_line(line)
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
                self._marker_line(line)
                if self.phase is not None:
                    return pos

    def _phase_lines(self, buf: bytes, pos: int, end: int) -> int:
        """Inside a test phase: lines in windows of at most PHASE_WINDOW bytes. Returns where
        the phase ended (after its last line), or ``end``."""
        if self._head:
            pos = self._head_lines(buf, pos, end)
            if self.phase is None:
                return pos
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

    def _head_lines(self, buf: bytes, pos: int, end: int) -> int:
        """The first HEAD_LINES lines of a test phase, one by one: a tiny phase (an import
        check, a short pytest run) is over before a regex search over its bytes would pay.
        Returns where reading goes on (the phase may have ended)."""
        find = buf.find
        one = self._phase_one
        n = self._head
        while n and pos < end:
            e = find(b"\n", pos, end)
            n -= 1
            one(buf[pos:e] if e - pos <= MAX_CARRY else buf[pos : pos + MAX_LINE])
            pos = e + 1
            if self.phase is None:
                break
        self._head = n
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
        seen = self._seen
        hit = seen.get(line, _UNSEEN)
        if hit is _UNSEEN:
            found = _rules_in(line)
            # as in _dense_window: a line with only the count line's or -q's keywords (" in ",
            # "%]") is looked at when it ends like them
            hit = (
                classify_raw(line, found)
                if found and (not found <= _TAIL_RULE_INDEXES or _may_count(line))
                else None
            )
            if len(line) <= SEEN_LINE:
                if len(seen) >= SEEN_LINES:
                    seen.clear()
                seen[line] = hit
        if hit is not None:
            self._event(*cast(_Hit, hit))

    def _line(self, raw: bytes) -> None:
        hit = classify_raw(raw, _rules_in(raw))
        if hit is not None:
            self._event(*hit)

    def _marker_line(self, raw: bytes) -> None:
        """A line holding the phase marker, outside a test phase. The TEST START rule is
        RULES[0]: where it matches, no other rule can claim the line, and the search for every
        rule's keyword is not needed."""
        hit = classify_raw(raw, _START_ONLY) or classify_raw(raw, _rules_in(raw))
        if hit is not None:
            self._event(*hit)

    def _event(self, rule: Rule, m: re.Match, text: str) -> None:
        kind = rule.kind
        if kind not in _FRAMING:  # most lines: an event inside a test phase
            if self.phase is not None:
                getattr(self.phase, _HANDLERS[kind])(m, rule, text)
            return
        if not self.framed:
            return  # one unframed phase: conda-build markers are only text here
        if kind == "phase_start":
            if self.phase is not None:
                self._end_phase("truncated")
            self.phase = PhaseState(_package_name(m["package"]), self.budget)
            self._dense = False
            self._head = HEAD_LINES
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
            chunk = b""
            if target > pos and target != no_newline_before:
                # the lines before the marker's own do nothing: skip them. Its line usually
                # begins shortly before it: one read covers that and the first block.
                start = max(pos, target - LINE_BACK)
                chunk = os.pread(fd, target - start + read, start)
                j = chunk.rfind(b"\n", 0, target - start)
                if j >= 0:
                    parser.drop_line()
                    pos = start + j + 1
                    chunk = chunk[j + 1 :]
                else:
                    chunk = b""
                    j = _last_newline(fd, pos, start)
                    if j >= 0:
                        parser.drop_line()
                        pos = j + 1
                    else:
                        no_newline_before = target
            if chunk:
                pos += len(chunk)
                parser.feed(chunk)
                read = min(block_size, read * 2)
                continue
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
