"""The two passes of a cleaning over runs of batches (Kafka's LogCleaner buildOffsetMap and
cleanSegments), batch-level wherever a whole batch is kept or dropped (pure, no I/O).

Theory of operation: batches are read in runs of about `RUN_BYTES`; a run's records are
decoded at once into columns (columns.py). The map pass puts every keyed record of the dirty
part into the offset map. The rewrite pass then decides most batches without looking at
their records: in the dirty part a record is kept exactly when its offset is the latest of
its key, i.e. one of the map's offsets, so the map's offsets sorted (`LiveOffsets`) count a
batch's surviving records by two binary searches. A batch with none left is dropped (or
emptied) without being decompressed; one whose records all survive (and may keep its
tombstones) is copied as is. Only the other batches, and those of the clean part (below the
cleaned point, where a record survives unless its key has a later offset in the map), are
decoded record by record, as columns.

Imports numpy (through columns.py): job.py imports this module in the cleaner's process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from katka.protocol.batches import BatchHeader
from katka.storage.cleaner import columns as record_columns
from katka.storage.cleaner.columns import Int64s, RecordColumns
from katka.storage.cleaner.plan import OffsetMap, RetentionRules
from katka.storage.cleaner.records import rebuild_batch

RUN_BYTES = 4 * 1024 * 1024
# On a thread of the broker's process (the memory engine) a run is decoded between two
# hand-overs of the GIL (job.Throttle): small runs keep the event loop's wait near 1 ms.
THREAD_RUN_BYTES = 1024 * 1024
Batch = tuple[BatchHeader, memoryview]

# What the rewrite pass decided for a batch before reading its records.
_PAST_MAP = 0  # past what the map covers: the next cleaning's, copied
_MARKER = 1  # a transaction marker: kept by the rules
_NONE_KEPT = 2  # aborted, or no survivor in the dirty part
_ALL_KEPT = 3  # every record survives: copied
_BY_RECORD = 4  # decided record by record


def runs(batches: Iterable[Batch], limit: int = RUN_BYTES) -> Iterator[list[Batch]]:
    """Consecutive batches in lists of about `limit` bytes (at least one batch each)."""
    run: list[Batch] = []
    size = 0
    for header, batch in batches:
        run.append((header, batch))
        size += header.size
        if size >= limit:
            yield run
            run, size = [], 0
    if run:
        yield run


def put_run(offset_map: OffsetMap, batches: Sequence[Batch]) -> int:
    """Put every keyed record of `batches` into the map, batch after batch while the map
    has room for the batch's record count; returns how many batches were put."""
    if not batches:
        return 0
    records = record_columns.scan(batches)
    counts = [header.record_count for header, _ in batches]
    if offset_map.has_room_for(sum(counts)):
        offset_map.put_many(*records.map_keys(0, len(records.offset)))
        return len(batches)
    first = records.first_record.tolist()
    for index, count in enumerate(counts):
        if not offset_map.has_room_for(count):
            return index
        offset_map.put_many(*records.map_keys(first[index], first[index + 1]))
    return len(batches)


class LiveOffsets:
    """The map's offsets, sorted: in the dirty part, the offsets of the records a cleaning
    keeps. 8 bytes per key (within the map's ENTRY_BYTES budget)."""

    def __init__(self, offset_map: OffsetMap) -> None:
        self.sorted = np.fromiter(offset_map.offsets(), np.int64, len(offset_map))
        self.sorted.sort()

    def count_between(self, first: Int64s, last: Int64s) -> Int64s:
        """How many live offsets lie in [first, last], per pair."""
        high = np.searchsorted(self.sorted, last, side="right")
        low = np.searchsorted(self.sorted, first, side="left")
        counts: Int64s = high - low
        return counts

    def contains(self, offsets: Int64s) -> np.ndarray:
        if not len(self.sorted):
            return np.zeros(len(offsets), dtype=np.bool_)
        at = np.minimum(np.searchsorted(self.sorted, offsets), len(self.sorted) - 1)
        found: np.ndarray = self.sorted[at] == offsets
        return found


