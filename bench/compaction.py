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
import random
import shutil
import statistics
import tempfile
import threading
import time
from typing import Any

import psutil

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


def _batches(records: int, order: str) -> list[bytes]:
    """`records` 100 B records whose keys cover 10% of their count: "cyclic" writes the keys
    in turn (each batch's records are all superseded, or all live, at once), "random" draws
    every key (live records scattered through the batches)."""
    keys = max(int(records * LIVE_KEYS), 1)
    value = b"v" * (RECORD_BYTES - 12)
    now = int(time.time() * 1000)
    if order == "cyclic":  # the key space's batches, built once, written over and over
        distinct = [
            build_batch(
                [
                    (f"key-{(start + i) % keys:09d}".encode(), value, (), now)
                    for i in range(BATCH_RECORDS)
                ]
            )
            for start in range(0, keys, BATCH_RECORDS)
        ]
        return [distinct[index % len(distinct)] for index in range(records // BATCH_RECORDS)]
    draw = random.Random(1).randrange
    return [
        build_batch(
            [(f"key-{draw(keys):09d}".encode(), value, (), now) for _ in range(BATCH_RECORDS)]
        )
        for _ in range(records // BATCH_RECORDS)
    ]


def _write(log: Any, records: int, order: str = "cyclic") -> None:
    now = int(time.time() * 1000)
    for batch in _batches(records, order):
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
    return [_cleaning_row(records, order) for order in ("cyclic", "random")]


def _cleaning_row(records: int, order: str) -> dict[str, Any]:
    directory = tempfile.mkdtemp(prefix="katka-bench-compaction-")
    try:
        engine = DiskStorageEngine(directory)
        config = LogConfig(segment_bytes=16 * 2**20, compact=True, delete=False)
        log = engine.open_log("compacted", 0, config)
        _write(log, records, order)
        size = log.size_bytes
        stats, lateness = asyncio.run(_clean_while_ticking(log))
        engine.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    seconds = stats.duration_ms / 1000
    lateness.sort()
    return {
        "workload": "compaction",
        "variant": "100B, 10% live keys" + (", random keys" if order == "random" else ""),
        "records": records,
        "log_mb": round(size / 2**20, 1),
        # MB of log cleaned per second (the job reads the dirty part twice: map, rewrite),
        # timed inside the cleaner's process (not its start: about 0.5 s of imports)
        "cleaned_mb_per_s": round(size / 2**20 / seconds, 2),
        "records_per_s": round(stats.records_read / seconds),
        # the same per second of the cleaner's CPU time: what the machine's load does not move
        "cleaned_mb_per_cpu_s": round(size / 2**20 / (stats.cpu_ms / 1000), 2),
        "seconds": round(seconds, 2),
        "bytes_out_mb": round(stats.bytes_written / 2**20, 1),
        "keys": stats.keys,
        "cleaner_peak_rss_mb": round(stats.peak_rss_bytes / 2**20, 1),
        "dedupe_buffer_mb": round(CleanerConfig().dedupe_buffer_bytes / 2**20),
        "loop_lateness_p99_ms": round(lateness[int(len(lateness) * 0.99)], 2),
        "loop_lateness_max_ms": round(lateness[-1], 2),
        "loop_lateness_median_ms": round(statistics.median(lateness), 3),
    }


def _prepare_data_dir(directory: str, records: int) -> int:
    """A data directory holding topic `compacted` (one partition, all of it dirty); returns
    its size in bytes."""
    from pathlib import Path

    broker = Broker(BrokerConfig(), Path(directory), Endpoint("127.0.0.1", 0))
    broker.open()
    broker.topics.create_topic(
        "compacted", 1, {"cleanup.policy": "compact", "segment.bytes": str(16 * 2**20)}
    )
    log = broker.topics.get_log("compacted", 0)
    _write(log, records)
    size = int(log.size_bytes)
    broker.storage.close()
    return size


class CleanerWatch:
    """Samples the broker's cleaner processes every 50 ms: whether one is running, and the
    largest resident set (VmHWM) any of them reached."""

    def __init__(self, broker_pid: int) -> None:
        self.broker = psutil.Process(broker_pid)
        self.samples = 0
        self.cleaning = 0
        self.peak_rss_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CleanerWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            workers = []
            try:
                for child in self.broker.children():
                    if "katka.storage.cleaner.worker" in " ".join(child.cmdline()):
                        workers.append(child.pid)
            except psutil.Error:
                continue
            self.samples += 1
            self.cleaning += bool(workers)
            for pid in workers:
                self.peak_rss_bytes = max(self.peak_rss_bytes, _high_water_mark(pid))


def _high_water_mark(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def latency_while_cleaning(settings: Settings) -> list[dict[str, Any]]:
    """The latency workload against a broker whose cleaner is cleaning a 1 GiB partition
    (quick: 20 MiB), and against the same data with the cleaner off, in the same run."""
    records = 200_000 if settings.quick else (2**30 // 107)  # about 107 bytes a record
    directory = tempfile.mkdtemp(prefix="katka-bench-cleaning-")
    rows: list[dict[str, Any]] = []
    try:
        size = _prepare_data_dir(directory, records)
        for cleaning in (False, True):
            options = ("log.cleaner.backoff.ms=100", f"log.cleaner.enable={str(cleaning).lower()}")
            spec = BrokerSpec(
                "katka",
                "katka",
                "kafka",
                ("latency",),
                extra_args=sum((("-o", o) for o in options), ()),
            )
            broker, _ = start_broker(spec, data_dir=directory)
            try:
                with CleanerWatch(broker.pid) as watch:
                    measured = workloads.latency_at(broker, settings, settings.latency_rate)
            finally:
                broker.stop()
            for row in measured:
                rows.append(
                    {
                        **row,
                        "workload": "compaction-latency",
                        "variant": f"{row['variant']}, "
                        + ("cleaning" if cleaning else "cleaner off"),
                        "partition_mb": round(size / 2**20),
                        "cleaning_share": round(watch.cleaning / max(watch.samples, 1), 2),
                        "cleaner_peak_rss_mb": round(watch.peak_rss_bytes / 2**20, 1),
                        "dedupe_buffer_mb": round(CleanerConfig().dedupe_buffer_bytes / 2**20),
                    }
                )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return rows
