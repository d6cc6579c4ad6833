"""Crash consistency: a bounded run of the SIGKILL harness, and the harness's own checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from katka.reliability import crash
from katka.reliability.crash import CrashHarness
from katka.reliability.crash_clients import Ledger


@pytest.mark.slow
def test_a_few_kill_restart_cycles_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    summary = crash.run(3, data_dir=tmp_path / "data", seed=5, max_seconds=40, full_check_every=2)
    assert summary.problems == [], summary.problems
    assert summary.violations == 0, summary.line()
    assert summary.cycles >= 2, summary.line()
    assert summary.records_checked > 500, summary.line()
    assert summary.history_checked > 0, summary.line()  # rebalances seen before a kill
    assert max(summary.recovery_seconds) < 10, summary.line()


class _Message:
    def __init__(self, partition: int, offset: int, value: bytes) -> None:
        self._partition, self._offset, self._value = partition, offset, value

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


def harness_with(tmp_path: Path, acked: list[tuple[int, int, bytes]]) -> CrashHarness:
    harness = CrashHarness(tmp_path, partitions=1)
    ledger: Ledger = harness.ledger
    for partition, offset, value in acked:
        ledger.on_delivery(None, _Message(partition, offset, value))
    return harness


def test_the_checks_see_a_lost_acknowledged_record(tmp_path: Path) -> None:
    harness = harness_with(tmp_path, [(0, 0, b"p0g0-000000000"), (0, 1, b"p0g0-000000001")])
    harness._check_partition(1, 0, 0, [(0, b"p0g0-000000000")])
    harness._confirm_acknowledged(1)
    assert (harness.summary.records_checked, harness.summary.lost) == (1, 1)


def test_the_checks_see_duplicates_reordering_and_gaps(tmp_path: Path) -> None:
    harness = harness_with(tmp_path, [])
    harness._check_partition(
        1,
        0,
        0,
        [
            (0, b"p0g0-000000000"),
            (1, b"p0g0-000000002"),
            (2, b"p0g0-000000001"),  # out of sequence order
            (3, b"p0g0-000000002"),  # a second copy
            (5, b"p0g0-000000003"),  # offset 4 is missing
        ],
    )
    summary = harness.summary
    assert (summary.reordered, summary.duplicated, summary.gaps) == (1, 1, 1)


def test_the_checks_see_committed_offsets_going_backwards_or_past_the_end(tmp_path: Path) -> None:
    harness = harness_with(tmp_path, [])
    harness._check_partition(1, 0, 0, [(i, b"p0g0-%09d" % i) for i in range(10)])
    harness.check_commits_against(1, [7], [8])  # acknowledged 8, the broker says 7
    harness.check_commits_against(2, [11], [0])  # past the log end (10)
    assert harness.summary.commit_regressions == 1
    assert harness.summary.commits_past_end == 1


@pytest.mark.slow
def test_transactions_stay_atomic_across_kill_restart_cycles(tmp_path: Path) -> None:
    from katka.reliability import crash_txn

    summary = crash_txn.run(4, data_dir=tmp_path / "txn", seed=3, max_seconds=150)
    assert summary.violations == 0, summary.line()
    assert summary.cycles >= 2, summary.line()
    assert summary.committed_checked > 20 and summary.aborted_checked > 0, summary.line()
