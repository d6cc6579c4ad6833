"""Shared helpers for the storage tests: an engine harness per engine kind, and `produce`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from katka.protocol.batches import validate_produce_records
from katka.protocol.records import Record, build_batch, decode_records
from katka.storage.base import AppendInfo, LogConfig, PartitionLog, StorageEngine
from katka.storage.disk import DiskStorageEngine
from katka.storage.memory import MemoryStorageEngine

MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class EngineHarness:
    """Opens logs on one engine kind and can restart the engine (cleanly or by 'crashing')."""

    def __init__(self, kind: str, data_dir: Path) -> None:
        self.kind = kind
        self.data_dir = data_dir
        self.engine: StorageEngine = self._new_engine()

    def _new_engine(self) -> StorageEngine:
        if self.kind == "memory":
            return MemoryStorageEngine()
        return DiskStorageEngine(self.data_dir)

    def open(
        self, config: LogConfig | None = None, topic: str = "orders.v1_x-y", partition: int = 3
    ) -> Any:
        return self.engine.open_log(topic, partition, config or LogConfig())

    def restart(self) -> None:
        """Clean shutdown and start-up (the memory engine keeps its logs: nothing to lose)."""
        if self.kind == "memory":
            return
        self.engine.close()
        self.engine = self._new_engine()

    def crash(self) -> None:
        """Drop the engine without flushing or marking a clean shutdown (as kill -9 would)."""
        if self.kind == "memory":
            return
        assert isinstance(self.engine, DiskStorageEngine)
        for log in self.engine._logs.values():
            log.close_files()
        self.engine.lock.release()  # the kernel drops a dead process's lock
        self.engine = self._new_engine()


def produce(
    log: PartitionLog,
    records: Sequence[tuple[bytes | None, bytes | None, int]] | int,
    now_ms: int = 1_000_000,
    timestamp_ms: int = 1_000,
    **batch_options: Any,
) -> AppendInfo:
    """Append one batch; `records` is a count (values b"v{i}") or (key, value, timestamp)s."""
    if isinstance(records, int):
        records = [(None, f"v{i}".encode(), timestamp_ms) for i in range(records)]
    batch = build_batch([(key, value, (), ts) for key, value, ts in records], **batch_options)
    return log.append(batch, validate_produce_records(batch, MAX_MESSAGE_BYTES), now_ms)


def read_all(log: PartitionLog, start: int | None = None) -> list[Record]:
    start = log.log_start_offset if start is None else start
    data = log.read(start, 2**31 - 1, log.high_watermark, True)
    return decode_records(data)


Producer = Callable[..., AppendInfo]
