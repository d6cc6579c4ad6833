"""Compaction (katka only, no peer has a comparable cleaner here): the log cleaner's
throughput over a compacted partition of 100-byte records with 10% live keys, how late the
event loop's timers run while a cleaning is under way (in-process: the cleaner works on its
own thread, the loop only swaps the result in), and the end-to-end latency workload at
5,000 records/s against `katka serve` while it cleans such a partition.

The partition is written through the disk engine's append path, rolled every 16 MiB, flushed,
then cleaned once by `LogCleaner.clean_once` while a 1 ms ticker measures loop lateness. For
the latency run the same partition is written into a data directory (through the broker's
own topic manager, then closed cleanly) that `katka serve` then opens and cleans.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from typing import Any

from bench import workloads
from bench.brokers import BrokerSpec, start_broker
from bench.settings import Settings
from katka.broker import Broker
from katka.config import BrokerConfig
from katka.node import Endpoint
from katka.protocol.batches import validate_produce_records
from katka.protocol.records import build_batch
from katka.storage.base import LogConfig
from katka.storage.cleaner.service import CleanerConfig, LogCleaner
from katka.storage.disk import DiskStorageEngine

RECORD_BYTES = 100
BATCH_RECORDS = 100
LIVE_KEYS = 0.10


def _write(log: Any, records: int) -> None:
    keys = max(int(records * LIVE_KEYS), 1)
    value = b"v" * (RECORD_BYTES - 12)
    now = int(time.time() * 1000)
    for start in range(0, records, BATCH_RECORDS):
        batch = build_batch(
            [
                (f"key-{(start + i) % keys:09d}".encode(), value, (), now)
                for i in range(min(BATCH_RECORDS, records - start))
            ]
        )
        log.append(batch, validate_produce_records(batch, 1 << 24), now)
    log.roll()
    log.flush()


async def _clean_while_ticking(log: Any) -> tuple[Any, list[float]]:
    cleaner = LogCleaner(CleanerConfig(), lambda: int(time.time() * 1000))
    lateness: list[float] = []
    done = False

    async def tick() -> None:
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            lateness.append((time.perf_counter() - before - 0.001) * 1000)

    ticker = asyncio.create_task(tick())
    try:
        stats = await cleaner.clean_once([log], log)
    finally:
        done = True
        await ticker
        cleaner.close()
    return stats, lateness


def compaction(settings: Settings) -> list[dict[str, Any]]:
    records = 200_000 if settings.quick else 1_000_000
    directory = tempfile.mkdtemp(prefix="katka-bench-compaction-")
    try:
        engine = DiskStorageEngine(directory)
        config = LogConfig(segment_bytes=16 * 2**20, compact=True, delete=False)
        log = engine.open_log("compacted", 0, config)
        _write(log, records)
        size = log.size_bytes
        stats, lateness = asyncio.run(_clean_while_ticking(log))
        engine.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    seconds = stats.duration_ms / 1000
    lateness.sort()
    return [
        {
            "workload": "compaction",
            "variant": "100B, 10% live keys",
            "records": records,
            "log_mb": round(size / 2**20, 1),
            # MB of log cleaned per second (the job reads the dirty part twice: map, rewrite)
            "cleaned_mb_per_s": round(size / 2**20 / seconds, 2),
            "records_per_s": round(stats.records_read / seconds),
            "seconds": round(seconds, 2),
            "bytes_out_mb": round(stats.bytes_written / 2**20, 1),
            "keys": stats.keys,
            "loop_lateness_p99_ms": round(lateness[int(len(lateness) * 0.99)], 2),
            "loop_lateness_max_ms": round(lateness[-1], 2),
            "loop_lateness_median_ms": round(statistics.median(lateness), 3),
        }
    ]


def _prepare_data_dir(directory: str, records: int) -> None:
    """A data directory holding topic `compacted` (one partition, all of it dirty)."""
    from pathlib import Path

    broker = Broker(BrokerConfig(), Path(directory), Endpoint("127.0.0.1", 0))
    broker.open()
    broker.topics.create_topic(
        "compacted", 1, {"cleanup.policy": "compact", "segment.bytes": str(16 * 2**20)}
    )
    _write(broker.topics.get_log("compacted", 0), records)
    broker.storage.close()


def latency_while_cleaning(settings: Settings) -> list[dict[str, Any]]:
    records = 200_000 if settings.quick else 1_000_000
    directory = tempfile.mkdtemp(prefix="katka-bench-cleaning-")
    try:
        _prepare_data_dir(directory, records)
        spec = BrokerSpec(
            "katka", "katka", "kafka", ("latency",), extra_args=("-o", "log.cleaner.backoff.ms=100")
        )
        broker, _ = start_broker(spec, data_dir=directory)
        try:
            rows = workloads.latency(broker, settings)
        finally:
            broker.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return [
        {**row, "workload": "compaction-latency", "variant": f"{row['variant']}, cleaning"}
        for row in rows
    ]
