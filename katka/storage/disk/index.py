"""Sparse offset and time indexes of one segment (Kafka's OffsetIndex / TimeIndex).

Theory of operation: an index is a file of fixed-size big-endian entries, appended as the
segment grows (one entry every index.interval.bytes of log) and mirrored in memory as sorted
lists for binary search. The in-memory copy is loaded lazily on the first lookup, so opening
thousands of partitions reads no index data; appends go straight to the file and, once loaded,
to the lists as well. Files are never preallocated: the file size is the entry count.

Offset index entry: relative offset u32 (of the batch's base offset), position u32.
Time index entry: timestamp i64, relative offset u32, with strictly increasing timestamps: an
entry (t, o) says the batch at base offset o is the first whose max timestamp reached t, so
every record before o has a timestamp < t. As in Kafka, an empty time index counts as ending
at timestamp -1, so a batch without timestamps never gets an entry. An entry whose relative
offset does not fit u32 is refused (ValueError) before anything is written.

An index that fails its sanity check (torn entry, entries out of order, positions past the
log) raises `CorruptIndexError`; the segment then rebuilds it from the log.
"""

from __future__ import annotations

import bisect
import os
import struct

from katka.storage.disk import faults

OFFSET_ENTRY = struct.Struct(">II")
TIME_ENTRY = struct.Struct(">qI")
MAX_RELATIVE_OFFSET = 2**32 - 1
NO_TIMESTAMP = -1


class CorruptIndexError(Exception):
    """The index file disagrees with itself or with its log; rebuild it."""


def _check_relative(path: str, relative: int) -> None:
    if not 0 <= relative <= MAX_RELATIVE_OFFSET:
        raise ValueError(f"{path}: relative offset {relative} does not fit an index entry")


