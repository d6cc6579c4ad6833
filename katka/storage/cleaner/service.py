"""The log cleaner: picks the dirtiest compacted log, cleans it off the event loop, swaps the
result in on the loop (Kafka's LogCleaner and LogCleanerManager, one cleaner).

Theory of operation: `clean_once` runs on the loop. It measures every compacted log
(`cleaner_view`, plan.py's rules), captures a `CleaningJob` for the dirtiest one that needs
cleaning (`begin_cleaning`), awaits `job.run` in the cleaner's own process (worker.py; the
memory engine's jobs on a thread), and hands the result to `complete_cleaning` on the loop,
which swaps each cleaned segment in (if the log still holds the segments it replaces) and
moves the cleaned point. Produce and fetch keep running on the loop meanwhile: the job reads
closed segments only, through descriptors the loop opened for it, and writes only files the
loop does not know yet. The loop stays the one owner of log state (DESIGN.md rule 2); it pays
for the swap only (renames, two directory fsyncs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pickle
import sys
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from katka.storage.base import PartitionLog
from katka.storage.cleaner.job import (
    CleaningCancelled,
    CleaningJob,
    CleaningResult,
    CleaningStats,
)
from katka.storage.cleaner.plan import (
    AbortedRange,
    CleanableRange,
    SegmentInfo,
    cleanable_range,
    delete_horizon_ms,
    needs_cleaning,
)
from katka.storage.disk import faults
from katka.storage.segmented import SegmentedLog

logger = logging.getLogger("katka.cleaner")


@dataclass(frozen=True, slots=True)
class CleanerConfig:
    enabled: bool = True  # log.cleaner.enable
    backoff_ms: int = 15_000  # log.cleaner.backoff.ms
    dedupe_buffer_bytes: int = 128 * 1024 * 1024  # log.cleaner.dedupe.buffer.size
    max_io_bytes_per_second: float = float("inf")  # log.cleaner.io.max.bytes.per.second


def segment_infos(log: SegmentedLog) -> list[SegmentInfo]:
    return [
        SegmentInfo(
            segment.base_offset,
            segment.next_offset,
            segment.size_bytes,
            segment.max_timestamp,
            segment.last_modified_ms,
        )
        for segment in log.segments
    ]


def cleaner_view(log: SegmentedLog, now_ms: int) -> tuple[list[SegmentInfo], CleanableRange]:
    """The log's segments and its clean/dirty split (also what `topic describe` shows)."""
    segments = segment_infos(log)
    config = log.config
    return segments, cleanable_range(
        segments,
        log.cleaned_point,
        log.log_start_offset,
        log.last_stable_offset,
        log.recovery_point,
        config.min_compaction_lag_ms,
        now_ms,
    )


def begin_cleaning(
    log: SegmentedLog, now_ms: int, config: CleanerConfig, force: bool = False
) -> CleaningJob | None:
    """On the loop: the job that cleans `log` now, or None when it need not be cleaned."""
    segments, cleanable = cleaner_view(log, now_ms)
    if cleanable.dirty_bytes == 0:
        return None
    if not force and not needs_cleaning(
        cleanable,
        segments,
        log.config.min_cleanable_dirty_ratio,
        log.config.max_compaction_lag_ms,
        now_ms,
    ):
        return None
    end = cleanable.first_uncleanable_offset
    closed = [segment for segment in log.segments[:-1] if segment.base_offset < end]
    producers = log.producer_state.producers
    aborted = [
        AbortedRange(txn.producer_id, txn.first_offset, txn.last_offset)
        for txn in log.aborted_transactions(log.log_start_offset, end)
    ]
    return CleaningJob(
        log.topic,
        log.partition,
        [log._cleaning_source(segment) for segment in closed],
        cleanable,
        delete_horizon_ms(segments, cleanable.first_dirty_offset, log.config.delete_retention_ms),
        config.dedupe_buffer_bytes,
        log.config.segment_bytes,
        log._cleaned_writer_factory(),
        aborted,
        {pid: entry.last_offset for pid, entry in producers.items() if entry.last_offset >= 0},
        config.max_io_bytes_per_second,
        in_process=log._cleaning_in_process,
    )


def complete_cleaning(log: SegmentedLog, result: CleaningResult, now_ms: int) -> bool:
    """On the loop: swap the cleaned segments in; False when the log changed under the
    cleaning (its files are discarded, a later cleaning starts over)."""
    if log.is_closed:  # deleted or shut down meanwhile: its directory may be gone
        result.discard()
        return False
    # Segments below `gaps_below` may have offset gaps, which recovery must not take for
    # corruption: it moves (and is persisted) before any swap, the cleaned point after them.
    if result.end_offset > log.gaps_below:
        log.gaps_below = result.end_offset
        log._on_cleaned_point_changed()
    by_base = {segment.base_offset: segment for segment in log.segments}
    installed = True
    for group in result.groups:
        old = [by_base.get(base) for base in group.base_offsets]
        segments = [segment for segment in old if segment is not None]
        if len(segments) != len(old) or not log.replace_segments(segments, group.writer):
            group.writer.discard()
            installed = False
    if installed and result.end_offset > log.cleaned_point:
        log.cleaned_point = result.end_offset
        log._on_cleaned_point_changed()
    result.stats.completed_at_ms = now_ms
    return installed


