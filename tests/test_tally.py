"""tools.validate_logs.tally.Tally: how count lines, per-test lines and retries add up to a
phase's counts."""

from __future__ import annotations

from tools.validate_logs.results import Counts
from tools.validate_logs.tally import Tally


def test_a_count_line_replaces_the_per_test_lines_of_its_session():
    t = Tally()
    t.segment.passed += 3  # three -v lines
    t.session_counts(Counts(passed=3, failed=1))  # the count line knows one more
    assert t.total() == Counts(passed=3, failed=1) and t.count_lines == 1


def test_per_test_lines_count_for_a_process_without_a_count_line():
    t = Tally()
    t.session_counts(Counts(passed=10))
    t.segment.passed += 2  # the next process crashed before its count line
    t.process_ended()
    t.segment.failed += 1  # and the one after that was cut off by the end of the log
    assert t.total() == Counts(passed=12, failed=1)


def test_a_session_after_a_retry_is_a_rerun_not_coverage():
    t = Tally()
    t.session_counts(Counts(passed=5, failed=1))
    t.retry_pending = True
    t.session_counts(Counts(passed=1))  # the failed test re-run alone
    assert t.total() == Counts(passed=5, failed=1, rerun=1)
    assert not t.retry_pending


def test_per_test_lines_of_a_retried_process_are_reruns_too():
    t = Tally()
    t.retry_pending = True
    t.segment.passed += 1
    t.process_ended()
    assert t.total() == Counts(rerun=1)


def test_a_flaky_test_leaves_the_failed_or_errored_count():
    t = Tally()
    t.session_counts(Counts(passed=5, failed=1, errors=1))
    t.became_flaky("failed")
    t.became_flaky("error")
    t.became_flaky("crashed")  # not counted by a count line: nothing to take back
    assert t.total() == Counts(passed=5)


def test_named_failures_are_a_lower_bound():
    t = Tally()
    t.session_counts(Counts(passed=5, failed=1))
    assert t.total(failed_ids=3, errored_ids=2) == Counts(passed=5, failed=3, errors=2)
    assert Tally().total(failed_ids=0) == Counts()


def test_add_counts_adds_every_field():
    # add_counts is written out field by field for speed: a field added to Counts must be added
    # there too, or its counts would vanish when phases are merged and totals formed
    from dataclasses import fields

    from tools.validate_logs.results import add_counts

    names = [f.name for f in fields(Counts)]
    into = Counts(**{n: i + 1 for i, n in enumerate(names)})
    add_counts(into, Counts(**{n: 10 * (i + 1) for i, n in enumerate(names)}))
    assert into == Counts(**{n: 11 * (i + 1) for i, n in enumerate(names)})
