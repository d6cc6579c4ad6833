"""The same keyed writes and tombstones given to Apache Kafka 4.4 and to katka, both topics
compacted: once both have cleaned, the latest record of every key is the same record at the
same offset on both, and every record either keeps is one that was written at that offset."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.kafka.reference import KafkaReference, read_partition

pytestmark = pytest.mark.kafka

# segment.ms rolls by record time on both (Kafka 4 refuses segments under 1 MiB).
TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": "1000",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "86400000",
}
ROUNDS = 8


def writes() -> list[list[tuple[bytes, bytes | None]]]:
    rounds = []
    for round_ in range(ROUNDS):
        batch: list[tuple[bytes, bytes | None]] = []
        for i in range(30):
            key = f"key-{(round_ * 7 + i) % 13}".encode()
            tombstone = (round_ * 30 + i) % 17 == 0
            batch.append((key, None if tombstone else f"r{round_}-{i}".encode()))
        rounds.append(batch)
    return rounds


def write_all(bootstrap: str, topic: str) -> list[tuple[bytes, bytes | None]]:
    """One round per second of record time: each round rolls a segment on both brokers."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    first = int(time.time() * 1000) - 600_000
    written: list[tuple[bytes, bytes | None]] = []
    for round_, batch in enumerate(writes()):
        for key, value in batch:
            producer.produce(
                topic, key=key, value=value, partition=0, timestamp=first + 2000 * round_
            )
            written.append((key, value))
        assert producer.flush(30) == 0
    return written


def create(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config=TOPIC_CONFIG)])[topic].result(30)


def latest_per_key(records: list[tuple[int, bytes | None, bytes | None]]) -> dict:
    return {key: (offset, value) for offset, key, value in records}


def compacted(bootstrap: str, topic: str, written: int) -> bool:
    records = read_partition(bootstrap, topic)
    return len(records) < written


def test_kafka_and_katka_keep_the_same_latest_records_at_the_same_offsets(
    kafka_broker: KafkaReference, tmp_path: Path
) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    cluster = ConfigResource(
        ResourceType.BROKER,
        "1",
        incremental_configs=[
            ConfigEntry(
                "log.cleaner.backoff.ms", "200", incremental_operation=AlterConfigOpType.SET
            )
        ],
    )
    admin.incremental_alter_configs([cluster])[cluster].result(30)
    katka = BrokerProcess(tmp_path / "data", overrides=["log.cleaner.backoff.ms=200"])
    katka.start(30)
    try:
        topic = f"compacted-{uuid.uuid4().hex[:8]}"
        results = {}
        for name, bootstrap in (("kafka", kafka_broker.bootstrap), ("katka", katka.bootstrap)):
            create(bootstrap, topic)
            written = write_all(bootstrap, topic)
            wait_until(lambda b=bootstrap: compacted(b, topic, len(written)), 90, what=name)
            results[name] = read_partition(bootstrap, topic)
        for records in results.values():
            for offset, key, value in records:
                assert written[offset] == (key, value)
        assert latest_per_key(results["katka"]) == latest_per_key(results["kafka"])
    finally:
        katka.kill()
