"""Cleaned segments on disk: written aside, swapped in, and leftovers recovered at start-up
(Kafka's `.cleaned` and `.swap` files).

Theory of operation: the cleaner's process writes a cleaned segment as `{base}.log.cleaned`
with its `.index.cleaned` and `.timeindex.cleaned` (the same index rule as appends), fsyncs
them and gives the file the last modification time of the segments it replaces (the delete
horizon counts from it). On the loop, the swap is:

1. `cleaning.json` names the base offsets of the segments being replaced (written atomically);
2. each `.cleaned` file is renamed `.swap`, the log file last: its `.log.swap` is the commit
   point; the directory is fsynced;
3. the replaced segments' files are deleted;
4. each `.swap` file is renamed to its final name; the directory is fsynced; `cleaning.json`
   is removed.

Start-up (`recover_cleaning`, before segments are listed) deletes every `.cleaned` file
(a cleaning that never committed: the old segments are whole) and, when a `.log.swap` is
there, finishes steps 3 and 4; `.swap` index files without a `.log.swap` are dropped. A
SIGKILL at any point therefore leaves either the old segments or the cleaned one, never both
and never neither.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from katka.protocol.batches import HEADER_SIZE, LOG_OVERHEAD, BatchHeader, read_header
from katka.storage.disk import faults
from katka.storage.disk.files import fsync_directory, write_file_atomically
from katka.storage.disk.segment import LogSegment, segment_file_name

if TYPE_CHECKING:  # the cleaner's code loads with the cleaner (recovery needs none of it)
    from katka.storage.cleaner.segments import SegmentSource

logger = logging.getLogger("katka.cleaner")

CLEANING_FILE = "cleaning.json"
CLEANED = ".cleaned"
SWAP = ".swap"
_READ_CHUNK = 1024 * 1024
_SEGMENT_SUFFIXES = (".log", ".index", ".timeindex")


def segment_source(segment: LogSegment) -> SegmentSource:
    """On the loop: a descriptor of its own on the closed segment's file (retention may
    unlink the file meanwhile; the descriptor still reads it) and its size now."""
    from katka.storage.cleaner.plan import SegmentInfo
    from katka.storage.cleaner.segments import SegmentSource

    fd = os.open(segment.log_path, os.O_RDONLY)
    info = SegmentInfo(
        segment.base_offset,
        segment.next_offset,
        segment.size_bytes,
        segment.max_timestamp,
        segment.last_modified_ms,
    )
    closed = False

    def release() -> None:
        nonlocal closed
        if not closed:
            closed = True
            os.close(fd)

    return SegmentSource(info, SegmentReader(os.getpid(), fd, segment.size_bytes), release)


@dataclass(frozen=True)
class SegmentReader:
    """The batches of a closed segment through the loop's descriptor: directly in the broker's
    process, through /proc/<pid>/fd/<fd> in the cleaner's process (picklable)."""

    pid: int
    fd: int
    size: int

    def __call__(self) -> Iterator[tuple[BatchHeader, memoryview]]:
        if os.getpid() == self.pid:
            yield from self._batches(self.fd)
            return
        fd = os.open(f"/proc/{self.pid}/fd/{self.fd}", os.O_RDONLY)
        try:
            yield from self._batches(fd)
        finally:
            os.close(fd)

    def _batches(self, fd: int) -> Iterator[tuple[BatchHeader, memoryview]]:
        size = self.size
        position = 0
        while position < size:
            chunk = memoryview(os.pread(fd, min(_READ_CHUNK, size - position), position))
            consumed = 0
            while len(chunk) - consumed >= HEADER_SIZE:
                header = read_header(chunk, consumed, position + consumed)
                batch_size = header.batch_length + LOG_OVERHEAD
                if consumed + batch_size > len(chunk):
                    if consumed == 0:  # one batch larger than a chunk
                        chunk = memoryview(os.pread(fd, batch_size, position))
                        continue
                    break
                yield header, chunk[consumed : consumed + batch_size]
                consumed += batch_size
            if consumed == 0:
                raise OSError(f"segment read through fd {self.fd}: unreadable batch at {position}")
            position += consumed


class DiskCleanedWriter:
    """A `.cleaned` segment written by the cleaner (picklable once finished)."""

    def __init__(self, directory: str, index_interval: int, index_bytes: int, base_offset: int):
        self.directory = directory
        self.segment = LogSegment.create(
            directory, base_offset, index_interval, index_bytes, suffix=CLEANED
        )

    def append(self, batch: bytes | memoryview, header: BatchHeader) -> None:
        self.segment.append((batch,), header)

    def finish(self, last_modified_ms: int) -> None:
        segment = self.segment
        segment.close_for_appends()
        for fd, path in segment.duplicate_descriptors():
            try:
                faults.fsync(fd, path)
            finally:
                os.close(fd)
        segment.close()
        seconds = last_modified_ms / 1000
        os.utime(segment.log_path, (seconds, seconds))

    def discard(self) -> None:
        self.segment.delete()

    @property
    def paths(self) -> list[str]:
        segment = self.segment
        # the log file last: its rename to .swap commits the swap
        return [segment.offset_index.path, segment.time_index.path, segment.log_path]


def install(directory: str, old: Sequence[LogSegment], writer: DiskCleanedWriter) -> None:
    """On the loop: steps 1-4 above. The caller then opens the segment by its final name."""
    write_cleaning_file(directory, [segment.base_offset for segment in old])
    faults.cleaner_step("swap-begin")
    swaps = []
    for path in writer.paths:
        swap = path[: -len(CLEANED)] + SWAP
        os.replace(path, swap)
        swaps.append(swap)
    fsync_directory(directory)
    faults.cleaner_step("swap-renamed")
    for segment in old:
        segment.delete()
    faults.cleaner_step("swap-deleted")
    for swap in swaps:
        os.replace(swap, swap[: -len(SWAP)])
    fsync_directory(directory)
    os.unlink(os.path.join(directory, CLEANING_FILE))


def write_cleaning_file(directory: str, base_offsets: list[int]) -> None:
    data = json.dumps({"replaced_base_offsets": base_offsets}).encode()
    write_file_atomically(os.path.join(directory, CLEANING_FILE), data)


def recover_cleaning(directory: str) -> None:
    """At start-up, before the segments are listed: finish or drop an interrupted swap."""
    names = os.listdir(directory)
    for name in names:
        if name.endswith(CLEANED):
            os.unlink(os.path.join(directory, name))
    swaps = [name for name in names if name.endswith(SWAP)]
    cleaning_file = os.path.join(directory, CLEANING_FILE)
    committed = any(name.endswith(".log" + SWAP) for name in swaps)
    if committed:
        try:
            with open(cleaning_file, "rb") as file:
                replaced = json.loads(file.read())["replaced_base_offsets"]
        except (OSError, ValueError, KeyError):
            replaced = []
            logger.error("%s: a .swap segment without %s", directory, CLEANING_FILE)
        for base_offset in replaced:
            for suffix in _SEGMENT_SUFFIXES:
                try:
                    os.unlink(os.path.join(directory, segment_file_name(base_offset, suffix)))
                except FileNotFoundError:
                    pass
        for name in swaps:
            os.replace(os.path.join(directory, name), os.path.join(directory, name[: -len(SWAP)]))
        logger.warning("%s: completed a cleaned segment swap interrupted by a crash", directory)
    else:
        for name in swaps:
            os.unlink(os.path.join(directory, name))
    if swaps or os.path.exists(cleaning_file):
        fsync_directory(directory)
        try:
            os.unlink(cleaning_file)
        except FileNotFoundError:
            pass
