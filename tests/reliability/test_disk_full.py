"""Disk full, end to end: produce gets KAFKA_STORAGE_ERROR, consumers keep reading what is
there, and appends work again once space returns; the broker neither crashes nor loses data.

The disk engine's fault hook (katka/storage/disk/faults.py) makes every write fail with ENOSPC
while a flag file exists, so the test fills and frees the "disk" of a running `katka serve`."""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from katka.reliability.fuzz import probe
from katka.reliability.process import BrokerProcess
from tests.reliability.test_overload import create_topic


def produce(broker: BrokerProcess, topic: str, values: list[bytes]) -> list[KafkaError | None]:
    """One try per record (retries=0), so the broker's error reaches the delivery report."""
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "acks": "all",
            "retries": 0,
            "enable.idempotence": False,
            "log_level": 0,
        }
    )
    results: list[KafkaError | None] = []
    for value in values:
        producer.produce(topic, value=value, on_delivery=lambda e, _m: results.append(e))
    producer.flush(30)
    return results


def read_all(consumer: Consumer, expected: int, timeout: float = 20) -> list[bytes]:
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(values) < expected and time.monotonic() < deadline:
        for message in consumer.consume(100, 0.2):
            if message.error() is None:
                values.append(bytes(message.value()))
    return values


def test_a_full_disk_refuses_produce_keeps_fetch_and_recovers(tmp_path: Path) -> None:
    flag = tmp_path / "disk-full"
    broker = BrokerProcess(
        tmp_path / "data",
        overrides=["group.initial.rebalance.delay.ms=0", "log.segment.bytes=4096"],
        env={"KATKA_FAULT_DISK_FULL": str(flag)},
    )
    broker.start()
    try:
        create_topic(broker, "events")
        before = [b"before-%d" % i for i in range(100)]
        assert produce(broker, "events", before) == [None] * 100
        consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": "reader",
                "enable.auto.commit": False,
                "log_level": 0,
            }
        )
        consumer.assign([TopicPartition("events", 0, 0)])

        flag.touch()  # the disk is full
        refused = produce(broker, "events", [b"during-%d" % i for i in range(5)])
        assert [error and error.code() for error in refused] == [KafkaError.KAFKA_STORAGE_ERROR] * 5
        assert read_all(consumer, 100) == before  # consumers keep reading what is on disk
        try:  # a commit needs the disk too: refused (NOT_COORDINATOR, as Kafka), not fatal
            consumer.commit(asynchronous=False)
        except KafkaException as error:
            assert error.args[0].code() == KafkaError.NOT_COORDINATOR, error
        assert broker.alive() and probe(broker.port)

        flag.unlink()  # space returns
        after = [b"after-%d" % i for i in range(100)]
        assert produce(broker, "events", after) == [None] * 100
        assert read_all(consumer, 100) == after
        consumer.commit(asynchronous=False)  # and commits are durable again
        committed = consumer.committed([TopicPartition("events", 0)], timeout=10)
        assert committed[0].offset == 200
        consumer.close()
    finally:
        broker.kill()
    # and nothing was torn: a restart (after kill -9) recovers exactly the acknowledged records
    broker.start()
    try:
        consumer = Consumer(
            {"bootstrap.servers": broker.bootstrap, "group.id": "check", "log_level": 0}
        )
        consumer.assign([TopicPartition("events", 0, 0)])
        assert read_all(consumer, 200) == before + after
        consumer.close()
    finally:
        broker.kill()
