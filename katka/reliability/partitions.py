"""Many partitions: start-up time and RSS of `katka serve` with N partitions on disk.

Creates N partitions (topics of up to 100 partitions each), writes one record to every
partition, then measures: RSS once created, start-up after a clean shutdown (process start to
ready line) and its RSS, a Metadata request for every topic, start-up after kill -9 (no
clean-shutdown marker, so segment tails are recovered) and one produce to every partition.

    python -m katka.reliability.partitions --partitions 10000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from katka.reliability.process import BrokerProcess

PER_TOPIC = 100


@dataclass
class Figures:
    partitions: int
    create_seconds: float
    rss_after_create: int
    clean_start_seconds: float
    rss_after_clean_start: int
    metadata_seconds: float
    unclean_start_seconds: float
    rss_after_unclean_start: int
    produce_after_unclean_seconds: float

    def line(self) -> str:
        mb = 2**20
        return (
            f"partitions: partitions={self.partitions} create_s={self.create_seconds:.1f} "
            f"rss_after_create_mb={self.rss_after_create / mb:.0f} "
            f"clean_start_ms={self.clean_start_seconds * 1000:.0f} "
            f"rss_after_clean_start_mb={self.rss_after_clean_start / mb:.0f} "
            f"metadata_all_ms={self.metadata_seconds * 1000:.0f} "
            f"unclean_start_ms={self.unclean_start_seconds * 1000:.0f} "
            f"rss_after_unclean_start_mb={self.rss_after_unclean_start / mb:.0f} "
            f"produce_all_after_unclean_s={self.produce_after_unclean_seconds:.1f}"
        )


def _topics(partitions: int) -> dict[str, int]:
    topics: dict[str, int] = {}
    remaining, index = partitions, 0
    while remaining > 0:
        count = min(PER_TOPIC, remaining)
        topics[f"many-{index:04d}"] = count
        remaining -= count
        index += 1
    return topics


def _produce_everywhere(bootstrap: str, topics: dict[str, int]) -> float:
    started = time.monotonic()
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20, "log_level": 0}
    )
    for topic, count in topics.items():
        for partition in range(count):
            while True:
                try:
                    producer.produce(topic, value=b"x", partition=partition)
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.poll(0)
    if producer.flush(300) != 0:
        raise RuntimeError("records were not acknowledged")
    return time.monotonic() - started


def measure(partitions: int, data_dir: Path) -> Figures:
    broker = BrokerProcess(data_dir, extra_args=["--log-level", "WARNING"])
    broker.start()
    try:
        topics = _topics(partitions)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 0})
        started = time.monotonic()
        names = list(topics)
        for first in range(0, len(names), 20):
            chunk = names[first : first + 20]
            futures = admin.create_topics([NewTopic(name, topics[name], 1) for name in chunk])
            for future in futures.values():
                future.result(300)
        _produce_everywhere(broker.bootstrap, topics)
        create_seconds = time.monotonic() - started
        rss_after_create = broker.rss()
        broker.stop(120)

        clean_start = broker.start(300)
        rss_after_clean = broker.rss()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 0})
        started = time.monotonic()
        metadata = admin.list_topics(timeout=120)
        metadata_seconds = time.monotonic() - started
        found = sum(len(t.partitions) for name, t in metadata.topics.items() if name in topics)
        if found != partitions:
            raise RuntimeError(f"metadata lists {found} partitions, expected {partitions}")
        broker.kill()

        unclean_start = broker.start(300)
        rss_after_unclean = broker.rss()
        produce_seconds = _produce_everywhere(broker.bootstrap, topics)
        return Figures(
            partitions,
            create_seconds,
            rss_after_create,
            clean_start,
            rss_after_clean,
            metadata_seconds,
            unclean_start,
            rss_after_unclean,
            produce_seconds,
        )
    finally:
        broker.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=10_000)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    temporary = None
    data_dir = args.data_dir
    if data_dir is None:
        temporary = tempfile.mkdtemp(prefix="katka-partitions-")
        data_dir = Path(temporary)
    try:
        print(measure(args.partitions, data_dir).line(), flush=True)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()
