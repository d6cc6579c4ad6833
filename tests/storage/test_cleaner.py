"""The log cleaner on both engines: latest value per key, offsets kept with gaps, tombstones
kept until the delete horizon, several passes when the key map is small, the active segment
never cleaned, producer state and aborted transactions, and reads across the gaps."""

from __future__ import annotations

import os

import pytest

from katka.protocol.batches import validate_produce_records
from katka.protocol.records import build_batch
from katka.storage.base import LogConfig
from katka.storage.cleaner.job import CleaningStats
from katka.storage.cleaner.plan import ENTRY_BYTES, LOAD_FACTOR
from katka.storage.cleaner.service import CleanerConfig, begin_cleaning, complete_cleaning
from tests.storage.storage_helpers import EngineHarness, produce, read_all

NOW = 1_000_000
COMPACTED = LogConfig(segment_bytes=400, compact=True, delete=False, delete_retention_ms=10**12)


def clean(log, dedupe_buffer_bytes: int = 1 << 20) -> CleaningStats | None:
    """One cleaning as the cleaner runs it, synchronously (flushed first: only fsynced
    segments are cleaned)."""
    log.flush()
    job = begin_cleaning(log, NOW, CleanerConfig(dedupe_buffer_bytes=dedupe_buffer_bytes), True)
    if job is None:
        return None
    result = job.run()
    assert complete_cleaning(log, result, NOW)
    return result.stats


def put(log, key: str, value: str | None) -> int:
    encoded = None if value is None else value.encode()
    return produce(log, [(key.encode(), encoded, 1_000)], now_ms=NOW).base_offset


def visible(log) -> list[tuple[int, str, str | None]]:
    return [
        (r.offset, (r.key or b"").decode(), None if r.value is None else r.value.decode())
        for r in read_all(log)
    ]


def test_cleaning_keeps_the_latest_value_of_every_key_at_its_original_offset(
    harness: EngineHarness,
) -> None:
    log = harness.open(COMPACTED)
    written: dict[str, tuple[int, str]] = {}
    for i in range(60):
        key, value = f"k{i % 7}", f"value-{i}"
        written[key] = (put(log, key, value), value)
    assert len(log.segment_base_offsets()) > 3
    active_base = log.segment_base_offsets()[-1]
    stats = clean(log)
    assert stats is not None and stats.records_kept < stats.records_read
    records = visible(log)
    offsets = [offset for offset, _, _ in records]
    assert offsets == sorted(offsets)
    latest = {key: value for _, key, value in records}
    assert latest == {key: value for key, (_, value) in written.items()}
    cleaned = [r for r in records if r[0] < active_base]
    assert len({key for _, key, _ in cleaned}) == len(cleaned)  # one record per key below
    for offset, _key, value in records:
        assert value == f"value-{offset}"  # never renumbered
    assert log.log_end_offset == 60
    harness.restart()
    log = harness.open(COMPACTED)
    assert visible(log) == records


def test_a_fetch_inside_a_removed_range_continues_at_the_next_existing_offset(
    harness: EngineHarness,
) -> None:
    log = harness.open(COMPACTED)
    for i in range(40):
        put(log, "same", f"value-{i}")
    put(log, "other", "x")
    clean(log)
    kept = [offset for offset, _, _ in visible(log)]
    assert 0 not in kept
    for start in range(0, kept[0] + 1):
        data = log.read(start, 2**20, log.high_watermark, True)
        assert data, start
        from katka.protocol.records import decode_records

        first = [r.offset for r in decode_records(data) if r.offset >= start][0]
        assert first == min(offset for offset in kept if offset >= start)


def test_a_tombstone_is_kept_until_the_delete_horizon_passes(harness: EngineHarness) -> None:
    config = LogConfig(segment_bytes=300, compact=True, delete=False, delete_retention_ms=0)
    log = harness.open(config)
    put(log, "gone", "v1")
    put(log, "gone", None)
    for i in range(30):
        put(log, f"k{i % 3}", f"v{i}")
    clean(log)
    assert ("gone", None) in [(key, value) for _, key, value in visible(log)]
    for segment in log.segments:  # the clean part is older than the dirty part
        _age(segment, 10_000)
    for i in range(30):
        put(log, f"k{i % 3}", f"w{i}")
    clean(log)
    keys = [key for _, key, _ in visible(log)]
    assert "gone" not in keys


def _age(segment, ms: int) -> None:
    if hasattr(segment, "log_path"):
        seconds = (segment.last_modified_ms - ms) / 1000
        os.utime(segment.log_path, (seconds, seconds))
    else:
        segment._last_modified_ms -= ms


