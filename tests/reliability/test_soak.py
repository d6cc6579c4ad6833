"""The durability soak (`--fsync always`, 16 KiB segments, SIGKILL) in short, and its checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from katka.reliability import soak
from katka.reliability.soak import Acknowledgements, ReadBack, SoakSummary


@pytest.mark.slow
def test_fsync_always_with_small_segments_keeps_every_acknowledged_record_across_sigkill(
    tmp_path: Path,
) -> None:
    summary = soak.run(8, data_dir=tmp_path / "data")
    assert summary.violations == 0, summary.line() + "\n" + "\n".join(summary.first_errors)
    assert summary.acknowledged > 10_000, summary.line()
    assert summary.segments > 3 * 10, summary.line()  # rolls kept landing inside rounds


class _Message:
    def __init__(self, partition: int, offset: int, sequence: int) -> None:
        self._partition, self._offset = partition, offset
        self._value = b"%012d" % sequence

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


def read_back(acked: list[tuple[int, int, int]], stored: list[tuple[int, int, int]]) -> SoakSummary:
    """Acknowledged and stored (partition, offset, sequence)s through the soak's checks."""
    acks = Acknowledgements()
    for partition, offset, sequence in acked:
        acks.on_delivery(None, _Message(partition, offset, sequence))
    summary = SoakSummary()
    check = ReadBack(acks, 2, summary)
    for partition, offset, sequence in stored:
        check.on_record(partition, offset, b"%012d" % sequence + b"x")
    check.finish([sum(1 for p, _, _ in stored if p == partition) for partition in (0, 1)])
    return summary


def test_the_read_back_accepts_every_acknowledged_record_in_place() -> None:
    summary = read_back([(0, 0, 0), (1, 0, 1)], [(0, 0, 0), (1, 0, 1), (0, 1, 2)])
    assert summary.violations == 0 and summary.records_read == 3


def test_the_read_back_sees_lost_duplicated_and_misplaced_records() -> None:
    acked = [(0, 0, 0), (1, 0, 1), (0, 1, 2), (1, 1, 3)]
    stored = [(0, 0, 0), (0, 1, 0), (1, 0, 3)]  # 0 twice, 1 and 2 missing, 3 moved
    summary = read_back(acked, stored)
    assert (summary.duplicated, summary.lost) == (1, 3)


def test_the_read_back_sees_a_gap_in_the_offsets() -> None:
    summary = read_back([(0, 0, 0)], [(0, 0, 0), (0, 2, 1)])
    assert summary.gaps >= 1
