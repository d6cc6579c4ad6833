"""In-memory storage engine: the full PartitionLog contract with no files, for fast tests.

Segments are bytearrays plus their batch headers, so rolling, retention and DeleteRecords
behave exactly as on disk (the shared logic lives in segmented.py).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterator, Sequence

from katka.protocol.batches import NO_TIMESTAMP, BatchHeader
from katka.storage.base import LogConfig
from katka.storage.cleaner.plan import SegmentInfo
from katka.storage.cleaner.segments import CleanedWriter, SegmentSource
from katka.storage.log_segment import Segment, select_batches
from katka.storage.segmented import SegmentedLog


class MemorySegment:
    def __init__(self, base_offset: int) -> None:
        self.base_offset = base_offset
        self._data = bytearray()
        self._headers: list[BatchHeader] = []
        self._last_offsets: list[int] = []
        self._max_timestamp = NO_TIMESTAMP
        self._offset_of_max_timestamp = -1
        self._last_modified_ms = time.time_ns() // 1_000_000
        # Set for a cleaned segment: the cleaner may have removed the batches at its end.
        self.sealed_next_offset: int | None = None

    @property
    def next_offset(self) -> int:
        if self.sealed_next_offset is not None:
            return self.sealed_next_offset
        return self._last_offsets[-1] + 1 if self._last_offsets else self.base_offset

    @property
    def size_bytes(self) -> int:
        return len(self._data)

    @property
    def max_timestamp(self) -> int:
        return self._max_timestamp

    @property
    def offset_of_max_timestamp(self) -> int:
        return self._offset_of_max_timestamp

    @property
    def rolling_timestamp(self) -> int | None:
        return self._headers[0].max_timestamp if self._headers else None

    @property
    def last_modified_ms(self) -> int:
        return self._last_modified_ms  # wall clock, as a file's mtime is

    def is_full(self, header: BatchHeader) -> bool:
        return False

    def append(self, parts: Sequence[bytes | bytearray | memoryview], header: BatchHeader) -> None:
        self._headers.append(header._replace(position=len(self._data)))
        self._last_offsets.append(header.last_offset)
        for part in parts:
            self._data += part
        self._last_modified_ms = time.time_ns() // 1_000_000
        if header.max_timestamp > self._max_timestamp:
            self._max_timestamp = header.max_timestamp
            self._offset_of_max_timestamp = header.base_offset

    def _index_of(self, offset: int) -> int:
        return bisect.bisect_left(self._last_offsets, offset)

    def read(
        self, fetch_offset: int, max_bytes: int, max_offset: int, min_one_batch: bool
    ) -> tuple[bytes, int]:
        first = self._index_of(fetch_offset)
        headers = self._headers[first:]
        count, total = select_batches(headers, max_bytes, max_offset, min_one_batch)
        if count == 0:
            return b"", fetch_offset
        start = headers[0].position
        return bytes(self._data[start : start + total]), headers[count - 1].next_offset

    def iter_headers(self, start_offset: int) -> Iterator[BatchHeader]:
        return iter(self._headers[self._index_of(start_offset) :])

    def start_offset_for_timestamp(self, timestamp_ms: int) -> int:
        return self.base_offset

    def read_batch(self, header: BatchHeader) -> bytes:
        return bytes(self._data[header.position : header.position + header.size])

    def batches(self) -> Iterator[tuple[BatchHeader, memoryview]]:
        """For the cleaner's thread: a closed segment's bytes never change."""
        view = memoryview(bytes(self._data))
        for header in list(self._headers):
            yield header, view[header.position : header.position + header.size]


class CleanedMemorySegment:
    """A cleaned segment being built by the cleaner's thread."""

    def __init__(self, base_offset: int) -> None:
        self.segment = MemorySegment(base_offset)

    def append(self, batch: bytes | memoryview, header: BatchHeader) -> None:
        self.segment.append((batch,), header)

    def finish(self, last_modified_ms: int) -> None:
        self.segment._last_modified_ms = last_modified_ms

    def discard(self) -> None:
        pass


class MemoryPartitionLog(SegmentedLog):
    def __init__(self, topic: str, partition: int, config: LogConfig) -> None:
        super().__init__(topic, partition, config)
        self._add_segment(MemorySegment(0))

    def _new_segment(self, base_offset: int) -> MemorySegment:
        return MemorySegment(base_offset)

    def _cleaning_source(self, segment: Segment) -> SegmentSource:
        assert isinstance(segment, MemorySegment)
        info = SegmentInfo(
            segment.base_offset,
            segment.next_offset,
            segment.size_bytes,
            segment.max_timestamp,
            segment.last_modified_ms,
        )
        return SegmentSource(info, segment.batches)

    def _cleaned_writer_factory(self) -> Callable[[int], CleanedWriter]:
        return CleanedMemorySegment

    def _install_cleaned(self, old: Sequence[Segment], writer: CleanedWriter) -> Segment:
        assert isinstance(writer, CleanedMemorySegment)
        writer.segment.sealed_next_offset = old[-1].next_offset
        return writer.segment

    def close(self) -> None:
        pass


class MemoryStorageEngine:
    """Logs live as long as the engine object; reopening returns the same log."""

    def __init__(self) -> None:
        self._logs: dict[tuple[str, int], MemoryPartitionLog] = {}

    def open_log(self, topic: str, partition: int, config: LogConfig) -> MemoryPartitionLog:
        log = self._logs.get((topic, partition))
        if log is None:
            log = self._logs[(topic, partition)] = MemoryPartitionLog(topic, partition, config)
        else:
            log.config = config
        return log

    def delete_log(self, topic: str, partition: int) -> None:
        self._logs.pop((topic, partition), None)

    def existing_logs(self) -> list[tuple[str, int]]:
        return sorted(self._logs)

    @property
    def recovered_cleanly(self) -> bool:
        return True

    def close(self) -> None:
        for log in self._logs.values():
            log.close()
