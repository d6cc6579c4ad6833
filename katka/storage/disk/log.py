"""A partition log on disk: a directory of segments plus two small files (Kafka's LocalLog).

Theory of operation: `{dir}/partition.checkpoint` holds "log_start_offset recovery_point".
The recovery point is the offset below which everything is fsynced (segmented.py): it advances
when a flush completes, on the event loop, which is the only writer of the checkpoint. Recovery
scans whole segments from the one holding the recovery point, so the checkpoint is rewritten
only when the recovery point enters a later segment (and when the log start moves, and at
close): a flush within the active segment saves no recovery work. After an unclean shutdown only
the segments at or after the recovery point are scanned batch by batch with CRC (a torn or
corrupt tail is truncated and everything after it dropped); older segments are trusted and a
garbled byte there surfaces as CORRUPT_MESSAGE when read. After a clean shutdown nothing is
scanned but the headers after the active segment's last index entry.

`{dir}/producer.snapshot` (JSON) holds the producer state (idempotence, open and aborted
transactions) at the offset where it was taken (clean shutdown, segment roll); start-up loads it
lazily and replays the batch headers after it,
or the whole log when there is no usable snapshot.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from katka.errors import ErrorCode, KafkaError
from katka.storage.base import FlushPlan, LogConfig
from katka.storage.disk import cleaning, faults
from katka.storage.disk.files import write_file_atomically
from katka.storage.disk.segment import LogSegment
from katka.storage.log_segment import Segment
from katka.storage.producer_state import ProducerStateManager
from katka.storage.segmented import SegmentedLog

if TYPE_CHECKING:
    from katka.storage.cleaner.segments import CleanedWriter, SegmentSource

logger = logging.getLogger("katka.storage")

CHECKPOINT_FILE = "partition.checkpoint"
PRODUCER_SNAPSHOT_FILE = "producer.snapshot"
CLEANER_CHECKPOINT_FILE = "cleaner.checkpoint"  # the cleaned point (Kafka's per data dir)


class DiskPartitionLog(SegmentedLog):
    segments: list[Segment]

    def __init__(self, topic: str, partition: int, config: LogConfig, directory: str) -> None:
        super().__init__(topic, partition, config)
        self.directory = directory
        self._checkpointed_recovery_point = 0
        self._reported_corruption: set[str] = set()

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        topic: str,
        partition: int,
        config: LogConfig,
        directory: str,
        clean: bool,
        verify_all: bool = False,
    ) -> DiskPartitionLog:
        """Create the directory or load it; `clean` says the previous run closed cleanly.

        `verify_all` scans every segment with CRC at open, clean shutdown or not, and truncates
        at the first bad batch: for logs that are replayed whole at start-up (the coordinator's),
        where a corrupt batch met during replay would stop the broker from starting.
        """
        log = cls(topic, partition, config, directory)
        os.makedirs(directory, exist_ok=True)
        log._load(clean and not verify_all, verify_all)
        return log

    def _segment(self, base_offset: int, size: int = 0) -> LogSegment:
        return LogSegment(
            self.directory,
            base_offset,
            self.config.index_interval_bytes,
            self.config.segment_index_bytes,
            size=size,
        )

    def _new_segment(self, base_offset: int) -> LogSegment:
        return LogSegment.create(
            self.directory,
            base_offset,
            self.config.index_interval_bytes,
            self.config.segment_index_bytes,
        )

    def _load(self, clean: bool, verify_all: bool = False) -> None:
        cleaning.recover_cleaning(self.directory)
        self.cleaned_point, self.gaps_below = self._read_cleaner_checkpoint()
        log_sizes: dict[int, int] = {}
        names: set[str] = set()
        with os.scandir(self.directory) as entries:
            for entry in entries:
                names.add(entry.name)
                stem, _, suffix = entry.name.partition(".")
                if suffix == "log" and stem.isdigit():
                    log_sizes[int(stem)] = entry.stat().st_size
                elif entry.name.endswith(".tmp"):
                    os.unlink(entry.path)
        log_start_offset, self._recovery_point = self._read_checkpoint()
        if verify_all:
            self._recovery_point = 0
        self._checkpointed_recovery_point = self._recovery_point
        segments: list[LogSegment] = []
        for base_offset in sorted(log_sizes):
            segment = self._segment(base_offset, log_sizes[base_offset])
            segment.may_have_gaps = base_offset < self.gaps_below
            index_name = os.path.basename(segment.offset_index.path)
            time_index_name = os.path.basename(segment.time_index.path)
            segment.indexes_need_rebuild = bool(log_sizes[base_offset]) and not (
                index_name in names and time_index_name in names
            )
            if segments:
                segments[-1].next_offset = base_offset
                segments[-1].sealed = True
            segments.append(segment)
        if not segments:
            segments.append(self._new_segment(log_start_offset))
        elif clean and segments[-1].load_active():
            pass
        else:
            segments = self._recover(segments)
        self._set_segments(list(segments))
        self._log_start_offset = min(
            max(log_start_offset, segments[0].base_offset), self.log_end_offset
        )
        self._recovery_point = min(self._recovery_point, self.log_end_offset)

    def _recover(self, segments: list[LogSegment]) -> list[LogSegment]:
        """Scan the segments holding offsets at or after the recovery point; truncate the first
        torn or corrupt batch and drop every later segment."""
        first = 0
        for index, segment in enumerate(segments):
            if segment.base_offset <= self._recovery_point:
                first = index
        for index in range(first, len(segments)):
            segment = segments[index]
            expected_next = segments[index + 1].base_offset if index + 1 < len(segments) else None
            truncated = segment.recover()
            if truncated:
                logger.warning(
                    "%s: truncated %d bytes of torn or corrupt data after offset %d",
                    segment.log_path,
                    truncated,
                    segment.next_offset,
                )
            if expected_next is not None:
                # Less than expected with nothing truncated: the cleaner removed the last
                # batches of this (closed, cleaned) segment, its offsets end in a gap.
                if segment.next_offset == expected_next or (
                    not truncated and segment.next_offset < expected_next
                ):
                    segment.next_offset = expected_next
                    segment.close_for_appends()
                    continue
                segment.sealed = False  # it is the active segment now
                for dropped in segments[index + 1 :]:
                    logger.warning("%s: deleted, it follows a truncated segment", dropped.log_path)
                    dropped.delete()
                del segments[index + 1 :]
                break
        return segments

    def _read_checkpoint(self) -> tuple[int, int]:
        try:
            with open(os.path.join(self.directory, CHECKPOINT_FILE), "rb") as file:
                log_start_offset, recovery_point = (int(field) for field in file.read().split())
        except (FileNotFoundError, ValueError):
            return 0, 0
        return log_start_offset, recovery_point

    def _write_checkpoint(self) -> None:
        data = f"{self._log_start_offset} {self._recovery_point}\n".encode()
        write_file_atomically(os.path.join(self.directory, CHECKPOINT_FILE), data)
        self._checkpointed_recovery_point = self._recovery_point

    # --- hooks ---------------------------------------------------------------------------------

    def _cleaning_source(self, segment: Segment) -> SegmentSource:
        assert isinstance(segment, LogSegment)
        return cleaning.segment_source(segment)

    def _cleaned_writer_factory(self) -> Callable[[int], CleanedWriter]:
        return functools.partial(
            cleaning.DiskCleanedWriter,
            self.directory,
            self.config.index_interval_bytes,
            self.config.segment_index_bytes,
        )

    @property
    def _cleaning_in_process(self) -> bool:
        # Files only: the cleaner's own process can do the work, reading the loop's descriptors
        # through /proc (Linux); elsewhere a thread.
        return os.path.isdir("/proc/self/fd")

    def _install_cleaned(self, old: Sequence[Segment], writer: CleanedWriter) -> Segment:
        assert isinstance(writer, cleaning.DiskCleanedWriter)
        replaced = [segment for segment in old if isinstance(segment, LogSegment)]
        cleaning.install(self.directory, replaced, writer)
        cleaned = self._segment(old[0].base_offset, writer.segment.size_bytes)
        cleaned.next_offset = old[-1].next_offset
        cleaned.sealed = True
        cleaned.may_have_gaps = True
        return cleaned

    def _read_cleaner_checkpoint(self) -> tuple[int, int]:
        """(cleaned point, gaps below): see cleaner/service.py complete_cleaning."""
        try:
            with open(os.path.join(self.directory, CLEANER_CHECKPOINT_FILE), "rb") as file:
                cleaned_point, gaps_below = (int(field) for field in file.read().split())
        except (OSError, ValueError):
            return 0, 0
        return cleaned_point, max(gaps_below, cleaned_point)

    def _on_cleaned_point_changed(self) -> None:
        write_file_atomically(
            os.path.join(self.directory, CLEANER_CHECKPOINT_FILE),
            f"{self.cleaned_point} {self.gaps_below}\n".encode(),
        )

    def _delete_segment_files(self, segment: Segment) -> None:
        assert isinstance(segment, LogSegment)
        segment.delete()

    def _on_roll(self, closed: Segment) -> None:
        assert isinstance(closed, LogSegment)
        closed.close_for_appends()
        # As Kafka does at every roll: after a crash, start-up replays only the segment after
        # it, and the state of producers whose batches retention deletes is not lost. Not
        # fsynced, and a failure only costs a longer replay: a torn or stale snapshot is
        # detected at load (bad JSON, or an offset past the recovered log end) and ignored.
        try:
            self._write_producer_snapshot(fsync=False)
        except OSError as exc:
            logger.warning("%s: producer snapshot not written at roll: %s", self.directory, exc)

    def _on_log_start_offset_changed(self) -> None:
        self._write_checkpoint()

    def _on_recovery_point_advanced(self) -> None:
        holding = self._base_offsets[self._segment_index_for(self._recovery_point)]
        if holding <= self._checkpointed_recovery_point:
            return
        try:
            self._write_checkpoint()
        except OSError as exc:  # the data is fsynced; an older checkpoint only costs recovery time
            logger.warning("%s: recovery point not checkpointed: %s", self.directory, exc)

    def _files_to_sync(self, segments: Sequence[Segment]) -> list[tuple[int, str]]:
        files: list[tuple[int, str]] = []
        try:
            for segment in segments:
                assert isinstance(segment, LogSegment)
                files.extend(segment.duplicate_descriptors())
        except BaseException:
            for fd, _path in files:
                os.close(fd)
            raise
        return files

    def begin_flush(self) -> FlushPlan:
        plan = super().begin_flush()
        plan.sync = faults.fsync
        return plan

    def _load_producer_state(self) -> ProducerStateManager:
        snapshot_offset, manager = self._read_producer_snapshot()
        if manager is None:
            return super()._load_producer_state()
        for segment in self.segments:
            if segment.next_offset > snapshot_offset:
                manager.replay(
                    segment.iter_headers(max(snapshot_offset, segment.base_offset)),
                    segment.read_batch,
                )
        manager.truncate_head(self._log_start_offset)
        return manager

    def _read_producer_snapshot(self) -> tuple[int, ProducerStateManager | None]:
        try:
            with open(os.path.join(self.directory, PRODUCER_SNAPSHOT_FILE), "rb") as file:
                snapshot = json.loads(file.read())
            offset = int(snapshot["offset"])
            if not self.segments[0].base_offset <= offset <= self.log_end_offset:
                return 0, None  # taken before data this log no longer has (or lost)
            return offset, ProducerStateManager.from_snapshot(snapshot["producers"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return 0, None

    def _write_producer_snapshot(self, fsync: bool = True) -> None:
        if self._producer_state is None:
            return  # never loaded: the snapshot on disk (if any) is still valid
        snapshot = {"offset": self.log_end_offset, "producers": self._producer_state.to_snapshot()}
        path = os.path.join(self.directory, PRODUCER_SNAPSHOT_FILE)
        data = json.dumps(snapshot).encode()
        if fsync:
            write_file_atomically(path, data)
            return
        faults.check_write(path + ".tmp")
        with open(path + ".tmp", "wb") as file:
            file.write(data)
        os.replace(path + ".tmp", path)

    # --- PartitionLog --------------------------------------------------------------------------

    def read(
        self, fetch_offset: int, max_bytes: int, max_offset: int, min_one_batch: bool
    ) -> bytes | memoryview:
        try:
            return super().read(fetch_offset, max_bytes, max_offset, min_one_batch)
        except KafkaError as error:
            if error.code == ErrorCode.corrupt_message:
                self._report_corruption(error)
            raise

    def _report_corruption(self, error: KafkaError) -> None:
        """One ERROR line per damaged batch (consumers retry the same fetch over and over)."""
        message = error.message or str(error)
        if message in self._reported_corruption:
            return
        if len(self._reported_corruption) < 1000:
            self._reported_corruption.add(message)
        logger.error(
            "%s-%d: CORRUPT_MESSAGE returned to fetches: %s; the data on disk is damaged "
            "(restore the partition from a copy, or DeleteRecords past it)",
            self.topic,
            self.partition,
            message,
        )

    @property
    def active_segment_on_disk(self) -> LogSegment:
        segment = self.segments[-1]
        assert isinstance(segment, LogSegment)
        return segment

    def close(self) -> None:
        """Record the final time index entry, flush, write the checkpoint and the producer
        snapshot, release fds."""
        active = self.active_segment_on_disk
        active.close_for_appends()
        self.flush()
        self._write_checkpoint()
        self._write_producer_snapshot()
        self.close_files()

    def close_files(self) -> None:
        """Release every file descriptor (the log may be reopened later); a flush round still
        under way holds its own duplicates and completes into nothing."""
        self._closed = True
        for segment in self.segments:
            assert isinstance(segment, LogSegment)
            segment.close()
