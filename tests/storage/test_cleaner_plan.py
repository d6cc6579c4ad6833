"""The cleaner's planning rules over plain values: what is cleanable (active segment, recovery
point, last stable offset, min.compaction.lag.ms), when a log needs cleaning (dirty ratio,
max.compaction.lag.ms), the delete horizon, segment groups and transaction markers."""

from __future__ import annotations

from katka.protocol.batches import read_header
from katka.protocol.records import build_batch
from katka.storage.cleaner.plan import (
    OffsetMap,
    RetentionRules,
    SegmentInfo,
    cleanable_range,
    delete_horizon_ms,
    group_segments,
    needs_cleaning,
)

NOW = 1_000_000


def segments(*sizes: int, timestamps: tuple[int, ...] = ()) -> list[SegmentInfo]:
    """Segments of 10 offsets each with the given sizes; the last one is the active one."""
    return [
        SegmentInfo(10 * i, 10 * (i + 1), size, timestamps[i] if timestamps else 0, 1000 * i)
        for i, size in enumerate(sizes)
    ]


def test_the_active_segment_and_everything_after_the_recovery_point_are_uncleanable() -> None:
    log = segments(100, 100, 100, 100)
    assert cleanable_range(log, 0, 0, 40, 40, 0, NOW).first_uncleanable_offset == 30
    assert cleanable_range(log, 0, 0, 40, 15, 0, NOW).first_uncleanable_offset == 10
    assert cleanable_range(log, 0, 0, 12, 40, 0, NOW).first_uncleanable_offset == 12  # LSO


def test_min_compaction_lag_keeps_recent_segments_dirty() -> None:
    log = segments(100, 100, 100, 100, timestamps=(NOW - 5000, NOW - 500, NOW - 100, NOW))
    assert cleanable_range(log, 0, 0, 40, 40, 1000, NOW).first_uncleanable_offset == 10


def test_the_dirty_ratio_counts_bytes_after_the_cleaned_point() -> None:
    log = segments(100, 300, 100, 50)
    cleanable = cleanable_range(log, 10, 0, 40, 40, 0, NOW)
    assert (cleanable.clean_bytes, cleanable.dirty_bytes) == (100, 400)
    assert cleanable.dirty_ratio == 0.8
    assert needs_cleaning(cleanable, log, 0.5, 2**63 - 1, NOW)
    assert not needs_cleaning(cleanable, log, 0.9, 2**63 - 1, NOW)


def test_max_compaction_lag_forces_a_cleaning_below_the_dirty_ratio() -> None:
    log = segments(1000, 10, 10, timestamps=(NOW - 10_000, NOW - 9000, NOW))
    cleanable = cleanable_range(log, 10, 0, 30, 30, 0, NOW)
    assert cleanable.dirty_ratio < 0.5
    assert needs_cleaning(cleanable, log, 0.5, 5000, NOW)
    assert not needs_cleaning(cleanable, log, 0.5, 60_000, NOW)


def test_the_delete_horizon_counts_from_the_newest_clean_segment() -> None:
    log = segments(100, 100, 100, 100)  # modified at 0, 1000, 2000, 3000
    assert delete_horizon_ms(log, 20, 500) == 1000 - 500
    assert delete_horizon_ms(log, 0, 500) == -500  # nothing clean yet: every tombstone stays


def test_segments_are_grouped_within_segment_bytes() -> None:
    groups = group_segments(segments(300, 300, 100, 500, 50), 600)
    assert [[s.base_offset for s in group] for group in groups] == [[0, 10], [20, 30], [40]]


def test_a_marker_stays_while_its_transaction_keeps_records_or_the_horizon_has_not_passed() -> None:
    rules = RetentionRules(OffsetMap(1 << 20), delete_horizon_ms=0)
    data = read_header(
        build_batch(
            [(b"k", b"v", (), 1)],
            producer_id=5,
            producer_epoch=0,
            base_sequence=0,
            transactional=True,
        )
    )
    marker = data._replace(attributes=data.attributes | 0x20)
    rules.on_data_batch_kept(data)
    assert rules.keep_marker(marker, retain_deletes=False)  # its record is kept
    assert not rules.keep_marker(marker, retain_deletes=False)  # nothing of it kept since
    assert rules.keep_marker(marker, retain_deletes=True)
