"""What the shared log logic needs of a segment, and the pure rules over segments and batches.

A segment holds the batches with offsets [base_offset, next_offset); engines implement the
`Segment` protocol (memory.py in RAM, disk/segment.py in files) and segmented.py's SegmentedLog
drives them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import BatchHeader, record_max_timestamp


class Segment(Protocol):
    base_offset: int

    @property
    def next_offset(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...

    @property
    def max_timestamp(self) -> int:
        """Largest batch max timestamp in the segment (NO_TIMESTAMP when empty)."""
        ...

    @property
    def offset_of_max_timestamp(self) -> int:
        """Base offset of the first batch that reached `max_timestamp`."""
        ...

    @property
    def rolling_timestamp(self) -> int | None:
        """The first batch's max timestamp: segment.ms counts from here."""
        ...

    @property
    def last_modified_ms(self) -> int:
        """Wall-clock time of the last write (the file's mtime on disk): what retention counts
        from when no record in the segment has a timestamp."""
        ...

    def is_full(self, header: BatchHeader) -> bool:
        """True when the segment's indexes cannot take `header` (a roll is needed)."""
        ...

    def append(self, parts: Sequence[bytes | bytearray | memoryview], header: BatchHeader) -> None:
        """Append one batch given as consecutive buffers (so a batch need not be copied to
        have its base offset rewritten)."""
        ...

    def read(
        self, fetch_offset: int, max_bytes: int, max_offset: int, min_one_batch: bool
    ) -> tuple[bytes | memoryview, int]:
        """Whole batches from the one containing fetch_offset; returns (bytes, next offset
        after the last returned batch, or fetch_offset when none is)."""
        ...

    def iter_headers(self, start_offset: int) -> Iterator[BatchHeader]:
        """Headers from the batch containing start_offset on (positions within the segment)."""
        ...

    def start_offset_for_timestamp(self, timestamp_ms: int) -> int:
        """An offset such that every record before it has a timestamp < timestamp_ms."""
        ...

    def read_batch(self, header: BatchHeader) -> bytes:
        """The whole batch `header` describes, CRC checked."""
        ...


def batch_max_timestamp(batch: bytes | bytearray | memoryview, header: BatchHeader) -> int:
    """A stored batch's max timestamp, read from its records when the header has none (batches
    an older katka stored as old clients sent them); the header's on malformed records."""
    if header.max_timestamp >= 0:
        return header.max_timestamp
    try:
        return record_max_timestamp(batch, header)
    except KafkaError:
        return header.max_timestamp


def largest_timestamp(segment: Segment) -> int:
    """What retention counts from (Kafka's LogSegment.largestTimestamp)."""
    max_timestamp = segment.max_timestamp
    return max_timestamp if max_timestamp >= 0 else segment.last_modified_ms


def select_batches(
    headers: Sequence[BatchHeader], max_bytes: int, max_offset: int, min_one_batch: bool
) -> tuple[int, int]:
    """How many leading batches a fetch returns and their total bytes (KIP-74 semantics)."""
    count = 0
    total = 0
    for header in headers:
        if header.base_offset >= max_offset:
            break
        if total + header.size > max_bytes and not (count == 0 and min_one_batch):
            break
        count += 1
        total += header.size
    return count, total


def out_of_range(offset: int, log_start_offset: int, log_end_offset: int) -> KafkaError:
    return KafkaError(
        ErrorCode.offset_out_of_range,
        f"offset {offset} is outside [{log_start_offset}, {log_end_offset}]",
    )
