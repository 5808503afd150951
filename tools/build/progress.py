"""Where a conda-build run stands, read from the lines it prints: phase, ninja's [n/N], test files.

``Progress.feed`` takes every line of the build's output (the log itself is never touched) and
keeps a small state; ``status`` renders it as one line. ``Progress.phase_times`` gives how long
each phase took, for the end summary. The markers are conda-build 26.7's own lines (see
CONTRIBUTING.md, "Progress while building"), ninja's status prefix (``[12/3456] Building CXX
object ...``, what PyTorch's CMake/ninja build prints) and PyTorch's ``test/run_test.py``
(``Running test_nn 1/2 ... [<time>]`` per test file and shard, after a ``Selected tests:`` list
of one file a line).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from tools.text import duration_text

# (phase, how a line that starts it begins), in the order conda-build goes through them.
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("render", ("Adding in variants from", "Attempting to finalize metadata")),
    ("solve", ("Collecting package metadata", "Solving environment")),
    (
        "source",
        (
            "BUILD START:",
            "Copying ",
            "source tree in:",
            "Applying patch",
            "Extracting download",
            "Downloading source",
        ),
    ),
    ("build", ("export PREFIX=", "export SRC_DIR=")),
    ("package", ("Packaging ",)),
    ("test", ("TEST START:",)),
)
_NINJA_RE = re.compile(r"^\[(\d+)/(\d+)\] ")
_RUN_TEST_RE = re.compile(r"^Running (\S+) \d+/\d+ \.\.\. \[")
_SELECTED = "Selected tests:"
_RATE_WINDOW_S = 120.0  # the ninja rate is measured over the last two minutes


@dataclass
class Progress:
    start: float = field(default_factory=time.monotonic)
    phase: str = "startup"  # before conda-build prints its first line
    phase_started: float = 0.0
    times: dict[str, float] = field(default_factory=dict)
    ninja: tuple[int, int] | None = None
    _ninja_seen: list[tuple[float, int]] = field(default_factory=list)
    tests_total: int | None = None
    tests_started: list[str] = field(default_factory=list)
    tests_current: str = ""
    _in_selected: bool = False

    def __post_init__(self) -> None:
        self.phase_started = self.start

    def feed(self, line: str, now: float | None = None) -> None:
        """Take one line of output (without or with its newline)."""
        now = time.monotonic() if now is None else now
        text = line.strip()
        if not text:
            return
        self._tests(text)
        for phase, starts in PHASES:
            if text.startswith(starts):
                self._enter(phase, now)
                break
        m = _NINJA_RE.match(text)
        if m:
            done, total = int(m.group(1)), int(m.group(2))
            self.ninja = (done, total)
            self._ninja_seen.append((now, done))
            while self._ninja_seen and now - self._ninja_seen[0][0] > _RATE_WINDOW_S:
                self._ninja_seen.pop(0)

    def _enter(self, phase: str, now: float) -> None:
        if phase == self.phase:
            return
        order = [p for p, _ in PHASES]
        # conda-build re-reads the recipe at test time (another "Adding in variants"), and each
        # output is packaged and tested in turn: never go back, except test -> package for the
        # next output.
        going_back = self.phase in order and order.index(phase) < order.index(self.phase)
        if going_back and not (phase == "package" and self.phase == "test"):
            return
        self.times[self.phase] = self.times.get(self.phase, 0.0) + now - self.phase_started
        self.phase, self.phase_started = phase, now

    def _tests(self, text: str) -> None:
        if text.startswith(_SELECTED):
            self._in_selected, self.tests_total = True, 0
            return
        if self._in_selected:
            if " " not in text:  # the list: one test file a line (" test_nn")
                self.tests_total = (self.tests_total or 0) + 1
                return
            self._in_selected = False
        m = _RUN_TEST_RE.match(text)
        if m:
            self.tests_current = text.split(" ... [", 1)[0].removeprefix("Running ")
            if m.group(1) not in self.tests_started:
                self.tests_started.append(m.group(1))

    def ninja_rate(self) -> float | None:
        """Ninja steps per second over the last two minutes."""
        if len(self._ninja_seen) < 2:
            return None
        (t0, n0), (t1, n1) = self._ninja_seen[0], self._ninja_seen[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 and n1 > n0 else None

    def status(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        parts = [f"{self.phase} {duration_text(now - self.phase_started)}"]
        if self.ninja and self.phase in ("build", "source"):
            done, total = self.ninja
            part = f"ninja {done}/{total} ({100 * done // max(total, 1)}%)"
            rate = self.ninja_rate()
            if rate:
                part += f", {rate * 60:.0f}/min, ETA {duration_text((total - done) / rate)}"
            parts.append(part)
        if self.tests_started and self.phase == "test":
            of = f"/{self.tests_total}" if self.tests_total else ""
            parts.append(f"test files {len(self.tests_started)}{of}, now {self.tests_current}")
        parts.append(f"total {duration_text(now - self.start)}")
        return " | ".join(parts)

    def phase_times(self, now: float | None = None) -> dict[str, float]:
        """Seconds spent in each phase so far, the current one included, in phase order."""
        now = time.monotonic() if now is None else now
        times = dict(self.times)
        times[self.phase] = times.get(self.phase, 0.0) + now - self.phase_started
        order = ["startup", *(p for p, _ in PHASES)]
        return {p: times[p] for p in order if times.get(p, 0.0) > 0}


def summarize(phases: dict[str, float]) -> str:
    """``render 14s, source 41s, build 1h55m, ...`` (the end summary's line)."""
    return ", ".join(f"{p} {duration_text(t)}" for p, t in phases.items() if t >= 0.5) or "-"