def test_a_small_key_map_cleans_in_several_passes(harness: EngineHarness) -> None:
    log = harness.open(COMPACTED)
    for i in range(200):
        put(log, f"k{i % 50}", f"value-{i}")
    small = int(10 * ENTRY_BYTES / LOAD_FACTOR) + 1  # room for 10 keys
    passes = 0
    while True:
        stats = clean(log, small)
        if stats is None:
            break
        passes += 1
        assert stats.keys <= 10
        assert passes < 100
    assert passes > 2
    latest = {key: value for _, key, value in visible(log)}
    assert latest == {f"k{i % 50}": f"value-{i}" for i in range(150, 200)}


def test_the_active_segment_is_never_cleaned(harness: EngineHarness) -> None:
    log = harness.open(LogConfig(compact=True, delete=False))  # one big active segment
    for i in range(20):
        put(log, "k", f"v{i}")
    assert clean(log) is None
    assert len(visible(log)) == 20


def test_the_last_batch_of_an_idempotent_producer_survives_emptied(
    harness: EngineHarness,
) -> None:
    log = harness.open(COMPACTED)
    for sequence in range(10):
        batch = build_batch(
            [(b"k", f"v{sequence}".encode(), (), 1_000)],
            producer_id=7,
            producer_epoch=0,
            base_sequence=sequence,
        )
        log.append(batch, validate_produce_records(batch, 1 << 20), NOW)
    for i in range(20):
        put(log, "k", f"plain-{i}")  # supersedes every record of producer 7
    clean(log)
    headers = [h for segment in log.segments for h in segment.iter_headers(segment.base_offset)]
    mine = [h for h in headers if h.producer_id == 7]
    assert [(h.base_sequence, h.record_count) for h in mine] == [(9, 0)]
    harness.crash()
    log = harness.open(COMPACTED)
    assert log.producer_state.producers[7].last_sequence == 9


def test_records_of_aborted_transactions_are_removed(harness: EngineHarness) -> None:
    log = harness.open(COMPACTED)
    for sequence, key in enumerate(["a", "b"]):
        batch = build_batch(
            [(key.encode(), b"aborted", (), 1_000)],
            producer_id=9,
            producer_epoch=0,
            base_sequence=sequence,
            transactional=True,
        )
        log.append(batch, validate_produce_records(batch, 1 << 20), NOW)
    log.append_marker(9, 0, 0, False, NOW)
    for i in range(20):
        put(log, f"k{i % 2}", f"v{i}")
    clean(log)
    values = [value for _, _, value in visible(log)]
    assert "aborted" not in values


@pytest.mark.parametrize("compression", [0, 1, 4])
def test_compressed_batches_are_rebuilt_with_their_codec(
    harness: EngineHarness, compression: int
) -> None:
    log = harness.open(COMPACTED)
    for i in range(10):
        records = [(f"k{j}".encode(), f"v{i}-{j}".encode(), 1_000) for j in range(4)]
        records[i % 4] = (b"unique-" + str(i).encode(), b"u", 1_000)
        produce(log, records, now_ms=NOW, compression=compression)
    clean(log)
    records = visible(log)
    latest = {key: value for _, key, value in records}
    assert latest["k0"] == "v9-0" and latest["k1"] == "v8-1"
    cleaned = [key for offset, key, _ in records if offset < log.segment_base_offsets()[-1]]
    assert len(cleaned) == len(set(cleaned))


def test_a_cleaning_finished_after_some_of_its_segments_were_deleted_keeps_the_latest_values(
    harness: EngineHarness,
) -> None:
    log = harness.open(COMPACTED)
    for i in range(60):
        put(log, f"k{i % 3}", f"v{i}")
    log.flush()
    before = visible(log)
    job = begin_cleaning(log, NOW, CleanerConfig(), True)
    assert job is not None
    result = job.run()
    log.delete_records_before(log.segment_base_offsets()[2])  # DeleteRecords meanwhile
    complete_cleaning(log, result, NOW)  # the groups still in the log are swapped in
    after = visible(log)
    assert set(after) <= set(before)
    latest = {key: offset for offset, key, _ in before}
    assert set(latest.values()) <= {offset for offset, _, _ in after}
    if harness.kind == "disk":
        leftovers = [n for n in os.listdir(log.directory) if n.endswith((".cleaned", ".swap"))]
        assert leftovers == []


def test_a_cleaning_of_a_deleted_topic_changes_nothing_and_raises_nothing(
    harness: EngineHarness,
) -> None:
    log = harness.open(COMPACTED, topic="doomed", partition=0)
    for i in range(60):
        put(log, f"k{i % 3}", f"v{i}")
    log.flush()
    job = begin_cleaning(log, NOW, CleanerConfig(), True)
    assert job is not None
    result = job.run()
    harness.engine.delete_log("doomed", 0)
    if harness.kind == "disk":
        assert not complete_cleaning(log, result, NOW)
