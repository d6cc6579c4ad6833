"""The partition log logic every engine shares, over a list of segments.

Theory of operation: a log is an ordered list of segments, each holding the batches with
offsets [base_offset, next_offset). Only the last (active) segment takes appends. Offsets are
dense: the log end offset is the active segment's next offset, and the log start offset is at
or after the first segment's base offset (DeleteRecords may move it inside a segment). A
segment rolls when the next batch would pass segment.bytes, when its index is full, or by
segment.ms as Kafka's LogSegment.shouldRoll does: the incoming batch's max timestamp against
the first batch's (rollingBasedTimestamp), or broker time since the segment was opened when the
first batch has no timestamp. Comparing record timestamps with each other (not with the clock)
means a producer replaying old data does not roll a segment per batch. The housekeeping roll
(`maybe_roll`, for idle logs) counts broker time since the segment was opened.
Retention and DeleteRecords only ever delete whole closed segments from the front; retention
counts from a segment's largest record timestamp, or from its last modification when no record
has one (Kafka's LogSegment.largestTimestamp). Batch timestamps are set by the validator on
append (protocol/batches.py); batches stored by older katka versions with max_timestamp -1 are
read through their records (`batch_max_timestamp`).

Engines supply the segments (memory.py keeps bytes in RAM, disk/ in files) and a few hooks:
checkpointing the log start offset and the recovery point, the files an fsync covers, loading
producer state.

Flushing (Kafka's recovery point): everything below `recovery_point` is fsynced; records at or
after it are unflushed (flush.messages counts them). A flush is three steps so that only the
fsync leaves the event loop: `begin_flush` captures the files and the log end offset on the
loop, `FlushPlan.fsync` runs on a worker thread (storage/durability.py), `complete_flush`
moves the recovery point back on the loop. A roll only closes the segment; its fsync is the
next round's (Kafka also flushes a rolled segment in the background).
"""

from __future__ import annotations

import bisect
import logging
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from katka.protocol.batches import (
    CONTROL_FLAG,
    NO_PRODUCER_ID,
    NO_TIMESTAMP,
    BatchHeader,
    TimestampRules,
    assign_base_offset,
    normalise_batch,
    read_header,
    validate_keys,
)
from katka.protocol.control import build_marker_batch, read_marker
from katka.protocol.records import Record, decode_batch
from katka.storage.base import AppendInfo, FlushPlan, LogConfig, TimestampOffset
from katka.storage.log_segment import (
    Segment,
    largest_timestamp,
    out_of_range,
)
from katka.storage.producer_state import ProducerStateManager
from katka.storage.transaction_index import AbortedTransaction

if TYPE_CHECKING:  # the cleaner's code loads with the cleaner, after a broker answers
    from katka.storage.cleaner.segments import CleanedWriter, SegmentSource

__all__ = ["SegmentedLog"]

logger = logging.getLogger("katka.storage")

_BASE_OFFSET = struct.Struct(">q")