def clean_run(
    run: Sequence[Batch],
    rules: RetentionRules,
    live: LiveOffsets,
    first_dirty_offset: int,
    retain_deletes: bool,
) -> list[tuple[bytes | memoryview | None, int]]:
    """For each batch of `run`, in order: what the cleaned segment holds in its place (the
    batch itself, a rebuilt one, or None) and how many of its records are kept."""
    end = rules.offset_map.end_offset
    bases = np.array([header.base_offset for header, _ in run], dtype=np.int64)
    lasts = np.array([header.last_offset for header, _ in run], dtype=np.int64)
    survivors = live.count_between(bases, lasts).tolist()
    kinds: list[int] = []
    to_read: list[Batch] = []
    dirty_read: list[bool] = []
    for (header, batch), survivor_count in zip(run, survivors, strict=True):
        if header.base_offset >= end:
            kind = _PAST_MAP
        elif header.is_control:
            kind = _MARKER
        elif rules.is_aborted(header):
            kind = _NONE_KEPT
        elif header.last_offset >= first_dirty_offset:
            if survivor_count == header.record_count and (retain_deletes or not survivor_count):
                kind = _ALL_KEPT
            elif survivor_count == 0:
                kind = _NONE_KEPT
            else:
                kind = _BY_RECORD
                dirty_read.append(True)
        else:
            kind = _BY_RECORD
            dirty_read.append(False)
        kinds.append(kind)
        if kind == _BY_RECORD:
            to_read.append((header, batch))
    kept_counts: list[int] = []
    if to_read:
        records = record_columns.scan(to_read)
        kept = _kept_records(records, dirty_read, rules.offset_map, live, retain_deletes)
        kept_counts = records.per_batch(kept).tolist()
    decided: list[tuple[bytes | memoryview | None, int]] = []
    read_index = 0
    for (header, batch), kind in zip(run, kinds, strict=True):
        if kind == _PAST_MAP:
            if not header.is_control:
                rules.on_data_batch_kept(header)
            decided.append((batch, 0))
            continue
        if kind == _MARKER:
            decided.append((batch if rules.keep_marker(header, retain_deletes) else None, 0))
            continue
        count = header.record_count
        if kind == _ALL_KEPT:
            kept_count = count
        elif kind == _NONE_KEPT:
            kept_count = 0
        else:
            kept_count = kept_counts[read_index]
        result: bytes | memoryview | None = None
        if kept_count == count:
            result = batch
        elif kept_count:
            result = rebuild_batch(batch, header, records.records_of(kept, read_index), kept_count)
        elif rules.keep_empty_batch(header):
            result = rebuild_batch(batch, header, b"", 0)
        if kind == _BY_RECORD:
            read_index += 1
        if result is not None:
            rules.on_data_batch_kept(header)
        decided.append((result, kept_count))
    return decided


def _kept_records(
    records: RecordColumns,
    dirty: list[bool],
    offset_map: OffsetMap,
    live: LiveOffsets,
    retain_deletes: bool,
) -> np.ndarray:
    """Which records of the read batches survive: keyed, the latest of their key (dirty
    part: a live offset; clean part: no later offset in the map), and not a tombstone past
    the delete horizon."""
    counts = np.diff(records.first_record)
    in_dirty = np.repeat(np.array(dirty, dtype=np.bool_), counts)
    kept: np.ndarray = records.key_length >= 0
    if not retain_deletes:
        kept &= ~records.tombstone
    if in_dirty.all():
        kept &= live.contains(records.offset)
        return kept
    kept[in_dirty] &= live.contains(records.offset[in_dirty])
    in_clean = ~in_dirty
    kept[in_clean] &= records.offset[in_clean] >= records.latest_offsets(in_clean, offset_map)
    return kept
