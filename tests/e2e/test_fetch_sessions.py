"""Consumers of many partitions read exactly what was written, in waves that land on a few
partitions at a time, across consumer restarts and partitions assigned, unassigned and added.
kafka-python fetches through incremental fetch sessions (KIP-227); librdkafka and aiokafka
fetch without them, and must read the same."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition as AioTopicPartition
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaPythonTopicPartition

from katka.reliability.process import BrokerProcess
from tests.e2e.test_produce_consume import create_topic, unique

PARTITIONS = 300
WAIT_S = 20


def produce_wave(bootstrap: str, topic: str, partitions: list[int], tag: str) -> Counter[int]:
    """Three records to each of `partitions`; returns how many each got."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for partition in partitions:
        for i in range(3):
            producer.produce(topic, value=f"{tag}-{partition}-{i}".encode(), partition=partition)
    assert producer.flush(15) == 0
    return Counter({partition: 3 for partition in partitions})


def read_until(poll: Callable[[], list[tuple[int, bytes]]], expected: Counter[int]) -> Counter[int]:
    """Poll until `expected` records per partition arrived (or the time is up); what came."""
    got: Counter[int] = Counter()
    deadline = time.monotonic() + WAIT_S
    while got != expected and time.monotonic() < deadline:
        for partition, _value in poll():
            got[partition] += 1
    # a little longer: nothing more may arrive
    settle = time.monotonic() + 0.5
    while time.monotonic() < settle:
        for partition, _value in poll():
            got[partition] += 1
    return got


def kafka_python_consumer(bootstrap: str) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=64 * 1024,
    )


def kafka_python_poll(consumer: KafkaConsumer) -> Callable[[], list[tuple[int, bytes]]]:
    def poll() -> list[tuple[int, bytes]]:
        batches = consumer.poll(timeout_ms=200)
        return [(tp.partition, m.value) for tp, ms in batches.items() for m in ms]

    return poll


def session_epoch(consumer: KafkaConsumer) -> int:
    """The epoch of kafka-python's fetch session with the one broker (0 or -1: none)."""
    (handler,) = consumer._fetcher._session_handlers.values()
    return int(handler.next_metadata.epoch)


def test_kafka_python_reads_waves_on_few_of_many_partitions_through_one_session(
    katka_server: BrokerProcess,
) -> None:
    bootstrap = katka_server.bootstrap
    topic = unique("wide")
    create_topic(bootstrap, topic, PARTITIONS)
    consumer = kafka_python_consumer(bootstrap)
    try:
        consumer.assign([KafkaPythonTopicPartition(topic, p) for p in range(PARTITIONS)])
        consumer.seek_to_beginning()
        poll = kafka_python_poll(consumer)
        for wave, partitions in enumerate([[0, 1], [150, 299], [7], list(range(0, 300, 30))]):
            expected = produce_wave(bootstrap, topic, partitions, f"w{wave}")
            assert read_until(poll, expected) == expected
        assert session_epoch(consumer) > 1, "kafka-python never fetched incrementally"

        # unassign half: their records are not delivered, the rest still are
        kept = list(range(0, PARTITIONS, 2))
        consumer.assign([KafkaPythonTopicPartition(topic, p) for p in kept])
        produce_wave(bootstrap, topic, [1, 3, 5], "dropped")
        expected = produce_wave(bootstrap, topic, [2, 4, 298], "kept")
        assert read_until(poll, expected) == expected
        positions = {
            p: consumer.position(KafkaPythonTopicPartition(topic, p))
            for p in range(PARTITIONS)
            if p in kept
        }
    finally:
        consumer.close()

    # a restarted consumer resumes where the last one stopped
    expected = produce_wave(bootstrap, topic, [10, 20], "after-restart")
    restarted = kafka_python_consumer(bootstrap)
    try:
        restarted.assign([KafkaPythonTopicPartition(topic, p) for p in positions])
        for partition, offset in positions.items():
            restarted.seek(KafkaPythonTopicPartition(topic, partition), offset)
        assert read_until(kafka_python_poll(restarted), expected) == expected

        # partitions added to the topic join the session when assigned
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_partitions([NewPartitions(topic, PARTITIONS + 20)])[topic].result(10)
        added = list(range(PARTITIONS, PARTITIONS + 20))
        restarted.assign([KafkaPythonTopicPartition(topic, p) for p in [*positions, *added]])
        for partition, offset in positions.items():
            restarted.seek(
                KafkaPythonTopicPartition(topic, partition), offset + 3 * (partition in (10, 20))
            )
        for partition in added:
            restarted.seek(KafkaPythonTopicPartition(topic, partition), 0)
        expected = produce_wave(bootstrap, topic, [added[0], added[-1], 40], "grown")
        assert read_until(kafka_python_poll(restarted), expected) == expected
        assert session_epoch(restarted) > 1
    finally:
        restarted.close()


def test_confluent_kafka_reads_waves_on_few_of_many_partitions(
    katka_server: BrokerProcess,
) -> None:
    bootstrap = katka_server.bootstrap
    topic = unique("wide-rdkafka")
    create_topic(bootstrap, topic, PARTITIONS)
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique("g"), "fetch.wait.max.ms": 100}
    )

    def poll() -> list[tuple[int, bytes]]:
        message = consumer.poll(0.2)
        if message is None or message.error():
            return []
        return [(message.partition(), message.value())]

    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        for wave, partitions in enumerate([[0, 1], [150, 299], list(range(0, 300, 30))]):
            expected = produce_wave(bootstrap, topic, partitions, f"w{wave}")
            assert read_until(poll, expected) == expected
    finally:
        consumer.close()


def test_aiokafka_reads_waves_on_few_of_many_partitions(katka_server: BrokerProcess) -> None:
    bootstrap = katka_server.bootstrap
    topic = unique("wide-aiokafka")
    create_topic(bootstrap, topic, PARTITIONS)

    async def run() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        await consumer.start()
        try:
            consumer.assign([AioTopicPartition(topic, p) for p in range(PARTITIONS)])
            await consumer.seek_to_beginning()
            for wave, partitions in enumerate([[0, 1], [150, 299], list(range(0, 300, 30))]):
                expected = produce_wave(bootstrap, topic, partitions, f"w{wave}")
                got: Counter[int] = Counter()
                deadline = time.monotonic() + WAIT_S
                while got != expected and time.monotonic() < deadline:
                    batches = await consumer.getmany(timeout_ms=200)
                    for tp, messages in batches.items():
                        got[tp.partition] += len(messages)
                assert got == expected
        finally:
            await consumer.stop()

    asyncio.run(run())
