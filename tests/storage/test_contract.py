"""The PartitionLog / StorageEngine contract, run against every engine (memory and disk)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import validate_produce_records
from katka.protocol.records import build_batch, decode_records
from katka.storage.base import AppendInfo, LogConfig, PartitionLog
from tests.storage.storage_helpers import EngineHarness, produce, read_all

ONE_BATCH_PER_SEGMENT = LogConfig(segment_bytes=1)
BIG = 2**31 - 1


def batch_size(count: int) -> int:
    """Size of the batch `produce(log, count)` appends."""
    return len(build_batch([(None, f"v{i}".encode(), (), 1_000) for i in range(count)]))


def offsets(data: bytes) -> list[int]:
    return [record.offset for record in decode_records(data)]


# --- offsets and reads -----------------------------------------------------------------------


def test_offsets_are_dense_from_zero_across_appends(harness: EngineHarness) -> None:
    log = harness.open()
    assert (log.log_start_offset, log.log_end_offset, log.high_watermark) == (0, 0, 0)

    first = produce(log, 3)
    second = produce(log, 2)

    assert (first.base_offset, first.last_offset, first.duplicate) == (0, 2, False)
    assert (second.base_offset, second.last_offset) == (3, 4)
    assert (first.log_append_time_ms, first.log_start_offset) == (-1, 0)
    assert [(r.offset, r.value) for r in read_all(log)] == [
        (0, b"v0"), (1, b"v1"), (2, b"v2"), (3, b"v0"), (4, b"v1"),
    ]  # fmt: skip
    assert log.high_watermark == log.log_end_offset == 5
    assert log.size_bytes == batch_size(3) + batch_size(2)


def test_several_batches_in_one_append_get_consecutive_offsets(harness: EngineHarness) -> None:
    log = harness.open()
    produce(log, 1)
    records = build_batch([(None, b"a", (), 1)] * 2) + build_batch([(None, b"b", (), 2)] * 3)

    info = log.append(records, validate_produce_records(records, BIG), 0)

    assert (info.base_offset, info.last_offset) == (1, 5)
    assert [(r.offset, r.value) for r in read_all(log)][1:] == [
        (1, b"a"), (2, b"a"), (3, b"b"), (4, b"b"), (5, b"b"),
    ]  # fmt: skip


def test_reading_from_the_middle_of_a_batch_returns_that_whole_batch(
    harness: EngineHarness,
) -> None:
    log = harness.open()
    for _ in range(3):
        produce(log, 3)

    assert offsets(log.read(4, BIG, 9, True)) == [3, 4, 5, 6, 7, 8]
    assert offsets(log.read(8, BIG, 9, True)) == [6, 7, 8]


def test_the_last_batch_is_read_whole_from_any_of_its_offsets_before_and_after_a_restart(
    harness: EngineHarness,
) -> None:
    log = harness.open()
    produce(log, 2)
    produce(log, 3)  # offsets 2-4: the batch a woken consumer reads
    for offset in (2, 3, 4):
        assert offsets(log.read(offset, BIG, 5, True)) == [2, 3, 4]
    assert offsets(log.read(2, BIG, 2, True)) == []  # max_offset still bounds it
    assert log.read(3, 10, 5, False) == b""  # and max_bytes, unless min_one_batch
    assert offsets(log.read(3, 10, 5, True)) == [2, 3, 4]
    assert offsets(log.read(1, BIG, 5, True)) == [0, 1, 2, 3, 4]
    produce(log, 1)
    assert offsets(log.read(4, BIG, 6, True)) == [2, 3, 4, 5]

    for restart in (harness.restart, harness.crash):
        restart()
        log = harness.open()
        assert offsets(log.read(5, BIG, 6, True)) == [5]
        assert offsets(log.read(3, BIG, 6, True)) == [2, 3, 4, 5]


def test_reading_at_the_log_end_offset_returns_no_bytes(harness: EngineHarness) -> None:
    log = harness.open()
    assert log.read(0, BIG, 0, True) == b""
    produce(log, 2)
    assert log.read(2, BIG, 2, True) == b""


def test_offsets_outside_the_log_are_out_of_range(harness: EngineHarness) -> None:
    log = harness.open()
    produce(log, 5)
    log.delete_records_before(2)

    for offset in (-1, 1, 6):
        with pytest.raises(KafkaError) as error:
            log.read(offset, BIG, 5, True)
        assert error.value.code == ErrorCode.offset_out_of_range


def test_max_bytes_returns_only_whole_batches_that_fit(harness: EngineHarness) -> None:
    log = harness.open()
    for _ in range(3):
        produce(log, 2)
    size = batch_size(2)

    assert offsets(log.read(0, 2 * size + size // 2, 6, False)) == [0, 1, 2, 3]
    assert offsets(log.read(0, 3 * size, 6, False)) == [0, 1, 2, 3, 4, 5]


def test_an_oversized_first_batch_is_returned_whole_only_with_min_one_batch(
    harness: EngineHarness,
) -> None:
    log = harness.open()
    produce(log, 4)
    produce(log, 1)

    assert log.read(0, 10, 5, False) == b""
    assert offsets(log.read(0, 10, 5, True)) == [0, 1, 2, 3]


def test_max_offset_excludes_batches_starting_at_or_after_it(harness: EngineHarness) -> None:
    log = harness.open()
    produce(log, 3)
    produce(log, 3)

    assert offsets(log.read(0, BIG, 3, True)) == [0, 1, 2]
    assert offsets(log.read(0, BIG, 4, True)) == [0, 1, 2, 3, 4, 5]
    assert log.read(3, BIG, 3, True) == b""


def test_reads_continue_across_segment_boundaries(harness: EngineHarness) -> None:
    log = harness.open(ONE_BATCH_PER_SEGMENT)
    for _ in range(4):
        produce(log, 2)

    assert log.segment_base_offsets() == [0, 2, 4, 6]
    assert offsets(log.read(3, BIG, 8, True)) == [2, 3, 4, 5, 6, 7]
    assert offsets(log.read(3, 2 * batch_size(2), 8, True)) == [2, 3, 4, 5]
    assert offsets(log.read(3, BIG, 6, True)) == [2, 3, 4, 5]


# --- timestamps ------------------------------------------------------------------------------

timestamp_batches = st.lists(
    st.tuples(st.lists(st.integers(0, 60), min_size=1, max_size=5), st.integers(0, 4)),
    min_size=1,
    max_size=10,
)


@pytest.mark.parametrize("kind", ["memory", "disk"])
@settings(max_examples=20, deadline=None)
@given(
    batches=timestamp_batches,
    targets=st.lists(st.integers(-1, 62), min_size=1, max_size=6),
    delete_fraction=st.floats(0, 1),
)
def test_offset_for_timestamp_is_the_first_record_at_or_after_the_target(
    kind: str, batches: list[tuple[list[int], int]], targets: list[int], delete_fraction: float
) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        harness = EngineHarness(kind, Path(data_dir))
        config = LogConfig(segment_bytes=300, index_interval_bytes=40)
        log = harness.open(config)
        timestamps: list[int] = []
        for batch_timestamps, codec in batches:
            produce(log, [(None, b"x", ts) for ts in batch_timestamps], compression=codec)
            timestamps.extend(batch_timestamps)
        log_start = log.delete_records_before(int(delete_fraction * len(timestamps)))

        def expect(target: int) -> tuple[int, int] | None:
            return next(
                ((o, ts) for o, ts in enumerate(timestamps) if o >= log_start and ts >= target),
                None,
            )

        for restart in (lambda: None, harness.restart, harness.crash):
            restart()
            log = harness.open(config)
            for target in targets:
                found = log.offset_for_timestamp(target)
                assert (found and (found.offset, found.timestamp_ms)) == expect(target)
            largest = log.max_timestamp()
            remaining = timestamps[log_start:]
            if not remaining:
                assert largest is None
            else:
                assert largest is not None
                assert (largest.offset, largest.timestamp_ms) == (
                    log_start + remaining.index(max(remaining)),
                    max(remaining),
                )
        harness.engine.close()


def test_a_closed_segments_largest_timestamp_counts_after_a_restart(
    harness: EngineHarness,
) -> None:
    big = len(build_batch([(None, b"x" * 200, (), 10)]))
    small = len(build_batch([(None, b"x", (), 10)]))
    config = LogConfig(index_interval_bytes=100, segment_bytes=big + 2 * small)
    log = harness.open(config)
    produce(log, [(None, b"x" * 200, 10)])
    produce(log, [(None, b"x", 20)])
    produce(log, [(None, b"x", 90)])  # the largest timestamp, after the last index entry
    produce(log, [(None, b"x", 30)])  # rolls
    assert log.segment_base_offsets() == [0, 3]

    harness.restart()
    log = harness.open(config)

    found = log.offset_for_timestamp(50)
    assert found is not None and (found.offset, found.timestamp_ms) == (2, 90)
    largest = log.max_timestamp()
    assert largest is not None and (largest.offset, largest.timestamp_ms) == (2, 90)


def test_max_timestamp_of_an_empty_log_is_none(harness: EngineHarness) -> None:
    log = harness.open()
    assert log.max_timestamp() is None
    assert log.offset_for_timestamp(0) is None


def test_oldest_timestamp_at_is_the_timestamp_of_that_record(harness: EngineHarness) -> None:
    log = harness.open()
    produce(log, [(None, b"a", 50), (None, b"b", 40)], compression=1)
    produce(log, [(None, b"c", 70)])

    assert [log.oldest_timestamp_at(offset) for offset in range(4)] == [50, 40, 70, None]


def test_log_append_time_stamps_every_record_with_the_append_time(
    harness: EngineHarness,
) -> None:
    log = harness.open(LogConfig(log_append_time=True))
    info = produce(log, [(None, b"a", 5), (None, b"b", 9)], now_ms=777, compression=3)

    assert info.log_append_time_ms == 777
    assert [r.timestamp_ms for r in read_all(log)] == [777, 777]
    found = log.offset_for_timestamp(700)
    assert found is not None and (found.offset, found.timestamp_ms) == (0, 777)
    assert log.offset_for_timestamp(778) is None


# --- log start, retention, rolling -----------------------------------------------------------


def test_delete_records_before_moves_the_log_start_and_drops_whole_segments(
    harness: EngineHarness,
) -> None:
    log = harness.open(ONE_BATCH_PER_SEGMENT)
    for _ in range(3):
        produce(log, 3)

    assert log.delete_records_before(4) == 4
    assert log.log_start_offset == 4
    assert log.segment_base_offsets() == [3, 6]
    assert offsets(log.read(4, BIG, 9, True)) == [3, 4, 5, 6, 7, 8]
    assert log.delete_records_before(1) == 4  # never moves back
    assert log.delete_records_before(9) == 9
    assert log.segment_base_offsets() == [6]  # the active segment stays
    assert read_all(log) == []
    assert produce(log, 1).base_offset == 9


def test_delete_records_before_past_the_high_watermark_is_out_of_range(
    harness: EngineHarness,
) -> None:
    log = harness.open()
    produce(log, 2)
    with pytest.raises(KafkaError) as error:
        log.delete_records_before(3)
    assert error.value.code == ErrorCode.offset_out_of_range


def test_retention_by_bytes_deletes_the_oldest_closed_segments(harness: EngineHarness) -> None:
    size = batch_size(2)
    log = harness.open(LogConfig(segment_bytes=1, retention_bytes=2 * size, retention_ms=-1))
    for _ in range(4):
        produce(log, 2)

    assert log.enforce_retention(now_ms=10**12) == 2 * size
    assert log.segment_base_offsets() == [4, 6]
    assert log.log_start_offset == 4
    assert log.enforce_retention(now_ms=10**12) == 0


def test_retention_by_time_uses_each_segments_largest_timestamp(harness: EngineHarness) -> None:
    log = harness.open(LogConfig(segment_bytes=1, retention_ms=1_000))
    produce(log, [(None, b"a", 100)])
    produce(log, [(None, b"b", 100), (None, b"c", 300)])
    produce(log, [(None, b"d", 100)])  # the active segment is never deleted

    assert log.enforce_retention(now_ms=1_200) == len(build_batch([(None, b"a", (), 100)]))
    assert (log.segment_base_offsets(), log.log_start_offset) == ([1, 3], 1)
    assert log.enforce_retention(now_ms=1_300) == 0
    assert log.enforce_retention(now_ms=1_301) > 0
    assert (log.segment_base_offsets(), log.log_start_offset) == ([3], 3)


def test_segments_roll_when_the_next_batch_would_pass_segment_bytes(
    harness: EngineHarness,
) -> None:
    size = batch_size(1)
    log = harness.open(LogConfig(segment_bytes=2 * size))
    for _ in range(5):
        produce(log, 1)
    assert log.segment_base_offsets() == [0, 2, 4]


def test_segments_roll_when_a_batch_is_segment_ms_newer_than_the_first_batch(
    harness: EngineHarness,
) -> None:
    log = harness.open(LogConfig(segment_ms=100))
    produce(log, 1, timestamp_ms=1_000, now_ms=5_000)
    produce(log, 1, timestamp_ms=1_100, now_ms=9_000)  # record time counts, not the clock
    assert log.segment_base_offsets() == [0]
    produce(log, 1, timestamp_ms=1_101, now_ms=9_000)
    assert log.segment_base_offsets() == [0, 2]


def test_replaying_old_records_does_not_roll_a_segment_per_batch(harness: EngineHarness) -> None:
    log = harness.open(LogConfig(segment_ms=100))
    for i in range(20):
        produce(log, 1, timestamp_ms=1_000 + i, now_ms=10**12 + i)
    assert log.segment_base_offsets() == [0]


def test_an_idle_segment_rolls_segment_ms_after_it_was_opened(harness: EngineHarness) -> None:
    log = harness.open(LogConfig(segment_ms=100))
    produce(log, 1, timestamp_ms=1_000, now_ms=2_000)
    log.maybe_roll(now_ms=2_100)
    assert log.segment_base_offsets() == [0]
    log.maybe_roll(now_ms=2_101)
    assert log.segment_base_offsets() == [0, 1]
    log.maybe_roll(now_ms=5_000)  # an empty active segment never rolls
    assert log.segment_base_offsets() == [0, 1]


def test_a_first_batch_without_timestamps_rolls_by_broker_time(harness: EngineHarness) -> None:
    log = harness.open(LogConfig(segment_ms=100))
    produce(log, 1, timestamp_ms=-1, now_ms=2_000)
    produce(log, 1, timestamp_ms=-1, now_ms=2_100)
    assert log.segment_base_offsets() == [0]
    produce(log, 1, timestamp_ms=-1, now_ms=2_101)
    assert log.segment_base_offsets() == [0, 2]


# --- idempotent producers --------------------------------------------------------------------


def idempotent(
    log: PartitionLog, count: int, sequence: int, epoch: int = 0, producer_id: int = 7
) -> AppendInfo:
    return produce(
        log,
        count,
        producer_id=producer_id,
        producer_epoch=epoch,
        base_sequence=sequence,
    )


def expect_error(
    code: ErrorCode,
    log: PartitionLog,
    count: int,
    sequence: int,
    epoch: int = 0,
    producer_id: int = 7,
) -> None:
    with pytest.raises(KafkaError) as error:
        idempotent(log, count, sequence, epoch, producer_id)
    assert error.value.code == code


def test_a_retried_batch_is_answered_with_its_original_offsets(harness: EngineHarness) -> None:
    log = harness.open()
    idempotent(log, 2, 0)
    idempotent(log, 3, 2)

    duplicate = idempotent(log, 2, 0)
    assert (duplicate.base_offset, duplicate.last_offset, duplicate.duplicate) == (0, 1, True)
    assert log.log_end_offset == 5


def test_only_the_last_five_batches_are_recognised_as_duplicates(harness: EngineHarness) -> None:
    log = harness.open()
    for sequence in range(6):
        idempotent(log, 1, sequence)

    assert idempotent(log, 1, 1).duplicate
    expect_error(ErrorCode.out_of_order_sequence_number, log, 1, 0)


def test_a_sequence_gap_is_out_of_order_and_appends_nothing(harness: EngineHarness) -> None:
    log = harness.open()
    idempotent(log, 2, 0)
    expect_error(ErrorCode.out_of_order_sequence_number, log, 1, 3)
    assert log.log_end_offset == 2


def test_an_older_producer_epoch_is_fenced(harness: EngineHarness) -> None:
    log = harness.open()
    idempotent(log, 1, 0, epoch=3)
    expect_error(ErrorCode.invalid_producer_epoch, log, 1, 1, epoch=2)


def test_a_new_producer_epoch_must_start_at_sequence_zero(harness: EngineHarness) -> None:
    log = harness.open()
    idempotent(log, 1, 0, epoch=0)
    expect_error(ErrorCode.out_of_order_sequence_number, log, 1, 1, epoch=1)
    assert not idempotent(log, 1, 0, epoch=1).duplicate


def test_sequence_numbers_wrap_after_the_largest_int32(harness: EngineHarness) -> None:
    log = harness.open()
    idempotent(log, 2, 2**31 - 2)  # sequences 2**31-2 and 2**31-1
    assert not idempotent(log, 1, 0).duplicate


def test_an_unknown_producer_may_start_at_any_sequence(harness: EngineHarness) -> None:
    log = harness.open()
    assert idempotent(log, 1, 42).base_offset == 0


def test_a_batch_that_breaks_the_sequence_rejects_the_whole_append(
    harness: EngineHarness,
) -> None:
    log = harness.open()
    good = build_batch([(None, b"a", (), 1)], producer_id=7, producer_epoch=0, base_sequence=0)
    gap = build_batch([(None, b"b", (), 1)], producer_id=7, producer_epoch=0, base_sequence=5)
    with pytest.raises(KafkaError) as error:
        log.append(good + gap, validate_produce_records(good + gap, BIG), 0)
    assert error.value.code == ErrorCode.out_of_order_sequence_number
    assert log.log_end_offset == 0


def test_batches_without_a_producer_id_are_never_deduplicated(harness: EngineHarness) -> None:
    log = harness.open()
    produce(log, 1)
    assert not produce(log, 1).duplicate
    assert log.log_end_offset == 2


def test_producers_whose_batches_were_all_deleted_are_forgotten(harness: EngineHarness) -> None:
    log = harness.open(ONE_BATCH_PER_SEGMENT)
    idempotent(log, 1, 0, producer_id=1)
    idempotent(log, 1, 0, producer_id=2)
    log.delete_records_before(1)

    assert not idempotent(log, 1, 9, producer_id=1).duplicate  # unknown again: any sequence
    expect_error(ErrorCode.out_of_order_sequence_number, log, 1, 9, producer_id=2)  # still known


# --- flushing, restarts, the engine ----------------------------------------------------------


def test_needs_flush_follows_flush_messages_and_flush_ms(harness: EngineHarness) -> None:
    log = harness.open(LogConfig(flush_messages=3, flush_ms=100))
    assert not log.needs_flush(0)
    produce(log, 2, now_ms=1_000)
    assert not log.needs_flush(1_050)
    assert log.needs_flush(1_100)
    produce(log, 1, now_ms=1_000)
    assert log.needs_flush(1_000)
    log.flush()
    assert not log.needs_flush(10**9)


def test_a_clean_restart_keeps_records_log_start_and_producer_state(
    harness: EngineHarness,
) -> None:
    config = LogConfig(segment_bytes=200, index_interval_bytes=50)
    log = harness.open(config)
    for sequence in range(0, 20, 2):
        idempotent(log, 2, sequence)
    log.delete_records_before(5)
    before = read_all(log)

    harness.restart()
    log = harness.open(config)

    assert harness.engine.recovered_cleanly
    assert (log.log_start_offset, log.log_end_offset) == (5, 20)
    assert read_all(log) == before
    assert idempotent(log, 2, 18).duplicate
    expect_error(ErrorCode.out_of_order_sequence_number, log, 1, 21)
    assert idempotent(log, 1, 20).base_offset == 20


def test_a_crash_keeps_everything_appended_before_it(harness: EngineHarness) -> None:
    config = LogConfig(segment_bytes=200, index_interval_bytes=50)
    log = harness.open(config)
    for sequence in range(0, 20, 2):
        idempotent(log, 2, sequence)
    before = read_all(log)

    harness.crash()
    log = harness.open(config)

    assert read_all(log) == before
    assert log.log_end_offset == 20
    assert idempotent(log, 2, 18).duplicate
    if harness.kind == "disk":
        assert not harness.engine.recovered_cleanly


def test_existing_logs_lists_partitions_and_delete_log_removes_one(
    harness: EngineHarness,
) -> None:
    for topic, partition in [("a-b.c_d", 0), ("a-b.c_d", 11), ("x", 2)]:
        produce(harness.open(topic=topic, partition=partition), 1)

    assert harness.engine.existing_logs() == [("a-b.c_d", 0), ("a-b.c_d", 11), ("x", 2)]
    harness.engine.delete_log("a-b.c_d", 11)
    assert harness.engine.existing_logs() == [("a-b.c_d", 0), ("x", 2)]
    assert harness.open(topic="a-b.c_d", partition=11).log_end_offset == 0
