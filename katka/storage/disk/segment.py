"""One log segment on disk: `{base_offset:020d}.log` plus its `.index` and `.timeindex`
(Kafka's LogSegment).

Theory of operation: batches are appended as received (base offset already assigned) with
os.write on an O_APPEND descriptor, so they are in the OS before `append` returns and survive
kill -9 of the process; only `flush` fsyncs. Reads use os.pread and verify each returned
batch's CRC, so a byte garbled on disk surfaces as CORRUPT_MESSAGE naming the file and offset
instead of reaching a consumer.

Index rule (as Kafka's): before appending a batch, when more than index.interval.bytes were
appended since the last index entry, index this batch (base offset -> position) and add a time
index entry for the largest timestamp so far. Closing a segment for appends adds a final time
index entry so its last entry is the segment's largest timestamp (retention trusts it after a
restart: when that entry cannot be written the time index is dropped, to be rebuilt from the
log). Recovery replays this rule over the scanned batches, so rebuilt indexes match what
appends would have written. A batch stored by an older katka without a max timestamp (-1, as
old sarama sends it) counts with its records' largest timestamp (`batch_max_timestamp`).

Opening is lazy: a closed segment knows its next offset from the following segment's base
offset and reads nothing until used; the active segment reads the last offset index entry and
scans only the batch headers after it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import HEADER_SIZE, LOG_OVERHEAD, BatchHeader, compute_crc, read_header
from katka.storage.disk import faults
from katka.storage.disk.index import CorruptIndexError, OffsetIndex, TimeIndex
from katka.storage.log_segment import batch_max_timestamp

logger = logging.getLogger("katka.storage")

NO_TIMESTAMP = -1
MAX_RELATIVE_OFFSET = 2**31 - 1
HEADER_READAHEAD = 16 * 1024
# The last batch appended is kept in memory up to this size, for the consumer it wakes
# (at most this much per partition: 10,000 partitions hold 20 MiB at worst).
LAST_BATCH_CACHE_BYTES = 2048
_SCAN_CHUNK = 1024 * 1024


def segment_file_name(base_offset: int, suffix: str) -> str:
    return f"{base_offset:020d}{suffix}"


def _corrupt(path: str, position: int, offset: int, reason: str) -> KafkaError:
    return KafkaError(
        ErrorCode.corrupt_message,
        f"{path}: batch at offset {offset} (byte position {position}) is corrupt: {reason}",
    )


def _header_problem(
    header: BatchHeader, expected_offset: int, room: int, gaps: bool = False
) -> str | None:
    """Why `header` cannot be the next batch; `gaps`: a cleaned segment, where offsets may
    skip (the cleaner removes whole batches), so only going backwards is corrupt."""
    if header.magic != 2:
        return f"magic {header.magic}"
    if header.batch_length < HEADER_SIZE - LOG_OVERHEAD or header.size > room:
        return f"batch length {header.batch_length} does not fit the segment"
    if header.base_offset != expected_offset and not (
        gaps and header.base_offset > expected_offset
    ):
        return f"base offset {header.base_offset}, expected {expected_offset}"
    return None


class LogSegment:
    def __init__(
        self,
        directory: str,
        base_offset: int,
        index_interval_bytes: int,
        segment_index_bytes: int,
        size: int = 0,
        next_offset: int | None = None,
        suffix: str = "",
    ) -> None:
        """`suffix` names a segment the cleaner writes aside (".cleaned")."""
        self.base_offset = base_offset
        self.log_path = os.path.join(directory, segment_file_name(base_offset, ".log" + suffix))
        self.offset_index = OffsetIndex(
            os.path.join(directory, segment_file_name(base_offset, ".index" + suffix)), base_offset
        )
        self.time_index = TimeIndex(
            os.path.join(directory, segment_file_name(base_offset, ".timeindex" + suffix)),
            base_offset,
        )
        self.index_interval_bytes = index_interval_bytes
        self.max_index_entries = max(segment_index_bytes // 12, 1)
        self._fd: int | None = None
        self._size = size
        # (offset, position) where the last read ended: batches only ever append after it.
        self._read_hint = (-1, 0)
        # The last batch appended (or found by recovery), where it sits: a woken consumer
        # reads the batch that woke it without walking headers to find it.
        self._last_batch: BatchHeader | None = None
        # Its bytes as written, when small (LAST_BATCH_CACHE_BYTES): that read needs no pread.
        self._last_bytes: bytes | None = None
        # None until known: a closed segment learns it from the next segment (set by the log),
        # the active one from `load_active` or `recover`.
        self._next_offset = next_offset if next_offset is not None else base_offset
        self._max_timestamp: int | None = NO_TIMESTAMP if size == 0 else None
        self._offset_of_max_timestamp = -1
        self._rolling_timestamp: int | None = None
        self._bytes_since_last_index_entry = 0
        self.indexes_need_rebuild = False  # set when an index file is missing at open
        self.sealed = False  # closed for appends: the last time index entry is the largest
        self.may_have_gaps = suffix == ".cleaned"  # below the log's cleaned point

    @classmethod
    def create(
        cls,
        directory: str,
        base_offset: int,
        index_interval_bytes: int,
        segment_index_bytes: int,
        suffix: str = "",
    ) -> LogSegment:
        segment = cls(
            directory, base_offset, index_interval_bytes, segment_index_bytes, suffix=suffix
        )
        for path in (segment.log_path, segment.offset_index.path, segment.time_index.path):
            with open(path, "wb"):
                pass
        return segment

    # --- files ---------------------------------------------------------------------------------

    def _log_fd(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        return self._fd

    def _pread(self, length: int, position: int) -> bytes:
        try:
            return os.pread(self._log_fd(), length, position)
        except OSError as exc:
            raise KafkaError(ErrorCode.kafka_storage_error, f"{self.log_path}: {exc}") from exc

    def duplicate_descriptors(self) -> list[tuple[int, str]]:
        """Duplicates of the open descriptors (log, indexes) with their paths, owned by the
        caller, for an fsync off the loop. A file never opened by this process has nothing
        unflushed from it (recovery opens what it scans)."""
        files = [] if self._fd is None else [(os.dup(self._fd), self.log_path)]
        for index in (self.offset_index, self.time_index):
            fd = index.duplicate_descriptor()
            if fd is not None:
                files.append((fd, index.path))
        return files

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.offset_index.close()
        self.time_index.close()

    def delete(self) -> None:
        self.close()
        self.offset_index.delete()
        self.time_index.delete()
        try:
            os.unlink(self.log_path)
        except FileNotFoundError:
            pass

    # --- Segment protocol ----------------------------------------------------------------------

    @property
    def next_offset(self) -> int:
        return self._next_offset

    @next_offset.setter
    def next_offset(self, value: int) -> None:
        self._next_offset = value

    @property
    def size_bytes(self) -> int:
        return self._size

    @property
    def max_timestamp(self) -> int:
        if self._max_timestamp is None:
            self._load_max_timestamp()
        assert self._max_timestamp is not None
        return self._max_timestamp

    @property
    def offset_of_max_timestamp(self) -> int:
        if self._max_timestamp is None:
            self._load_max_timestamp()
        return self._offset_of_max_timestamp

    def _load_max_timestamp(self) -> None:
        """A closed segment's last time index entry is its largest timestamp."""
        try:
            entry = None if self.indexes_need_rebuild else self.time_index.last_entry()
        except CorruptIndexError:
            entry = None
        if entry is None:
            self.rebuild_indexes()
        else:
            self._max_timestamp, self._offset_of_max_timestamp = entry

    @property
    def rolling_timestamp(self) -> int | None:
        if self._size == 0:
            return None
        if self._rolling_timestamp is None:
            first = read_header(self._pread(HEADER_SIZE, 0))
            self._rolling_timestamp = self._with_max_timestamp(first).max_timestamp
        return self._rolling_timestamp

    @property
    def last_modified_ms(self) -> int:
        try:
            return os.stat(self.log_path).st_mtime_ns // 1_000_000
        except OSError:
            return time.time_ns() // 1_000_000  # unknown: count it as just written (kept)

    def _with_max_timestamp(self, header: BatchHeader) -> BatchHeader:
        """`header` with the max timestamp its records give when it has none (see above)."""
        if header.max_timestamp >= 0:
            return header
        try:
            batch = self.read_batch(header)
        except KafkaError:
            return header
        return header._replace(max_timestamp=batch_max_timestamp(batch, header))

    def is_full(self, header: BatchHeader) -> bool:
        return (
            self.offset_index.entry_count >= self.max_index_entries
            or header.last_offset - self.base_offset > MAX_RELATIVE_OFFSET
        )

    def append(self, parts: Sequence[bytes | bytearray | memoryview], header: BatchHeader) -> None:
        fd = self._log_fd()
        try:
            faults.check_write(self.log_path)
            written = os.writev(fd, parts)
            if written < header.size:  # a short write: finish the rest from one buffer
                rest = memoryview(b"".join(parts))
                while written < header.size:
                    written += os.write(fd, rest[written:])
        except OSError as exc:
            os.ftruncate(fd, self._size)  # never leave a torn batch before the next append
            raise KafkaError(ErrorCode.kafka_storage_error, f"{self.log_path}: {exc}") from exc
        self._on_batch(header.at(header.base_offset, self._size))
        if header.size <= LAST_BATCH_CACHE_BYTES:
            self._last_bytes = b"".join(parts)

    def _on_batch(self, header: BatchHeader) -> None:
        """Account for a batch now in the file at header.position (append and recovery)."""
        if self._size == 0:
            self._rolling_timestamp = header.max_timestamp
        if self._max_timestamp is None:
            self._load_max_timestamp()
        assert self._max_timestamp is not None
        if header.max_timestamp > self._max_timestamp:
            self._max_timestamp = header.max_timestamp
            self._offset_of_max_timestamp = header.base_offset
        if self._bytes_since_last_index_entry > self.index_interval_bytes:
            try:
                self.offset_index.append(header.base_offset, header.position)
                self.time_index.maybe_append(self._max_timestamp, self._offset_of_max_timestamp)
            except (OSError, ValueError) as exc:
                # The batch is in the log: a sparse index without this entry is still right
                # (lookups land earlier and scan forward), so a full disk here loses nothing.
                logger.warning("%s: index entry not written: %s", self.log_path, exc)
            self._bytes_since_last_index_entry = 0
        self._bytes_since_last_index_entry += header.size
        self._last_batch = header
        self._last_bytes = None  # append() sets it after a write of its own
        self._size = header.position + header.size
        self._next_offset = header.next_offset

    def close_for_appends(self) -> None:
        """Record the largest timestamp as the final time index entry (on roll and close).

        Never raises: a segment whose last time index entry is not its largest timestamp would
        be deleted early by retention after a restart, so on failure the time index is dropped
        and rebuilt from the log when next needed."""
        if self._size and self._max_timestamp is not None:
            try:
                self.time_index.maybe_append(self._max_timestamp, self._offset_of_max_timestamp)
            except (OSError, ValueError) as exc:
                logger.warning("%s: final time index entry not written: %s", self.log_path, exc)
                try:
                    self.time_index.delete()
                except OSError:
                    pass
                self.indexes_need_rebuild = True
        self.sealed = True

    def _headers_from(
        self, position: int, offset: int, end: int | None = None
    ) -> Iterator[BatchHeader]:
        """Hop from batch to batch by header; raises CORRUPT_MESSAGE on a broken chain.

        Reads ahead HEADER_READAHEAD bytes at a time, so a walk over many small batches costs
        a few preads rather than one per batch.
        """
        end = self._size if end is None else end
        chunk = b""
        chunk_start = position
        while position < end:
            relative = position - chunk_start
            if relative + HEADER_SIZE > len(chunk):
                chunk_start, relative = position, 0
                chunk = self._pread(
                    min(HEADER_READAHEAD, max(end - position, HEADER_SIZE)), position
                )
                if len(chunk) < HEADER_SIZE:
                    raise _corrupt(self.log_path, position, offset, "the file ends inside a header")
            header = read_header(chunk, relative)
            problem = _header_problem(header, offset, end - position, self.may_have_gaps)
            if problem is not None:
                raise _corrupt(self.log_path, position, offset, problem)
            yield header._replace(position=position)
            position += header.size
            offset = header.next_offset

    def _index_lookup(self, offset: int) -> tuple[int, int]:
        if self.indexes_need_rebuild:
            self.rebuild_indexes()
        try:
            return self.offset_index.lookup(offset, self._size)
        except CorruptIndexError:
            self.rebuild_indexes()
            return self.offset_index.lookup(offset, self._size)

    def iter_headers(self, start_offset: int) -> Iterator[BatchHeader]:
        hint_offset, hint_position = self._read_hint
        if start_offset == hint_offset and hint_position <= self._size:
            # A consumer's next fetch starts where its last one ended: no index walk.
            yield from self._headers_from(hint_position, hint_offset)
            return
        entry_offset, position = self._index_lookup(start_offset)
        if position and not self._is_batch_start(position, entry_offset):
            # The index points somewhere no batch starts: it is stale, not the log.
            self.rebuild_indexes()
            entry_offset, position = self._index_lookup(start_offset)
        for header in self._headers_from(position, entry_offset):
            if header.last_offset >= start_offset:
                yield header

    def _is_batch_start(self, position: int, offset: int) -> bool:
        raw = self._pread(HEADER_SIZE, position)
        return (
            len(raw) == HEADER_SIZE
            and _header_problem(read_header(raw), offset, self._size - position, self.may_have_gaps)
            is None
        )

    def start_offset_for_timestamp(self, timestamp_ms: int) -> int:
        if self.indexes_need_rebuild:
            self.rebuild_indexes()
        try:
            return self.time_index.lookup(timestamp_ms, self._next_offset)
        except CorruptIndexError:
            self.rebuild_indexes()
            return self.time_index.lookup(timestamp_ms, self._next_offset)

    def read_batch(self, header: BatchHeader) -> bytes:
        batch = self._pread(header.size, header.position)
        if len(batch) != header.size or compute_crc(batch) != header.crc:
            raise _corrupt(self.log_path, header.position, header.base_offset, "CRC mismatch")
        return batch

    def read(
        self, fetch_offset: int, max_bytes: int, max_offset: int, min_one_batch: bool
    ) -> tuple[bytes | memoryview, int]:
        first = self._last_batch
        if first is None or not first.base_offset <= fetch_offset <= first.last_offset:
            first = next(self.iter_headers(fetch_offset), None)
        elif self._last_bytes is not None and first.base_offset < max_offset:
            # The batch just appended, as written (a woken consumer's read): nothing follows it.
            if first.size > max_bytes and not min_one_batch:
                return b"", fetch_offset
            self._read_hint = (first.next_offset, self._size)
            return self._last_bytes, first.next_offset
        if first is None or first.base_offset >= max_offset:
            return b"", fetch_offset
        start = first.position
        length = min(max_bytes, self._size - start)
        if first.size > length:
            if not min_one_batch:
                return b"", fetch_offset
            length = first.size
        data = self._pread(length, start)
        view = memoryview(data)
        position = 0
        offset = first.base_offset
        while len(view) - position >= HEADER_SIZE:
            header = read_header(view, position)
            if header.base_offset >= max_offset:
                break
            problem = _header_problem(
                header, offset, self._size - start - position, self.may_have_gaps
            )
            if problem is not None:
                raise _corrupt(self.log_path, start + position, offset, problem)
            if position + header.size > len(view):
                break
            if compute_crc(view[position : position + header.size]) != header.crc:
                raise _corrupt(self.log_path, start + position, offset, "CRC mismatch")
            position += header.size
            offset = header.next_offset
        self._read_hint = (offset, start + position)
        # No copy when every byte read is returned (the common case): a memoryview otherwise.
        return (data if position == len(data) else memoryview(data)[:position]), offset

    # --- opening and recovery ------------------------------------------------------------------

    def load_active(self) -> bool:
        """Cheap open after a clean shutdown: trust the indexes, scan the headers after the last
        offset index entry. False when something does not add up (the caller recovers)."""
        try:
            entry = self.offset_index.last_entry()
            time_entry = self.time_index.last_entry()
        except CorruptIndexError:
            return False
        if entry is not None and entry[1] >= self._size:
            return False
        entry_offset, position = entry if entry is not None else (self.base_offset, 0)
        self._max_timestamp, self._offset_of_max_timestamp = time_entry or (NO_TIMESTAMP, -1)
        self._next_offset = entry_offset
        try:
            for header in self._headers_from(position, entry_offset):
                header = self._with_max_timestamp(header)
                if header.max_timestamp > self._max_timestamp:
                    self._max_timestamp = header.max_timestamp
                    self._offset_of_max_timestamp = header.base_offset
                self._next_offset = header.next_offset
                self._bytes_since_last_index_entry = header.position + header.size - position
        except KafkaError:
            return False
        return True

    def _scan_file(self, file_size: int) -> Iterator[BatchHeader]:
        """Batches of the file in order, CRC checked, stopping at the first torn or corrupt one."""
        position = 0
        offset = self.base_offset
        while file_size - position >= HEADER_SIZE:
            chunk = self._pread(min(_SCAN_CHUNK, file_size - position), position)
            view = memoryview(chunk)
            consumed = 0
            while len(view) - consumed >= HEADER_SIZE:
                header = read_header(view, consumed)
                if (
                    _header_problem(
                        header, offset, file_size - position - consumed, self.may_have_gaps
                    )
                    is not None
                ):
                    return
                if consumed + header.size > len(view):
                    if consumed == 0:  # one batch larger than a chunk: read it alone
                        view = memoryview(self._pread(header.size, position))
                        if len(view) < header.size:
                            return
                        continue
                    break
                if compute_crc(view[consumed : consumed + header.size]) != header.crc:
                    return
                yield header._replace(position=position + consumed)
                consumed += header.size
                offset = header.next_offset
            position += consumed

    def recover(self) -> int:
        """Rebuild the indexes from a CRC-checked scan and truncate whatever follows the last
        good batch; returns the number of bytes truncated."""
        file_size = os.fstat(self._log_fd()).st_size
        self._reset_indexes()
        for header in self._scan_file(file_size):
            self._on_batch(self._with_max_timestamp(header))
        truncated = file_size - self._size
        if truncated:
            os.ftruncate(self._log_fd(), self._size)
        return truncated

    def rebuild_indexes(self) -> None:
        """Rebuild missing or insane indexes from the log (which is trusted up to its size).

        A broken batch chain keeps the indexes of the good prefix; reads of the broken batch
        still raise CORRUPT_MESSAGE.
        """
        size, next_offset = self._size, self._next_offset
        self._reset_indexes()
        try:
            for header in self._headers_from(0, self.base_offset, size):
                self._on_batch(self._with_max_timestamp(header))
        except KafkaError as exc:
            logger.warning("%s: index rebuild stopped early: %s", self.log_path, exc)
        self._size, self._next_offset = size, max(next_offset, self._next_offset)
        if self.sealed:
            self.close_for_appends()

    def _reset_indexes(self) -> None:
        self._read_hint = (-1, 0)
        self._last_batch = None
        self._last_bytes = None
        self.offset_index.reset()
        self.time_index.reset()
        self.indexes_need_rebuild = False
        self._size = 0
        self._next_offset = self.base_offset
        self._max_timestamp = NO_TIMESTAMP
        self._offset_of_max_timestamp = -1
        self._bytes_since_last_index_entry = 0
        self._rolling_timestamp = None
