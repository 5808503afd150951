"""How many tests ran in one test phase, from the lines that report them.

A test phase holds many test processes (run_test.py starts one per file, retries in new ones).
pytest's count line ("= 2 failed, 10 passed in 3.1s =") and unittest's ``Ran N tests`` + ``OK`` /
``FAILED (...)`` are the truth for their session. Per-test lines (``-v`` results, ``-q`` progress
characters) are collected in a segment that a count line replaces; they count only for a process
that ended without one (it crashed, or the log is cut). A session run right after a "retrying"
line re-runs one failed test: it is a rerun, not more coverage.
"""

from __future__ import annotations

from tools.validate_logs.results import Counts, add_counts


class Tally:
    __slots__ = ("segment", "fallback", "final", "retry_pending", "count_lines")

    def __init__(self) -> None:
        self.segment = Counts()  # per-test lines since the last count line or process end
        self.fallback = Counts()  # per-test lines of processes that printed no count line
        self.final = Counts()  # count lines
        self.retry_pending = False  # the next session re-runs a failed test
        self.count_lines = 0

    def process_ended(self) -> None:
        """A test process ended (or a new one began): its per-test lines without a count line
        are all that is known of it."""
        if self.retry_pending:
            self.final.rerun += self.segment.ran
        else:
            add_counts(self.fallback, self.segment)
        self.segment = Counts()

    def session_counts(self, c: Counts) -> None:
        """A session's count line (or unittest totals): they replace its per-test lines."""
        self.count_lines += 1
        if self.retry_pending:
            self.final.rerun += c.ran + c.rerun
            self.retry_pending = False
        else:
            add_counts(self.final, c)
        self.segment = Counts()

    def became_flaky(self, outcome: str) -> None:
        """A test counted as failed/errored by its count line passed when re-run."""
        if outcome == "failed":
            self.final.failed -= 1
        elif outcome == "error":
            self.final.errors -= 1

    def total(self, failed_ids: int = 0, errored_ids: int = 0) -> Counts:
        """The phase's counts. A fragment or a crashed session can name more failing tests
        than its count lines (if any) counted: the named ones are the lower bound."""
        self.process_ended()
        counts = Counts()
        add_counts(counts, self.final)
        add_counts(counts, self.fallback)
        counts.failed = max(0, counts.failed, failed_ids)
        counts.errors = max(0, counts.errors, errored_ids)
        return counts
