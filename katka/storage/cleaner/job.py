"""One cleaning of one partition log, run in the cleaner's process (disk) or thread (memory).

Theory of operation: the event loop captures a `CleaningJob` (segment sources that read
closed segments through their own descriptors, the cleanable range, aborted transactions,
each producer's last batch; picklable for the disk engine); `CleaningJob.run` reads and
writes only files the loop never touches (the closed segments it reads, the `.cleaned`
segments it writes, fsynced before it returns) and returns a `CleaningResult`; the loop then
swaps the cleaned segments in (service.complete_cleaning). Nothing here reads or writes log
state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from katka.protocol.batches import read_header
from katka.storage.cleaner.plan import (
    AbortedRange,
    CleanableRange,
    OffsetMap,
    RetentionRules,
    group_segments,
)
from katka.storage.cleaner.segments import CleanedWriter, SegmentSource
from katka.storage.disk import faults

if TYPE_CHECKING:
    from katka.storage.cleaner.passes import LiveOffsets

logger = logging.getLogger("katka.cleaner")


@dataclass
class CleaningStats:
    topic: str
    partition: int
    first_dirty_offset: int = 0
    end_offset: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    keys: int = 0
    records_read: int = 0
    records_kept: int = 0
    segments_in: int = 0
    segments_out: int = 0
    duration_ms: float = 0.0
    cpu_ms: float = 0.0  # the cleaning thread's CPU time (the machine's load aside)
    completed_at_ms: int = 0
    peak_rss_bytes: int = 0  # the cleaner process's (0: cleaned on a thread of the broker)

    def as_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "first_dirty_offset": self.first_dirty_offset,
            "end_offset": self.end_offset,
            "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written,
            "keys": self.keys,
            "records_read": self.records_read,
            "records_kept": self.records_kept,
            "segments_in": self.segments_in,
            "segments_out": self.segments_out,
            "duration_ms": round(self.duration_ms, 1),
            "cpu_ms": round(self.cpu_ms, 1),
            "completed_at_ms": self.completed_at_ms,
            "peak_rss_bytes": self.peak_rss_bytes,
        }


@dataclass
class CleanedGroup:
    base_offsets: list[int]
    writer: CleanedWriter


@dataclass
class CleaningResult:
    groups: list[CleanedGroup]
    end_offset: int  # the new cleaned point
    stats: CleaningStats

    def discard(self) -> None:
        for group in self.groups:
            group.writer.discard()


YIELD_EVERY_S = 0.001


class CleaningCancelled(Exception):
    """The broker is shutting down: the cleaning stops, its files are discarded."""


class Throttle:
    """log.cleaner.io.max.bytes.per.second: sleep so the cleaner's I/O stays under it."""

    def __init__(self, max_bytes_per_second: float, share_gil: bool = True) -> None:
        self.rate = max_bytes_per_second
        self.share_gil = share_gil  # a thread of the broker's process (not its own process)
        self._start = time.monotonic()
        self._bytes = 0
        self._last_yield = time.perf_counter()

    def account(self, size: int) -> None:
        """Called once per run of batches; on a thread of the broker's process also hands the
        GIL over every millisecond of work, so the event loop waits about that long for it,
        not the interpreter's 5 ms switch interval (a yield per batch costs a system call
        each and halves throughput)."""
        self._bytes += size
        now = time.perf_counter()
        if self.share_gil and now - self._last_yield >= YIELD_EVERY_S:
            time.sleep(0)
            self._last_yield = time.perf_counter()
        if self.rate >= 1e300:
            return
        ahead = self._bytes / self.rate - (time.monotonic() - self._start)
        if ahead > 0:
            time.sleep(ahead)