class LogCleaner:
    def __init__(
        self, config: CleanerConfig | Callable[[], CleanerConfig], now_ms: Callable[[], int]
    ) -> None:
        # A callable: the broker's configs may change at run time (log.cleaner.backoff.ms, ...
        # are dynamic in Kafka); each cleaning reads them afresh.
        self._config = config
        self._now_ms = now_ms
        self._executor: ThreadPoolExecutor | None = None
        self._worker: asyncio.subprocess.Process | None = None  # the cleaner's process
        self.history: deque[CleaningStats] = deque(maxlen=100)
        self.running: CleaningJob | None = None
        self._closed = False

    @property
    def config(self) -> CleanerConfig:
        return self._config if isinstance(self._config, CleanerConfig) else self._config()

    def _thread(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="katka-cleaner")
        return self._executor

    async def _run(self, job: CleaningJob) -> CleaningResult:
        loop = asyncio.get_running_loop()
        if not job.in_process:
            return await loop.run_in_executor(self._thread(), job.run)
        try:  # the descriptors stay open here: the worker reads through /proc
            portable = dataclasses.replace(
                job, sources=[dataclasses.replace(s, release=_nothing) for s in job.sources]
            )
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "katka.storage.cleaner.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            self._worker = worker
            try:
                output, _ = await worker.communicate(pickle.dumps(portable))
            finally:
                self._worker = None
                if worker.returncode is None:
                    worker.kill()
                    await worker.wait()
        finally:
            job.release()
        if self._closed:
            raise CleaningCancelled(f"{job.topic}-{job.partition}")
        if worker.returncode != 0 or not output:
            raise RuntimeError(f"the cleaner process exited with {worker.returncode}")
        kind, value = pickle.loads(output)
        if kind != "ok":
            raise RuntimeError(f"cleaning {job.topic}-{job.partition} failed: {value}")
        assert isinstance(value, CleaningResult)
        return value

    def filthiest(self, logs: Sequence[PartitionLog]) -> CleaningJob | None:
        now_ms = self._now_ms()
        best: tuple[float, SegmentedLog] | None = None
        for log in logs:
            if not log.config.compact or not isinstance(log, SegmentedLog):
                continue
            segments, cleanable = cleaner_view(log, now_ms)
            if cleanable.dirty_bytes and needs_cleaning(
                cleanable,
                segments,
                log.config.min_cleanable_dirty_ratio,
                log.config.max_compaction_lag_ms,
                now_ms,
            ):
                if best is None or cleanable.dirty_ratio > best[0]:
                    best = (cleanable.dirty_ratio, log)
        if best is None:
            return None
        return begin_cleaning(best[1], now_ms, self.config)

    async def clean_once(
        self, logs: Sequence[PartitionLog], log: SegmentedLog | None = None
    ) -> CleaningStats | None:
        """Clean the dirtiest log needing it (or `log`, whatever its ratio); None if none."""
        if self._closed:
            return None
        job = (
            begin_cleaning(log, self._now_ms(), self.config, force=True)
            if log is not None
            else self.filthiest(logs)
        )
        if job is None:
            return None
        target = log or next(
            candidate
            for candidate in logs
            if candidate.topic == job.topic and candidate.partition == job.partition
        )
        assert isinstance(target, SegmentedLog)
        self.running = job
        try:
            result = await self._run(job)
        finally:
            self.running = None
        faults.cleaner_step("swap-ready")
        if not complete_cleaning(target, result, self._now_ms()):
            logger.info(
                "%s-%d: log changed during cleaning, retried later", job.topic, job.partition
            )
            return None
        stats = result.stats
        self.history.append(stats)
        logger.info(
            "cleaned %s-%d: offsets [%d, %d), %d bytes in, %d bytes out, %d keys, "
            "%d of %d records kept, %d segments into %d, %.1f ms, peak RSS %.0f MiB",
            stats.topic,
            stats.partition,
            stats.first_dirty_offset,
            stats.end_offset,
            stats.bytes_read,
            stats.bytes_written,
            stats.keys,
            stats.records_kept,
            stats.records_read,
            stats.segments_in,
            stats.segments_out,
            stats.duration_ms,
            stats.peak_rss_bytes / 2**20,
        )
        return stats

    async def run(self, logs: Callable[[], Sequence[PartitionLog]]) -> None:
        """The cleaner's loop: clean while logs need it, back off when none does."""
        while True:
            try:
                stats = await self.clean_once(logs())
            except CleaningCancelled:
                return
            except Exception:
                logger.exception("log cleaning failed")
                stats = None
            if self._closed:
                return
            if stats is None:
                await asyncio.sleep(self.config.backoff_ms / 1000)

    def close(self) -> None:
        """Stop: a cleaning under way stops at its next batch (its files are discarded)."""
        self._closed = True
        if self.running is not None:
            self.running.cancelled = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._worker is not None and self._worker.returncode is None:
            # The cleaning under way is abandoned: its .cleaned files go at the next start-up.
            self._worker.kill()


def _nothing() -> None:
    """A source's release in the cleaner's process (the broker's process releases them)."""
