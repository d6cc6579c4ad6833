"""Record timestamps on append, roll, retention and time lookups: what the broker stores is what
Kafka's validator would store, whatever the producer put in the batch header, and data a
producer's header got wrong is never deleted early (issue 10 part 1)."""

from __future__ import annotations

import os
import struct
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import (
    CRC_OFFSET,
    MAX_TIMESTAMP_OFFSET,
    assign_base_offset,
    compute_crc,
    read_header,
    validate_produce_records,
)
from katka.protocol.records import build_batch, iter_batches
from katka.storage.base import LogConfig, PartitionLog
from katka.storage.disk.engine import CLEAN_SHUTDOWN_FILE, partition_directory_name
from katka.storage.disk.index import TIME_ENTRY, TimeIndex
from tests.storage.storage_helpers import EngineHarness, read_all

DAY = 24 * 3600 * 1000
HOUR = 3600 * 1000
TOPIC, PARTITION = "ts", 0


def now_ms() -> int:
    return time.time_ns() // 1_000_000  # retention of batches without timestamps uses mtimes


def header_batch(
    timestamps: list[int],
    max_timestamp: int | None = None,
    base_timestamp: int | None = None,
    compression: int = 0,
) -> bytes:
    """A batch with its records' timestamps and a header max timestamp set by hand (None: the
    true one, as honest producers write it)."""
    data = bytearray(
        build_batch(
            [(None, b"v%d" % i, (), ts) for i, ts in enumerate(timestamps)],
            compression=compression,
            base_timestamp=base_timestamp,
        )
    )
    if max_timestamp is not None:
        struct.pack_into(">q", data, MAX_TIMESTAMP_OFFSET, max_timestamp)
        struct.pack_into(">I", data, CRC_OFFSET, compute_crc(data))
    return bytes(data)


def append(log: PartitionLog, batch: bytes, now: int) -> None:
    log.append(batch, validate_produce_records(batch, 1 << 24), now)


def timeindex_entries(log_dir: Path) -> list[tuple[int, int]]:
    entries = []
    for path in sorted(log_dir.glob("*.timeindex")):
        entries.extend(TIME_ENTRY.iter_unpack(path.read_bytes()))
    return entries


# --- batches stored by an older katka, as sarama sent them -------------------------------------


def write_old_data_dir(data_dir: Path, now: int, clean: bool) -> list[int]:
    """Two closed segments and an active one holding batches with max_timestamp -1 and empty
    time indexes, as katka before the validator left them (its roll then failed). Returns the
    record timestamps by offset."""
    log_dir = data_dir / partition_directory_name(TOPIC, PARTITION)
    log_dir.mkdir(parents=True)
    timestamps = [now - 3 * DAY, now - 2 * DAY, now - DAY, now - 10, now - 5]
    layout = {0: [0, 1], 2: [2], 3: [3, 4]}  # segment base offset -> offsets
    for base, offsets in layout.items():
        content = b""
        for offset in offsets:
            batch = bytearray(header_batch([timestamps[offset]], max_timestamp=-1))
            assign_base_offset(batch, offset)
            content += batch
        (log_dir / f"{base:020d}.log").write_bytes(content)
        (log_dir / f"{base:020d}.index").write_bytes(b"")
        (log_dir / f"{base:020d}.timeindex").write_bytes(b"")
    if clean:
        (data_dir / CLEAN_SHUTDOWN_FILE).write_bytes(b"")
    return timestamps


@pytest.mark.parametrize("clean", [True, False], ids=["clean", "crashed"])
def test_an_old_data_dir_with_minus_one_timestamps_keeps_its_data_and_answers_by_time(
    tmp_path: Path, clean: bool
) -> None:
    now = now_ms()
    timestamps = write_old_data_dir(tmp_path, now, clean)
    harness = EngineHarness("disk", tmp_path)
    log = harness.open(LogConfig(segment_bytes=200, index_interval_bytes=1), TOPIC, PARTITION)

    assert log.enforce_retention(now) == 0  # retention.ms is 7 days: nothing is that old
    assert log.log_start_offset == 0
    for offset, timestamp in enumerate(timestamps):
        found = log.offset_for_timestamp(timestamp)
        assert found is not None and (found.offset, found.timestamp_ms) == (offset, timestamp)
    newest = log.max_timestamp()
    assert newest is not None and (newest.offset, newest.timestamp_ms) == (4, now - 5)

    append(log, header_batch([now], max_timestamp=-1), now)  # rolls: segment.bytes is small
    append(log, header_batch([now + 1], max_timestamp=-1), now + 1)
    assert log.log_end_offset == 7
    # The first segment's newest record (offset 1) is 2 days old: 7 days pass at now + 5 days.
    assert log.enforce_retention(now + 5 * DAY - HOUR) == 0
    assert log.log_start_offset == 0
    assert log.enforce_retention(now + 5 * DAY + HOUR) > 0
    assert log.log_start_offset == 2
    harness.restart()
    log = harness.open(LogConfig(segment_bytes=200), TOPIC, PARTITION)
    assert [r.timestamp_ms for r in read_all(log)] == timestamps[2:] + [now, now + 1]
    entries = timeindex_entries(Path(log.directory))
    assert entries and all(timestamp >= 0 for timestamp, _ in entries)