@dataclass
class CleaningJob:
    topic: str
    partition: int
    sources: list[SegmentSource]  # every closed segment below the first uncleanable offset
    cleanable: CleanableRange
    delete_horizon_ms: int
    dedupe_buffer_bytes: int
    segment_bytes: int
    new_writer: Callable[[int], CleanedWriter]
    aborted: Sequence[AbortedRange] = ()
    last_batch_of_producer: dict[int, int] = field(default_factory=dict)
    max_io_bytes_per_second: float = float("inf")
    cancelled: bool = False  # set from the loop at shutdown: the thread stops at a batch
    in_process: bool = False  # runs in the cleaner's own process (picklable: disk engine)

    def release(self) -> None:
        for source in self.sources:
            source.release()

    def run(self) -> CleaningResult:
        # numpy (passes.py, columns.py) is imported where a cleaning runs, never by the
        # broker's process at start-up: the disk engine's cleanings run in their own process.
        from katka.storage.cleaner.passes import LiveOffsets

        started, cpu_started = time.monotonic(), time.thread_time()
        stats = CleaningStats(self.topic, self.partition, self.cleanable.first_dirty_offset)
        throttle = Throttle(self.max_io_bytes_per_second, share_gil=not self.in_process)
        groups: list[CleanedGroup] = []
        try:
            offset_map = self._build_offset_map(stats, throttle)
            stats.keys = len(offset_map)
            end = offset_map.end_offset
            stats.end_offset = end
            faults.cleaner_step("map-built")
            rules = RetentionRules(
                offset_map, self.delete_horizon_ms, self.aborted, self.last_batch_of_producer
            )
            live = LiveOffsets(offset_map)
            to_clean = [s for s in self.sources if s.info.base_offset < end]
            by_base = {s.info.base_offset: s for s in to_clean}
            for group in group_segments([s.info for s in to_clean], self.segment_bytes):
                writer = self.new_writer(group[0].base_offset)
                groups.append(CleanedGroup([info.base_offset for info in group], writer))
                for info in group:
                    source = by_base[info.base_offset]
                    self._clean_segment(source, rules, live, writer, stats, throttle)
                writer.finish(max(info.last_modified_ms for info in group))
                stats.segments_in += len(group)
                stats.segments_out += 1
            faults.cleaner_step("segments-written")
        except BaseException:
            for group_written in groups:
                group_written.writer.discard()
            raise
        finally:
            self.release()
        stats.duration_ms = (time.monotonic() - started) * 1000
        stats.cpu_ms = (time.thread_time() - cpu_started) * 1000
        return CleaningResult(groups, stats.end_offset, stats)

    def _run_bytes(self) -> int:
        from katka.storage.cleaner.passes import RUN_BYTES, THREAD_RUN_BYTES  # numpy: see run

        return RUN_BYTES if self.in_process else THREAD_RUN_BYTES

    def _check_cancelled(self) -> None:
        if self.cancelled:
            raise CleaningCancelled(f"{self.topic}-{self.partition}")

    def _build_offset_map(self, stats: CleaningStats, throttle: Throttle) -> OffsetMap:
        """Latest offset per key over the dirty part, stopping at a batch boundary when the
        map is full (the next cleaning goes on from there)."""
        from katka.storage.cleaner import passes  # numpy: see run

        offset_map = OffsetMap(self.dedupe_buffer_bytes)
        first_dirty = self.cleanable.first_dirty_offset
        end = self.cleanable.first_uncleanable_offset
        offset_map.end_offset = end
        rules = RetentionRules(offset_map, 0, self.aborted)
        for source in self.sources:
            if source.info.next_offset <= first_dirty or source.info.base_offset >= end:
                continue
            for run in passes.runs(source.batches(), self._run_bytes()):
                self._check_cancelled()
                wanted = []
                past_end = False
                for header, batch in run:
                    stats.bytes_read += header.size
                    if header.last_offset < first_dirty:
                        continue
                    if header.base_offset >= end:  # the last stable offset, within a segment
                        past_end = True
                        break
                    if header.is_control or rules.is_aborted(header):
                        continue
                    wanted.append((header, batch))
                throttle.account(sum(header.size for header, _ in run))
                put = passes.put_run(offset_map, wanted)
                if put < len(wanted):
                    offset_map.end_offset = wanted[put][0].base_offset
                    return offset_map
                if past_end:
                    break
        return offset_map

    def _clean_segment(
        self,
        source: SegmentSource,
        rules: RetentionRules,
        live: LiveOffsets,
        writer: CleanedWriter,
        stats: CleaningStats,
        throttle: Throttle,
    ) -> None:
        from katka.storage.cleaner import passes  # numpy: see run

        retain_deletes = source.info.last_modified_ms > rules.delete_horizon_ms
        first_dirty = self.cleanable.first_dirty_offset
        for run in passes.runs(source.batches(), self._run_bytes()):
            self._check_cancelled()
            decided = passes.clean_run(run, rules, live, first_dirty, retain_deletes)
            io_bytes = 0
            for (header, batch), (kept_batch, kept_count) in zip(run, decided, strict=True):
                stats.bytes_read += header.size
                stats.records_read += header.record_count
                stats.records_kept += kept_count
                io_bytes += header.size
                if kept_batch is None:
                    continue
                written = header if kept_batch is batch else read_header(kept_batch)
                writer.append(kept_batch, written._replace(position=0))
                stats.bytes_written += len(kept_batch)
                io_bytes += len(kept_batch)
            throttle.account(io_bytes)
