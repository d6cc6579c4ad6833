"""Start-up time of the disk engine with many partitions (a script, not a test).

    python -m tests.storage.startup_benchmark [partitions] [batches_per_partition]

Fills a temporary data dir, closes it cleanly, then times start-up (engine + existing_logs +
open_log for every partition) after the clean shutdown and after a simulated crash.
"""

from __future__ import annotations

import sys
import tempfile
import time

from katka.protocol.batches import validate_produce_records
from katka.protocol.records import build_batch
from katka.storage.base import LogConfig
from katka.storage.disk import DiskStorageEngine

CONFIG = LogConfig(segment_bytes=64 * 1024)


def fill(data_dir: str, partitions: int, batches: int) -> None:
    engine = DiskStorageEngine(data_dir)
    for partition in range(partitions):
        log = engine.open_log("bench.topic-a", partition, CONFIG)
        for sequence in range(batches):
            data = build_batch(
                [(b"key", b"v" * 100, (), 1_700_000_000_000 + i) for i in range(10)],
                producer_id=partition,
                producer_epoch=0,
                base_sequence=sequence * 10,
            )
            log.append(data, validate_produce_records(data, 1 << 20), 1_700_000_000_000)
    engine.close()


def start(data_dir: str) -> tuple[float, bool, int]:
    began = time.perf_counter()
    engine = DiskStorageEngine(data_dir)
    logs = [engine.open_log(t, p, CONFIG) for t, p in engine.existing_logs()]
    elapsed = time.perf_counter() - began
    end_offsets = sum(log.log_end_offset for log in logs)
    clean = engine.recovered_cleanly
    engine.close()
    return elapsed, clean, end_offsets


def crash(data_dir: str) -> None:
    """Open everything and leave without close(): no clean shutdown marker."""
    engine = DiskStorageEngine(data_dir)
    for topic, partition in engine.existing_logs():
        engine.open_log(topic, partition, CONFIG).close_files()


def main() -> None:
    partitions = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    batches = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with tempfile.TemporaryDirectory() as data_dir:
        began = time.perf_counter()
        fill(data_dir, partitions, batches)
        filled = time.perf_counter() - began
        print(f"filled {partitions} partitions x {batches} batches in {filled:.1f} s")
        for label in ("clean", "clean again"):
            elapsed, clean, offsets = start(data_dir)
            print(
                f"{label}: {elapsed * 1000:.0f} ms (recovered_cleanly={clean}, offsets={offsets})"
            )
        crash(data_dir)
        elapsed, clean, offsets = start(data_dir)
        print(
            f"after crash: {elapsed * 1000:.0f} ms (recovered_cleanly={clean}, offsets={offsets})"
        )


if __name__ == "__main__":
    main()
