"""The narrow contract between the broker and its partition logs.

Every engine (memory for tests, disk for real use) implements `StorageEngine` and
`PartitionLog`; one contract test suite (tests/storage/test_contract.py) runs against all of
them. A partition log stores v2 record batches as received, with only the fields Kafka's broker
owns set (base offset; timestamp type and max timestamp, see protocol/batches.py), so a fetch
returns stored bytes without re-encoding.

On a single node the high watermark equals the log end offset once an append returns.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from katka.protocol.batches import DEFAULT_TIMESTAMP_AFTER_MAX_MS, LONG_MAX, BatchHeader
from katka.storage.producer_state import ProducerStateManager
from katka.storage.transaction_index import AbortedTransaction


@dataclass(frozen=True, slots=True)
class LogConfig:
    """The topic configs a partition log obeys (Kafka's names in comments)."""

    segment_bytes: int = 1024 * 1024 * 1024  # segment.bytes
    segment_ms: int = 7 * 24 * 3600 * 1000  # segment.ms
    index_interval_bytes: int = 4096  # index.interval.bytes
    segment_index_bytes: int = 10 * 1024 * 1024  # segment.index.bytes
    retention_ms: int = 7 * 24 * 3600 * 1000  # retention.ms (-1: unlimited)
    retention_bytes: int = -1  # retention.bytes (-1: unlimited)
    max_message_bytes: int = 1024 * 1024 + 12  # max.message.bytes
    log_append_time: bool = False  # message.timestamp.type == LogAppendTime
    timestamp_before_max_ms: int = LONG_MAX  # message.timestamp.before.max.ms
    timestamp_after_max_ms: int = DEFAULT_TIMESTAMP_AFTER_MAX_MS  # message.timestamp.after.max.ms
    flush_messages: int = 2**63 - 1  # flush.messages
    flush_ms: int = 2**63 - 1  # flush.ms
    file_delete_delay_ms: int = 60000  # file.delete.delay.ms (engines may delete at once)
    # cleanup.policy: "delete" (retention), "compact" (the cleaner), both, or neither
    delete: bool = True
    compact: bool = False
    min_cleanable_dirty_ratio: float = 0.5  # min.cleanable.dirty.ratio
    min_compaction_lag_ms: int = 0  # min.compaction.lag.ms
    max_compaction_lag_ms: int = 2**63 - 1  # max.compaction.lag.ms
    delete_retention_ms: int = 86_400_000  # delete.retention.ms (tombstones, markers)


class AppendInfo(NamedTuple):
    """What a Produce response needs about one append (or a recognised duplicate). A
    NamedTuple: one per appended partition, and a frozen dataclass costs more to build."""

    base_offset: int
    last_offset: int
    log_append_time_ms: int  # -1 unless the topic uses LogAppendTime
    log_start_offset: int
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class TimestampOffset:
    offset: int
    timestamp_ms: int


@dataclass(eq=False)
class FlushPlan:
    """One log's part of an fsync round: captured on the event loop by `begin_flush`, run on
    a worker thread by `fsync`, handed back to `complete_flush` on the loop.

    The descriptors are duplicates (os.dup) owned by the plan: the loop may close or delete
    the segment meanwhile (retention, DeleteRecords, topic deletion, shutdown) and the fsync
    still meets an open descriptor of the same file, never a closed or reused number.
    """

    end_offset: int  # everything below it was appended before the capture
    files: list[tuple[int, str]] = field(default_factory=list)  # (duplicate fd, path)
    sync: Callable[[int, str], None] = lambda fd, _path: os.fsync(fd)  # the disk's fault hook

    def fsync(self) -> None:
        """fsync every captured file, then close the duplicates (the only thing that runs
        off the loop: no log state is read or written here)."""
        try:
            for fd, path in self.files:
                self.sync(fd, path)
        finally:
            self.release()

    def release(self) -> None:
        files, self.files = self.files, []
        for fd, _path in files:
            os.close(fd)


class PartitionLog(Protocol):
    topic: str
    partition: int
    config: LogConfig

    @property
    def log_start_offset(self) -> int: ...

    @property
    def log_end_offset(self) -> int: ...

    @property
    def high_watermark(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...

    def append(
        self, records: bytes | bytearray | memoryview, headers: Sequence[BatchHeader], now_ms: int
    ) -> AppendInfo:
        """Append validated batches (headers from `validate_produce_records`).

        Sets the timestamp fields as Kafka's validator does (raises RecordValidationError,
        INVALID_TIMESTAMP, listing refused records), assigns offsets, checks idempotent producer
        sequences (raises KafkaError OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH,
        returns the original offsets with duplicate=True for a retried batch), rolls segments
        by segment.bytes / segment.ms, and has written the bytes to the OS before returning.
        """
        ...

    def append_marker(
        self,
        producer_id: int,
        producer_epoch: int,
        coordinator_epoch: int,
        commit: bool,
        now_ms: int,
    ) -> AppendInfo:
        """Append a COMMIT or ABORT control batch ending the producer's open transaction.

        Raises KafkaError INVALID_PRODUCER_EPOCH when the epoch is older than the producer's."""
        ...

    @property
    def producer_state(self) -> ProducerStateManager:
        """Idempotent and transactional producers of this partition (DescribeProducers)."""
        ...

    @property
    def last_stable_offset(self) -> int:
        """The first offset of the oldest open transaction, or the high watermark."""
        ...

    def aborted_transactions(self, fetch_offset: int, upper_bound: int) -> list[AbortedTransaction]:
        """Aborted transactions with records in [fetch_offset, upper_bound), marker order."""
        ...

    def read(
        self, fetch_offset: int, max_bytes: int, max_offset: int, min_one_batch: bool
    ) -> bytes | memoryview:
        """Bytes of whole batches starting with the batch that contains `fetch_offset`.

        Stops before any batch whose base offset is >= `max_offset` (the high watermark or the
        last stable offset) and before exceeding `max_bytes`, except that the first batch is
        returned whole when `min_one_batch` (KIP-74). Raises KafkaError OFFSET_OUT_OF_RANGE when
        fetch_offset < log_start_offset or > log_end_offset. Raises KafkaError CORRUPT_MESSAGE
        when a stored batch fails its CRC check.
        """
        ...

    def offset_for_timestamp(self, timestamp_ms: int) -> TimestampOffset | None:
        """The first offset whose record timestamp is >= timestamp_ms, or None if none is."""
        ...

    def max_timestamp(self) -> TimestampOffset | None:
        """The offset and timestamp of the record with the largest timestamp (ListOffsets -3)."""
        ...

    def oldest_timestamp_at(self, offset: int) -> int | None:
        """Timestamp of the record at `offset` (for lag-in-time views); None past the end."""
        ...

    def delete_records_before(self, offset: int) -> int:
        """Move the log start offset to `offset` (DeleteRecords); returns the new log start.

        Raises KafkaError OFFSET_OUT_OF_RANGE when offset > high watermark. Segments wholly
        below the new log start are deleted.
        """
        ...

    def enforce_retention(self, now_ms: int) -> int:
        """Delete closed segments past retention.ms / retention.bytes; returns bytes freed."""
        ...

    def maybe_roll(self, now_ms: int) -> None:
        """Roll the active segment when segment.ms has passed (appends also roll by size)."""
        ...

    def flush(self) -> None:
        """fsync everything appended so far, on the calling thread (close, compaction)."""
        ...

    def begin_flush(self) -> FlushPlan:
        """On the loop: capture what an fsync of everything appended so far needs."""
        ...

    def complete_flush(self, plan: FlushPlan) -> None:
        """On the loop, after `plan.fsync()` returned: move the recovery point to
        plan.end_offset (a closed log ignores it)."""
        ...

    def needs_flush(self, now_ms: int) -> bool:
        """True when flush.messages or flush.ms says an fsync is due."""
        ...

    @property
    def has_unflushed_closed_segment(self) -> bool:
        """A rolled segment is not yet fsynced (flushed in the background, as Kafka does)."""
        ...

    def close(self) -> None: ...


class StorageEngine(Protocol):
    def open_log(self, topic: str, partition: int, config: LogConfig) -> PartitionLog:
        """Create the partition log, or load and recover it if it exists."""
        ...

    def delete_log(self, topic: str, partition: int) -> None: ...

    def existing_logs(self) -> list[tuple[str, int]]: ...

    @property
    def recovered_cleanly(self) -> bool:
        """False when the previous run did not shut down cleanly (recovery scanned the tails)."""
        ...

    def close(self) -> None:
        """Flush and close every log, then mark the shutdown clean."""
        ...