class SegmentedLog:
    """`PartitionLog` over segments; subclasses provide `_new_segment` and the hooks."""

    def __init__(self, topic: str, partition: int, config: LogConfig) -> None:
        self.topic = topic
        self.partition = partition
        self.config = config
        self.segments: list[Segment] = []
        self._base_offsets: list[int] = []
        self._log_start_offset = 0
        self._producer_state: ProducerStateManager | None = None
        self._recovery_point = 0  # everything below it is fsynced
        self._last_flush_ms: int | None = None  # the first append after the last full flush
        self._closed = False  # files released: a flush completing late changes nothing
        # Broker time the active segment was opened (Kafka's LogSegment.created); None until
        # the first append or roll check after it was created or loaded.
        self._active_since_ms: int | None = None
        self._timestamp_rules: tuple[LogConfig, TimestampRules] | None = None
        # Compaction (storage/cleaner/): offsets below it were cleaned at least once.
        self.cleaned_point = 0
        self.gaps_below = 0  # segments below it may have been rewritten with offset gaps

    # --- hooks ---------------------------------------------------------------------------------

    def _new_segment(self, base_offset: int) -> Segment:
        raise NotImplementedError

    def _delete_segment_files(self, segment: Segment) -> None:
        """Release a segment removed by retention or DeleteRecords."""

    def _on_roll(self, closed: Segment) -> None:
        """The active segment was closed for appends (its fsync is left to the next flush)."""

    def _on_log_start_offset_changed(self) -> None:
        """Persist the new log start offset (disk: the partition checkpoint)."""

    def _on_recovery_point_advanced(self) -> None:
        """Persist the recovery point when that saves recovery work (disk: the checkpoint)."""

    def _files_to_sync(self, segments: Sequence[Segment]) -> list[tuple[int, str]]:
        """Duplicated descriptors of the segments' files, for an fsync off the loop."""
        return []

    def _load_producer_state(self) -> ProducerStateManager:
        """Rebuild producer state by replaying every batch header of the log."""
        manager = ProducerStateManager()
        for segment in self.segments:
            manager.replay(segment.iter_headers(segment.base_offset), segment.read_batch)
        manager.truncate_head(self._log_start_offset)
        return manager

    def _cleaning_source(self, segment: Segment) -> SegmentSource:
        """On the loop: a way for the cleaner's thread to read this closed segment."""
        raise NotImplementedError

    def _cleaned_writer_factory(self) -> Callable[[int], CleanedWriter]:
        """What the cleaner calls (base offset) for a segment written aside, never seen by
        the loop; picklable when `_cleaning_in_process`."""
        raise NotImplementedError

    @property
    def _cleaning_in_process(self) -> bool:
        """True when a cleaning may run in the cleaner's own process (no shared memory)."""
        return False

    def _install_cleaned(self, old: Sequence[Segment], writer: CleanedWriter) -> Segment:
        """On the loop: swap a finished cleaned segment in for `old` (crash-safe on disk)."""
        raise NotImplementedError

    def _on_cleaned_point_changed(self) -> None:
        """Persist the cleaned point (disk: cleaner.checkpoint)."""

    # --- segment list --------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        """Its files are released (deleted topic, shutdown): nothing may be swapped in."""
        return self._closed

    def replace_segments(self, old: Sequence[Segment], writer: CleanedWriter) -> bool:
        """Swap a cleaned segment in for the consecutive segments `old`; False (nothing done)
        when the log no longer holds them (retention, DeleteRecords or a deletion meanwhile)."""
        if self._closed or not old:
            return False
        first = next((i for i, s in enumerate(self.segments) if s is old[0]), None)
        if first is None or first + len(old) >= len(self.segments):
            return False  # gone, or the active segment would be replaced
        if any(self.segments[first + i] is not segment for i, segment in enumerate(old)):
            return False
        cleaned = self._install_cleaned(old, writer)
        self._set_segments(self.segments[:first] + [cleaned] + self.segments[first + len(old) :])
        return True

    def _set_segments(self, segments: list[Segment]) -> None:
        self.segments = segments
        self._base_offsets = [segment.base_offset for segment in segments]

    def _add_segment(self, segment: Segment) -> None:
        self.segments.append(segment)
        self._base_offsets.append(segment.base_offset)

    def _pop_oldest_segment(self) -> Segment:
        segment = self.segments.pop(0)
        self._base_offsets.pop(0)
        self._delete_segment_files(segment)
        return segment

    def _segment_index_for(self, offset: int) -> int:
        return max(bisect.bisect_right(self._base_offsets, offset) - 1, 0)

    @property
    def active_segment(self) -> Segment:
        return self.segments[-1]

    def segment_base_offsets(self) -> list[int]:
        """For tests and tools: where each segment starts."""
        return list(self._base_offsets)

    @property
    def producer_state(self) -> ProducerStateManager:
        if self._producer_state is None:
            if self.log_end_offset == 0:
                # Never written to: no producer has state here, and no snapshot can hold any
                # (one taken before a crash truncated the log names an offset past its end and
                # is ignored). The first append to each of 10,000 new partitions would
                # otherwise look for a snapshot and read an index to replay nothing.
                self._producer_state = ProducerStateManager()
            else:
                self._producer_state = self._load_producer_state()
        return self._producer_state

    # --- PartitionLog --------------------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return self._log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self.active_segment.next_offset

    @property
    def high_watermark(self) -> int:
        # Single node: every appended record is committed. (log_end_offset's body: asked
        # several times by every Fetch.)
        return self.segments[-1].next_offset

    @property
    def size_bytes(self) -> int:
        return sum(segment.size_bytes for segment in self.segments)

    def append(
        self, records: bytes | bytearray | memoryview, headers: Sequence[BatchHeader], now_ms: int
    ) -> AppendInfo:
        if self._last_flush_ms is None:
            self._last_flush_ms = now_ms
        view = memoryview(records)
        rules = self._rules()
        # Every batch is validated before any is appended: a refused record refuses the append.
        if self.config.compact:
            for h in headers:
                if not h.is_control:
                    validate_keys(
                        view[h.position : h.position + h.size], h, f"{self.topic}-{self.partition}"
                    )
        batches = [
            normalise_batch(view[h.position : h.position + h.size], h, now_ms, rules)
            for h in headers
        ]
        producer_state = self.producer_state
        # Producer state is kept for idempotent, transactional and control batches; a plain
        # producer's batch (no producer id) neither checks nor changes it.
        stateful = [
            header
            for _, header in batches
            if header.producer_id != NO_PRODUCER_ID or header.attributes & CONTROL_FLAG
        ]
        if stateful:
            duplicate = producer_state.validate_append(stateful)
            if duplicate is not None:
                return AppendInfo(
                    duplicate.base_offset,
                    duplicate.last_offset,
                    duplicate.timestamp_ms if rules.log_append_time else NO_TIMESTAMP,
                    self._log_start_offset,
                    duplicate=True,
                )
        active = self.segments[-1]
        base_offset = offset = active.next_offset
        for batch, header in batches:
            stored = header.at(offset, 0)
            parts: tuple[bytes | bytearray | memoryview, ...]
            if isinstance(batch, bytearray):  # a copy already (its timestamps were set)
                assign_base_offset(batch, offset)
                parts = (batch,)
            else:  # the base offset sits outside the CRC: write a new one before the rest
                parts = (_BASE_OFFSET.pack(offset), batch[8:])
            if active.size_bytes:
                self._maybe_roll_for(stored, now_ms)
                active = self.segments[-1]
            if self._active_since_ms is None:
                self._opened_at(now_ms)
            active.append(parts, stored)
            if stateful:
                marker = None
                if header.attributes & CONTROL_FLAG:  # the broker's own (append_marker)
                    marker = read_marker(batch)
                producer_state.on_append(stored, offset, stored.max_timestamp, marker)
            offset = stored.next_offset
        return AppendInfo(
            base_offset,
            offset - 1,
            now_ms if rules.log_append_time else NO_TIMESTAMP,
            self._log_start_offset,
        )

    def _rules(self) -> TimestampRules:
        cached = self._timestamp_rules
        if cached is not None and cached[0] is self.config:
            return cached[1]
        config = self.config
        rules = TimestampRules(
            config.log_append_time, config.timestamp_before_max_ms, config.timestamp_after_max_ms
        )
        self._timestamp_rules = (config, rules)
        return rules

    def _opened_at(self, now_ms: int) -> int:
        """When the active segment was opened: now for a new one; for one loaded from an
        earlier run, its first timestamp when that is sane (the run that wrote it is gone)."""
        if self._active_since_ms is None:
            rolling = self.active_segment.rolling_timestamp
            if rolling is not None and 0 <= rolling <= now_ms:
                self._active_since_ms = rolling
            else:
                self._active_since_ms = now_ms
        return self._active_since_ms

    def append_marker(
        self,
        producer_id: int,
        producer_epoch: int,
        coordinator_epoch: int,
        commit: bool,
        now_ms: int,
    ) -> AppendInfo:
        """Write a COMMIT or ABORT marker ending `producer_id`'s transaction here."""
        batch = build_marker_batch(producer_id, producer_epoch, coordinator_epoch, commit, now_ms)
        header = read_header(batch)
        self.producer_state.validate_marker(header)
        return self.append(batch, [header], now_ms)

    @property
    def last_stable_offset(self) -> int:
        transactions = self.producer_state.transactions
        if not transactions.ongoing:  # no open transaction: the high watermark
            return self.segments[-1].next_offset
        return transactions.last_stable_offset(self.high_watermark, self._log_start_offset)

    def aborted_transactions(self, fetch_offset: int, upper_bound: int) -> list[AbortedTransaction]:
        return self.producer_state.transactions.aborted_between(fetch_offset, upper_bound)

    def _maybe_roll_for(self, header: BatchHeader, now_ms: int) -> None:
        active = self.active_segment
        if active.size_bytes == 0:
            return
        if active.is_full(header):
            self.roll()  # the indexes cannot take this batch: the roll must happen
        elif active.size_bytes + header.size > self.config.segment_bytes or (
            self._segment_ms_elapsed(active, header.max_timestamp, now_ms)
        ):
            try:
                self.roll()
            except OSError as exc:  # e.g. a full disk: the batch still fits this segment
                logger.warning(
                    "%s-%d: segment roll failed (the batch goes to the active segment): %s",
                    self.topic,
                    self.partition,
                    exc,
                )

    def _segment_ms_elapsed(self, segment: Segment, max_timestamp: int, now_ms: int) -> bool:
        """Kafka's timeWaitedForRoll: record time when the first batch has a timestamp."""
        rolling = segment.rolling_timestamp
        if rolling is not None and rolling >= 0:
            waited = max_timestamp - rolling
        else:
            waited = now_ms - self._opened_at(now_ms)
        return waited > self.config.segment_ms

    def roll(self) -> None:
        """Close the active segment and start a new one at the log end offset."""
        closed = self.active_segment
        self._add_segment(self._new_segment(self.log_end_offset))
        self._active_since_ms = None
        self._on_roll(closed)

    def maybe_roll(self, now_ms: int) -> None:
        """Roll an idle active segment once segment.ms of broker time has passed since it was
        opened (appends roll by record time, in `_maybe_roll_for`)."""
        active = self.active_segment
        if active.size_bytes > 0 and now_ms - self._opened_at(now_ms) > self.config.segment_ms:
            self.roll()

    def read(
        self, fetch_offset: int, max_bytes: int, max_offset: int, min_one_batch: bool
    ) -> bytes | memoryview:
        log_end_offset = self.log_end_offset
        if fetch_offset < self._log_start_offset or fetch_offset > log_end_offset:
            raise out_of_range(fetch_offset, self._log_start_offset, log_end_offset)
        chunks: list[bytes | memoryview] = []
        remaining = max_bytes
        index = self._segment_index_for(fetch_offset)
        while index < len(self.segments) and fetch_offset < min(max_offset, log_end_offset):
            segment = self.segments[index]
            data, next_offset = segment.read(
                fetch_offset, remaining, max_offset, min_one_batch and not chunks
            )
            if data:
                chunks.append(data)
                remaining -= len(data)
            if next_offset < segment.next_offset and (
                index == len(self.segments) - 1  # the active segment has no gaps
                or next(segment.iter_headers(next_offset), None) is not None
            ):
                break  # stopped by max_bytes or max_offset, not by the segment's end
            if remaining <= 0:
                break
            # The segment's end, or a gap the cleaner left at its end: the next segment.
            fetch_offset = segment.next_offset
            index += 1
        if len(chunks) == 1:
            return chunks[0]  # no copy: the fetch response keeps it by reference
        return b"".join(chunks)

    def _decode(self, segment: Segment, header: BatchHeader) -> list[Record]:
        return decode_batch(segment.read_batch(header))

    def offset_for_timestamp(self, timestamp_ms: int) -> TimestampOffset | None:
        log_start = self._log_start_offset
        for segment in self.segments:
            if segment.max_timestamp < timestamp_ms or segment.next_offset <= log_start:
                continue
            start = max(segment.start_offset_for_timestamp(timestamp_ms), log_start)
            for header in segment.iter_headers(start):
                if header.last_offset < log_start or 0 <= header.max_timestamp < timestamp_ms:
                    continue  # (a header without a max timestamp is one an older katka kept)
                for record in self._decode(segment, header):
                    if record.offset >= log_start and record.timestamp_ms >= timestamp_ms:
                        return TimestampOffset(record.offset, record.timestamp_ms)
        return None

    def max_timestamp(self) -> TimestampOffset | None:
        """Among records at or after the log start offset (Kafka also counts records below it
        that still sit in the first segment; a consumer could not fetch those)."""
        log_start = self._log_start_offset
        best: TimestampOffset | None = None
        for segment in self.segments:
            if segment.size_bytes == 0 or segment.next_offset <= log_start:
                continue
            if best is not None and segment.max_timestamp <= best.timestamp_ms:
                continue
            if segment.offset_of_max_timestamp >= log_start:
                headers = [next(segment.iter_headers(segment.offset_of_max_timestamp))]
            else:  # the segment's largest timestamp may lie below the log start: look closer
                headers = list(segment.iter_headers(log_start))
            for header in headers:
                if best is not None and 0 <= header.max_timestamp <= best.timestamp_ms:
                    continue
                for record in self._decode(segment, header):
                    if record.offset >= log_start and (
                        best is None or record.timestamp_ms > best.timestamp_ms
                    ):
                        best = TimestampOffset(record.offset, record.timestamp_ms)
        return best

    def oldest_timestamp_at(self, offset: int) -> int | None:
        if offset < self._log_start_offset or offset >= self.log_end_offset:
            return None
        segment = self.segments[self._segment_index_for(offset)]
        header = next(segment.iter_headers(offset), None)
        if header is None:
            return None
        for record in self._decode(segment, header):
            if record.offset == offset:
                return record.timestamp_ms
        return None

    def _move_log_start_offset(self, offset: int) -> None:
        if offset <= self._log_start_offset:
            return
        self._log_start_offset = offset
        if self._producer_state is not None:
            self._producer_state.truncate_head(offset)
        self._on_log_start_offset_changed()

    def delete_records_before(self, offset: int) -> int:
        if offset > self.high_watermark or offset < 0:
            raise out_of_range(offset, self._log_start_offset, self.high_watermark)
        while len(self.segments) > 1 and self.segments[1].base_offset <= offset:
            self._pop_oldest_segment()
        self._move_log_start_offset(offset)
        return self._log_start_offset

    def enforce_retention(self, now_ms: int) -> int:
        freed = 0
        if not self.config.delete:  # cleanup.policy without "delete": kept (or compacted)
            return 0
        retention_ms = self.config.retention_ms
        if retention_ms >= 0:
            while (
                len(self.segments) > 1
                and now_ms - largest_timestamp(self.segments[0]) > retention_ms
            ):
                freed += self._pop_oldest_segment().size_bytes
        retention_bytes = self.config.retention_bytes
        if retention_bytes >= 0:
            excess = self.size_bytes - retention_bytes
            while len(self.segments) > 1 and excess >= self.segments[0].size_bytes:
                size = self._pop_oldest_segment().size_bytes
                excess -= size
                freed += size
        if freed:
            self._move_log_start_offset(self.segments[0].base_offset)
        return freed

    # --- flushing -------------------------------------------------------------------------------

    @property
    def recovery_point(self) -> int:
        return self._recovery_point

    def needs_flush(self, now_ms: int) -> bool:
        unflushed = self.log_end_offset - self._recovery_point  # offsets are dense
        if unflushed <= 0:
            return False
        if unflushed >= self.config.flush_messages:
            return True
        return (
            self._last_flush_ms is not None and now_ms - self._last_flush_ms >= self.config.flush_ms
        )

    @property
    def has_unflushed_closed_segment(self) -> bool:
        if len(self.segments) == 1:  # asked after every append: the usual answer without a bisect
            return False
        return self._segment_index_for(self._recovery_point) < len(self.segments) - 1

    def begin_flush(self) -> FlushPlan:
        # From the segment holding the last flushed offset: when a roll came right after a
        # flush, closing that segment wrote its final time index entry after its fsync.
        first = self._segment_index_for(max(self._recovery_point - 1, 0))
        return FlushPlan(self.log_end_offset, self._files_to_sync(self.segments[first:]))

    def complete_flush(self, plan: FlushPlan) -> None:
        if self._closed or plan.end_offset <= self._recovery_point:
            return
        self._recovery_point = plan.end_offset
        if self._recovery_point >= self.log_end_offset:
            # flush.ms counts from the first append after a full flush; appends made while
            # the fsync ran keep the earlier start, so their flush comes no later.
            self._last_flush_ms = None
        self._on_recovery_point_advanced()

    def flush(self) -> None:
        plan = self.begin_flush()
        plan.fsync()
        self.complete_flush(plan)