class _IndexFile:
    """The file side shared by both index kinds: lazy fd, append, truncate, flush."""

    entry: struct.Struct

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._loaded = False
        self._last: tuple[int, int] | None = None  # last raw entry, once known
        self._last_known = False

    def _file_fd(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        return self._fd

    def _write(self, first: int, second: int) -> None:
        faults.check_write(self.path)
        fd = self._file_fd()
        data = self.entry.pack(first, second)
        error: OSError | None = None
        try:
            written = os.write(fd, data)
        except OSError as exc:
            written, error = -1, exc
        if written != len(data):  # never leave a torn entry behind (a full disk)
            size = os.fstat(fd).st_size
            os.ftruncate(fd, size - size % self.entry.size)
            raise error or OSError(f"{self.path}: short index write")
        self._last = (first, second)
        self._last_known = True

    def _read_all(self) -> bytes:
        try:
            with open(self.path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return b""
        if len(data) % self.entry.size:
            raise CorruptIndexError(f"{self.path}: size {len(data)} is not a whole entry count")
        return data

    def read_last_entry(self) -> tuple[int, int] | None:
        """The last raw entry, read without loading the index (cheap start-up)."""
        if self._last_known:
            return self._last
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return None
        if size == 0:
            return None
        if size % self.entry.size:
            raise CorruptIndexError(f"{self.path}: size {size} is not a whole entry count")
        with open(self.path, "rb") as file:
            file.seek(size - self.entry.size)
            first, second = self.entry.unpack(file.read(self.entry.size))
        self._last = (int(first), int(second))
        self._last_known = True
        return self._last

    def reset(self) -> None:
        """Empty the index (before a rebuild)."""
        self.close()
        with open(self.path, "wb"):
            pass
        self._clear()
        self._loaded = True
        self._last = None
        self._last_known = True

    def _clear(self) -> None:
        raise NotImplementedError

    def duplicate_descriptor(self) -> int | None:
        """A duplicate of the open descriptor, for an fsync off the loop (None: never written)."""
        return None if self._fd is None else os.dup(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def delete(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class OffsetIndex(_IndexFile):
    entry = OFFSET_ENTRY

    def __init__(self, path: str, base_offset: int) -> None:
        super().__init__(path)
        self.base_offset = base_offset
        self._offsets: list[int] = []
        self._positions: list[int] = []
        self._entry_count: int | None = None  # known without loading, once asked

    def _clear(self) -> None:
        self._offsets = []
        self._positions = []
        self._entry_count = 0

    def load(self, log_size: int) -> None:
        """Read and sanity check the whole index (done lazily, at most once)."""
        if self._loaded:
            return
        offsets: list[int] = []
        positions: list[int] = []
        for relative, position in OFFSET_ENTRY.iter_unpack(self._read_all()):
            if offsets and (
                relative <= offsets[-1] - self.base_offset or position <= positions[-1]
            ):
                raise CorruptIndexError(f"{self.path}: entries out of order")
            if position >= log_size:
                raise CorruptIndexError(f"{self.path}: position {position} past the log end")
            offsets.append(self.base_offset + relative)
            positions.append(position)
        self._offsets, self._positions = offsets, positions
        self._loaded = True

    @property
    def entry_count(self) -> int:
        if self._loaded:
            return len(self._offsets)
        if self._entry_count is None:
            try:
                self._entry_count = os.stat(self.path).st_size // OFFSET_ENTRY.size
            except FileNotFoundError:
                self._entry_count = 0
        return self._entry_count

    def append(self, offset: int, position: int) -> None:
        _check_relative(self.path, offset - self.base_offset)
        self._write(offset - self.base_offset, position)
        if self._entry_count is not None:
            self._entry_count += 1
        if self._loaded:
            self._offsets.append(offset)
            self._positions.append(position)

    def lookup(self, offset: int, log_size: int) -> tuple[int, int]:
        """(offset, position) of the last entry at or before `offset`, else the segment start."""
        self.load(log_size)
        index = bisect.bisect_right(self._offsets, offset) - 1
        if index < 0:
            return self.base_offset, 0
        return self._offsets[index], self._positions[index]

    def last_entry(self) -> tuple[int, int] | None:
        """(offset, position) of the last entry, without loading the whole index."""
        if self._loaded:
            return (self._offsets[-1], self._positions[-1]) if self._offsets else None
        entry = self.read_last_entry()
        if entry is None:
            return None
        return self.base_offset + entry[0], entry[1]


class TimeIndex(_IndexFile):
    entry = TIME_ENTRY

    def __init__(self, path: str, base_offset: int) -> None:
        super().__init__(path)
        self.base_offset = base_offset
        self._timestamps: list[int] = []
        self._offsets: list[int] = []

    def _clear(self) -> None:
        self._timestamps = []
        self._offsets = []

    def load(self, next_offset: int) -> None:
        if self._loaded:
            return
        timestamps: list[int] = []
        offsets: list[int] = []
        for timestamp, relative in TIME_ENTRY.iter_unpack(self._read_all()):
            offset = self.base_offset + relative
            if timestamps and (timestamp <= timestamps[-1] or offset < offsets[-1]):
                raise CorruptIndexError(f"{self.path}: entries out of order")
            if offset >= next_offset:
                raise CorruptIndexError(f"{self.path}: offset {offset} past the log end")
            timestamps.append(timestamp)
            offsets.append(offset)
        self._timestamps, self._offsets = timestamps, offsets
        self._loaded = True

    def last_entry(self) -> tuple[int, int] | None:
        """(timestamp, offset) of the last entry, without loading the whole index."""
        if self._loaded:
            return (self._timestamps[-1], self._offsets[-1]) if self._timestamps else None
        entry = self.read_last_entry()
        if entry is None:
            return None
        return entry[0], self.base_offset + entry[1]

    def maybe_append(self, timestamp: int, offset: int) -> None:
        """Append unless `timestamp` does not pass the last entry (entries stay increasing)."""
        last = self.last_entry()
        if timestamp <= (NO_TIMESTAMP if last is None else last[0]):
            return
        _check_relative(self.path, offset - self.base_offset)
        self._write(timestamp, offset - self.base_offset)
        if self._loaded:
            self._timestamps.append(timestamp)
            self._offsets.append(offset)

    def lookup(self, timestamp: int, next_offset: int) -> int:
        """Offset of the last entry with timestamp <= `timestamp`, else the segment start."""
        self.load(next_offset)
        index = bisect.bisect_right(self._timestamps, timestamp) - 1
        return self._offsets[index] if index >= 0 else self.base_offset
