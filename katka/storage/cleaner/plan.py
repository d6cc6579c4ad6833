"""What a cleaning does, decided over plain values (pure, no I/O): which part of a log is
cleanable, how dirty it is, the key map, and which records and batches a cleaned segment keeps.

Theory of operation (Kafka's LogCleaner): a compacted log has a clean part, below its cleaned
point (the first dirty offset), where every key appears at most once per cleaning, and a dirty
part above it. The cleanable part ends at the first uncleanable offset: the active segment,
the last stable offset (open transactions), the segment holding the recovery point (only
fsynced segments are rewritten, so recovery never meets a cleaned segment) and segments newer
than min.compaction.lag.ms. A log is cleaned when dirty bytes / cleanable bytes reaches
min.cleanable.dirty.ratio, or when its oldest dirty record is older than max.compaction.lag.ms.

A cleaning builds a key map over the dirty part (latest offset of every key), bounded by
log.cleaner.dedupe.buffer.size: when the keys do not fit, the map stops at a batch boundary and
the next cleaning continues from there (several passes). Then every segment from the log start
up to the map's end is rewritten keeping a record when no later offset of its key is in the
map; a tombstone (null value) is kept only while its segment is younger than the delete
horizon. Records of aborted transactions are dropped. A transaction marker is dropped after the
delete horizon once no record of its transaction is kept (Kafka's CleanedTransactionMetadata).

Delete horizon (Kafka's rule before KIP-534): the last modification time of the newest segment
of the clean part, minus delete.retention.ms. A tombstone therefore survives at least one
cleaning, and then delete.retention.ms after the data above it was cleaned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from katka.protocol.batches import BatchHeader
from katka.storage.cleaner.records import map_key

# Kafka's SkimpyOffsetMap entry: a 16-byte hash and an 8-byte offset. Python's dict of those
# costs more: tracemalloc measures about 133 bytes per entry, 150 while the dict resizes, so
# the map holds at most dedupe.buffer.size / ENTRY_BYTES keys and stays within the buffer.
ENTRY_BYTES = 160
LOAD_FACTOR = 0.9  # Kafka's log.cleaner.io.buffer.load.factor


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """What the planner needs about one segment."""

    base_offset: int
    next_offset: int
    size_bytes: int
    max_timestamp: int  # -1: none
    last_modified_ms: int


@dataclass(frozen=True, slots=True)
class CleanableRange:
    first_dirty_offset: int
    first_uncleanable_offset: int
    clean_bytes: int
    dirty_bytes: int

    @property
    def dirty_ratio(self) -> float:
        total = self.clean_bytes + self.dirty_bytes
        return self.dirty_bytes / total if total else 0.0


def cleanable_range(
    segments: Sequence[SegmentInfo],
    cleaned_point: int,
    log_start_offset: int,
    last_stable_offset: int,
    recovery_point: int,
    min_compaction_lag_ms: int,
    now_ms: int,
) -> CleanableRange:
    """The clean and dirty bytes of a log whose last segment is its active one."""
    first_dirty = max(cleaned_point, log_start_offset)
    uncleanable = min(segments[-1].base_offset, last_stable_offset)
    for segment in segments:
        if segment.next_offset > recovery_point:
            uncleanable = min(uncleanable, segment.base_offset)
            break
    if min_compaction_lag_ms > 0:
        for segment in segments:
            if segment.max_timestamp > now_ms - min_compaction_lag_ms:
                uncleanable = min(uncleanable, segment.base_offset)
                break
    first_dirty = min(first_dirty, uncleanable)
    clean = dirty = 0
    for segment in segments:
        if segment.base_offset >= uncleanable:
            break
        if segment.next_offset <= first_dirty:
            clean += segment.size_bytes
        else:
            dirty += segment.size_bytes
    return CleanableRange(first_dirty, uncleanable, clean, dirty)


def needs_cleaning(
    cleanable: CleanableRange,
    segments: Sequence[SegmentInfo],
    min_cleanable_dirty_ratio: float,
    max_compaction_lag_ms: int,
    now_ms: int,
) -> bool:
    if cleanable.dirty_bytes == 0:
        return False
    if cleanable.dirty_ratio >= min_cleanable_dirty_ratio:
        return True
    for segment in segments:  # max.compaction.lag.ms: the first dirty segment is too old
        if segment.next_offset > cleanable.first_dirty_offset:
            return 0 <= segment.max_timestamp < now_ms - max_compaction_lag_ms
    return False


def delete_horizon_ms(
    segments: Sequence[SegmentInfo], first_dirty_offset: int, delete_retention_ms: int
) -> int:
    """Tombstones and markers in segments modified at or before this are removed."""
    newest_clean = 0
    for segment in segments:
        if segment.next_offset <= first_dirty_offset:
            newest_clean = segment.last_modified_ms
    return newest_clean - delete_retention_ms


def group_segments(
    segments: Sequence[SegmentInfo], max_size: int, max_index_entries: int = 2**31
) -> list[list[SegmentInfo]]:
    """Consecutive segments rewritten into one, as Kafka's groupSegmentsBySize: a group stays
    within segment.bytes and 2**31 relative offsets."""
    groups: list[list[SegmentInfo]] = []
    for segment in segments:
        if groups:
            group = groups[-1]
            size = sum(member.size_bytes for member in group) + segment.size_bytes
            if size <= max_size and segment.next_offset - group[0].base_offset < 2**31 - 1:
                group.append(segment)
                continue
        groups.append([segment])
    return groups


class OffsetMap:
    """The latest offset of every key seen, by the key's MD5 (Kafka's SkimpyOffsetMap)."""

    def __init__(self, dedupe_buffer_bytes: int) -> None:
        self.capacity = max(int(dedupe_buffer_bytes * LOAD_FACTOR) // ENTRY_BYTES, 1)
        self._offsets: dict[bytes, int] = {}
        self.end_offset = -1  # one past the last offset the map covers

    def __len__(self) -> int:
        return len(self._offsets)

    def has_room_for(self, records: int) -> bool:
        return not self._offsets or len(self._offsets) + records <= self.capacity

    def put(self, key: bytes, offset: int) -> None:
        self._offsets[map_key(key)] = offset

    def put_many(self, map_keys: Iterable[bytes], offsets: Iterable[int]) -> None:
        """offsets by map key (records.map_key), in log order: the last offset wins."""
        self._offsets.update(zip(map_keys, offsets, strict=True))

    def latest(self, key: bytes) -> int:
        return self._offsets.get(map_key(key), -1)

    def latest_many(self, map_keys: Iterable[bytes]) -> list[int]:
        get = self._offsets.get
        return [get(key, -1) for key in map_keys]

    def offsets(self) -> Iterable[int]:
        return self._offsets.values()


@dataclass(frozen=True, slots=True)
class AbortedRange:
    producer_id: int
    first_offset: int
    last_offset: int


@dataclass
class RetentionRules:
    """Per cleaning: which records and batches the rewritten segments keep."""

    offset_map: OffsetMap
    delete_horizon_ms: int
    aborted: Sequence[AbortedRange] = ()
    last_batch_of_producer: dict[int, int] = field(default_factory=dict)  # pid -> last offset
    _txn_retained: dict[int, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._aborted_by_producer: dict[int, list[AbortedRange]] = {}
        for aborted in self.aborted:
            self._aborted_by_producer.setdefault(aborted.producer_id, []).append(aborted)

    def is_aborted(self, header: BatchHeader) -> bool:
        if not header.is_transactional or header.is_control:
            return False
        offset = header.base_offset
        return any(
            aborted.first_offset <= offset <= aborted.last_offset
            for aborted in self._aborted_by_producer.get(header.producer_id, ())
        )

    def keep_empty_batch(self, header: BatchHeader) -> bool:
        """The last batch of a producer stays, emptied, so its state survives (RETAIN_EMPTY)."""
        return (
            header.producer_id >= 0
            and self.last_batch_of_producer.get(header.producer_id) == header.last_offset
        )

    def on_data_batch_kept(self, header: BatchHeader) -> None:
        if header.is_transactional:
            self._txn_retained[header.producer_id] = True

    def keep_marker(self, header: BatchHeader, retain_deletes: bool) -> bool:
        """A marker ends its producer's transaction: kept while the delete horizon has not
        passed, or while records of its transaction are kept."""
        had_data = self._txn_retained.pop(header.producer_id, False)
        return retain_deletes or had_data
