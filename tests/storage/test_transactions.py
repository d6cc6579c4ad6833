"""Transactions in a partition log, on every engine: markers, the last stable offset, the
aborted-transaction index, and all of it surviving restarts, crashes and retention."""

from __future__ import annotations

import pytest

from katka.errors import ErrorCode, KafkaError
from katka.protocol.control import read_marker
from katka.protocol.records import iter_batches
from katka.storage.base import LogConfig, PartitionLog
from katka.storage.transaction_index import AbortedTransaction
from tests.storage.storage_helpers import EngineHarness, produce


def transactional(
    log: PartitionLog, count: int, sequence: int, producer_id: int = 7, epoch: int = 0
) -> int:
    info = produce(
        log,
        count,
        producer_id=producer_id,
        producer_epoch=epoch,
        base_sequence=sequence,
        transactional=True,
    )
    return info.base_offset


def test_an_open_transaction_holds_the_last_stable_offset_at_its_first_offset(
    harness: EngineHarness,
) -> None:
    log = harness.open()
    produce(log, 2)
    first = transactional(log, 3, 0)
    produce(log, 1)
    assert (log.last_stable_offset, log.high_watermark) == (first, 6)
    log.append_marker(7, 0, 0, commit=True, now_ms=1)
    assert log.last_stable_offset == log.high_watermark == 7
    assert log.aborted_transactions(0, 7) == []


def test_an_aborted_transaction_is_indexed_from_its_first_offset_to_its_marker(
    harness: EngineHarness,
) -> None:
    log = harness.open()
    first = transactional(log, 2, 0, producer_id=7)
    other = transactional(log, 1, 0, producer_id=8)
    marker = log.append_marker(7, 0, 5, commit=False, now_ms=1).base_offset
    assert log.last_stable_offset == other  # producer 8 still has its transaction open
    log.append_marker(8, 0, 5, commit=True, now_ms=1)
    assert log.aborted_transactions(0, log.high_watermark) == [AbortedTransaction(7, first, marker)]
    assert log.aborted_transactions(marker + 1, log.high_watermark) == []
    assert log.aborted_transactions(0, first) == []  # the fetch ends before it starts
    stored = iter_batches(log.read(marker, 1 << 20, log.high_watermark, True))[0]
    assert stored[0].is_control and stored[0].is_transactional
    assert read_marker(stored[1]) == (False, 5)


def test_a_marker_from_a_fenced_epoch_is_refused_and_a_newer_one_fences_the_producer(
    harness: EngineHarness,
) -> None:
    log = harness.open()
    transactional(log, 1, 0, epoch=3)
    with pytest.raises(KafkaError) as error:
        log.append_marker(7, 2, 0, commit=True, now_ms=1)
    assert error.value.code == ErrorCode.invalid_producer_epoch
    log.append_marker(7, 4, 0, commit=False, now_ms=1)  # the coordinator bumped the epoch
    with pytest.raises(KafkaError) as error:
        transactional(log, 1, 1, epoch=3)
    assert error.value.code == ErrorCode.invalid_producer_epoch


@pytest.mark.parametrize("how", ["restart", "crash"])
def test_open_and_aborted_transactions_survive_a_restart(harness: EngineHarness, how: str) -> None:
    config = LogConfig(segment_bytes=300, index_interval_bytes=50)
    log = harness.open(config)
    aborted_first = transactional(log, 2, 0, producer_id=1)
    produce(log, 3)
    aborted_marker = log.append_marker(1, 0, 0, commit=False, now_ms=1).base_offset
    for _ in range(4):
        produce(log, 2)
    open_first = transactional(log, 2, 0, producer_id=2)
    produce(log, 1)
    assert len(log.segment_base_offsets()) > 1  # rolls took producer snapshots
    expected = (log.last_stable_offset, log.aborted_transactions(0, log.high_watermark))

    getattr(harness, how)()
    log = harness.open(config)

    assert log.last_stable_offset == open_first
    assert expected == (open_first, [AbortedTransaction(1, aborted_first, aborted_marker)])
    assert (log.last_stable_offset, log.aborted_transactions(0, log.high_watermark)) == expected
    log.append_marker(2, 0, 0, commit=True, now_ms=1)
    assert log.last_stable_offset == log.high_watermark


def test_retention_keeps_an_open_transaction_open_and_forgets_old_aborted_ones(
    harness: EngineHarness,
) -> None:
    config = LogConfig(segment_bytes=200, index_interval_bytes=50)
    log = harness.open(config)
    transactional(log, 1, 0, producer_id=1)
    log.append_marker(1, 0, 0, commit=False, now_ms=1)
    open_first = transactional(log, 1, 0, producer_id=2)
    for _ in range(10):
        produce(log, 2)
    log.delete_records_before(log.segment_base_offsets()[-1])
    assert log.aborted_transactions(0, log.high_watermark) == []
    # The open transaction's first batch is gone; consumers still stop at the log start.
    assert open_first < log.log_start_offset == log.last_stable_offset
    harness.restart()
    log = harness.open(config)
    assert log.last_stable_offset == log.log_start_offset
    log.append_marker(2, 0, 0, commit=True, now_ms=1)
    assert log.last_stable_offset == log.high_watermark