def test_a_segment_without_record_timestamps_is_kept_by_its_mtime(tmp_path: Path) -> None:
    harness = EngineHarness("disk", tmp_path)
    log = harness.open(LogConfig(segment_bytes=1, index_interval_bytes=1))
    now = now_ms()
    for _ in range(3):
        append(log, header_batch([-1, -1]), now)
    harness.restart()  # closing writes each segment's final time index entry, if any
    log = harness.open(LogConfig(segment_bytes=1, index_interval_bytes=1))
    assert timeindex_entries(Path(log.directory)) == []  # Kafka writes no -1 entries either

    assert log.enforce_retention(now + 6 * DAY) == 0
    oldest = tmp_path / partition_directory_name("orders.v1_x-y", 3) / f"{0:020d}.log"
    os.utime(oldest, ns=(0, (now - 8 * DAY) * 1_000_000))  # untouched for 8 days
    assert log.enforce_retention(now) > 0
    assert log.log_start_offset == 2


def test_a_final_time_index_entry_that_cannot_be_written_fails_no_append_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = now_ms()
    size = len(header_batch([now]))
    # Four batches per segment; an index entry every second batch, so the last batch of the
    # segment (its newest record) is covered only by the entry written when the segment closes.
    config = LogConfig(segment_bytes=4 * size, index_interval_bytes=size * 3 // 2, retention_ms=DAY)
    harness = EngineHarness("disk", tmp_path)
    log = harness.open(config)
    for hours_ago in (5, 4, 3, 2):
        append(log, header_batch([now - hours_ago * HOUR]), now)

    def full_disk(self: TimeIndex, timestamp: int, offset: int) -> None:
        raise OSError(28, "No space left on device", self.path)

    monkeypatch.setattr(TimeIndex, "maybe_append", full_disk)
    append(log, header_batch([now - HOUR]), now)  # rolls: the final entry cannot be written
    monkeypatch.undo()
    assert log.segment_base_offsets() == [0, 4]

    harness.restart()
    log = harness.open(config)
    # The first segment's newest record is 2 hours old: retention (1 day) keeps it until then.
    assert log.enforce_retention(now + DAY - 3 * HOUR) == 0
    assert [r.offset for r in read_all(log)] == [0, 1, 2, 3, 4]
    found = log.offset_for_timestamp(now - 2 * HOUR)
    assert found is not None and found.offset == 3
    assert log.enforce_retention(now + DAY - HOUR) > 0


# --- any batch header: no crash, no roll storm, no early deletion, ListOffsets by time --------

NOW = now_ms()
record_timestamps = st.lists(
    st.one_of(st.just(-1), st.integers(NOW - 10 * DAY, NOW + 2 * HOUR)), min_size=1, max_size=4
)
# How the producer filled the header: honestly, -1 (old sarama), below its first timestamp,
# or anything at all (a plausible wrong value is trusted, as documented).
header_modes = st.sampled_from(["honest", "minus_one", "below_base", "any"])
batches = st.lists(
    st.tuples(
        record_timestamps,
        header_modes,
        st.one_of(st.none(), st.integers(NOW - 12 * DAY, NOW + HOUR)),  # base_timestamp
        st.integers(0, 4),  # compression
        st.integers(-(2**63), 2**63 - 1),  # the header max_timestamp in mode "any"
    ),
    min_size=1,
    max_size=8,
)


def header_max_for(timestamps: list[int], mode: str, base: int | None, anything: int) -> int:
    first = timestamps[0] if base is None else base
    return {
        "honest": kafka_max_timestamp(timestamps),
        "minus_one": -1,
        "below_base": first - 1,
        "any": anything,
    }[mode]


def kafka_max_timestamp(timestamps: list[int]) -> int:
    return max(-1, *timestamps)


def trusted(header_max: int, first: int) -> bool:
    """katka's documented shortcut: a plausible header is stored without reading records."""
    return 0 <= first <= header_max <= NOW + HOUR


def refused(timestamps: list[int], header_max: int, first: int) -> bool:
    if trusted(header_max, first):
        return False
    return any(ts != -1 and ts > NOW + HOUR for ts in timestamps)  # after.max.ms: 1 hour


def stored_max(timestamps: list[int], header_max: int, first: int) -> int:
    return header_max if trusted(header_max, first) else kafka_max_timestamp(timestamps)


@pytest.mark.parametrize("kind", ["memory", "disk"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=batches, targets=st.lists(st.integers(NOW - 11 * DAY, NOW + HOUR), max_size=5))
def test_any_batch_header_is_stored_and_kept_as_kafka_would(
    kind: str,
    batches: list[tuple[list[int], str, int | None, int, int]],
    targets: list[int],
) -> None:
    segment_ms = DAY
    with tempfile.TemporaryDirectory() as data_dir:
        harness = EngineHarness(kind, Path(data_dir))
        rolling = harness.open(LogConfig(segment_ms=segment_ms), topic="rolling")
        retained = harness.open(LogConfig(segment_bytes=1), topic="retained")
        accepted: list[list[int]] = []
        maxima: list[int] = []  # each accepted batch's stored max timestamp
        expected_segments = [0]
        first_max: int | None = None  # the active segment's first batch's max timestamp
        for timestamps, mode, base, codec, anything in batches:
            first = timestamps[0] if base is None else base
            header_max = header_max_for(timestamps, mode, base, anything)
            batch = header_batch(timestamps, header_max, base, codec)
            if refused(timestamps, header_max, first):
                for log in (rolling, retained):
                    with pytest.raises(KafkaError) as error:
                        append(log, batch, NOW)
                    assert error.value.code == ErrorCode.invalid_timestamp
                continue
            append(rolling, batch, NOW)
            append(retained, batch, NOW)
            batch_max = stored_max(timestamps, header_max, first)
            # Kafka's roll rule; with a first batch without timestamps the clock (still NOW).
            if first_max is not None and first_max >= 0 and batch_max - first_max > segment_ms:
                expected_segments.append(sum(len(t) for t in accepted))
                first_max = None
            if first_max is None:
                first_max = batch_max
            accepted.append(timestamps)
            maxima.append(batch_max)
        honest = all(m == kafka_max_timestamp(t) for m, t in zip(maxima, accepted, strict=True))

        # No roll storm: the segments are exactly those Kafka's rule makes.
        assert rolling.segment_base_offsets() == expected_segments
        by_offset = [ts for timestamps in accepted for ts in timestamps]
        for log in (rolling, retained):
            assert [r.timestamp_ms for r in read_all(log)] == by_offset
            stored = _stored_batches(log)
            assert [read_header(batch_data).max_timestamp for batch_data in stored] == maxima
            assert all(compute_crc(data) == read_header(data).crc for data in stored)

        # Retention (7 days) deletes a closed segment only once its newest record is that old.
        offset = 0
        expected_start = 0
        for index, (timestamps, newest) in enumerate(zip(accepted, maxima, strict=True)):
            if index == len(accepted) - 1 or not 0 <= newest < NOW - 7 * DAY:
                break
            offset += len(timestamps)
            expected_start = offset
        retained.enforce_retention(NOW)
        assert retained.log_start_offset == expected_start

        for restart in (lambda: None, harness.restart, harness.crash):
            restart()
            # By time, exact unless a producer's plausible header understated its records.
            for name in ("rolling", "retained") if honest else ():
                log = harness.open(LogConfig(), topic=name)
                start = log.log_start_offset
                for target in targets + [ts for ts in by_offset if ts >= 0]:
                    found = log.offset_for_timestamp(target)
                    expected = next(
                        (o for o, ts in enumerate(by_offset) if o >= start and ts >= target), None
                    )
                    assert (found.offset if found else None) == expected, (name, target)
        harness.engine.close()


def _stored_batches(log: PartitionLog) -> list[bytes]:
    data = bytes(log.read(log.log_start_offset, 1 << 30, log.high_watermark, True))
    return [bytes(batch) for _, batch in iter_batches(data)]
