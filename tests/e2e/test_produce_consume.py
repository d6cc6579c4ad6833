"""Real clients produce to and fetch from `katka serve`: every codec, keys, null values,
headers and timestamps come back byte-exact, with dense offsets from 0."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from katka.reliability.process import BrokerProcess
from tests.e2e.conftest import kcat_path

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(
    bootstrap: str, name: str, partitions: int, config: dict[str, str] | None = None
) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])
    futures[name].result(10)


def consume_all(
    bootstrap: str, topic: str, partitions: int, expected: int, timeout: float = 20
) -> list:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique("reader"), "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    messages = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            messages.append(message)
    finally:
        consumer.close()
    return messages


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_confluent_kafka_records_come_back_byte_exact(
    katka_server: BrokerProcess, codec: str, acks: str
) -> None:
    topic = unique(f"rt-{codec}-{acks}")
    create_topic(katka_server.bootstrap, topic, 3)
    producer = Producer(
        {
            "bootstrap.servers": katka_server.bootstrap,
            "acks": acks,
            "compression.type": codec,
            "linger.ms": 5,
        }
    )
    sent = []
    for i in range(300):
        key = None if i % 7 == 0 else f"key-{i % 13}".encode()
        value = None if i % 11 == 0 else (f"value-{i}-".encode() * (i % 5 + 1))
        headers = [("h1", f"x{i}".encode()), ("empty", b""), ("none", None)] if i % 3 == 0 else None
        timestamp = 1_700_000_000_000 + i
        producer.produce(
            topic, key=key, value=value, headers=headers, timestamp=timestamp, partition=i % 3
        )
        sent.append((i % 3, key, value, headers, timestamp))
    assert producer.flush(15) == 0
    messages = consume_all(katka_server.bootstrap, topic, 3, len(sent))
    assert len(messages) == len(sent)
    by_partition: dict[int, list] = {}
    for message in messages:
        by_partition.setdefault(message.partition(), []).append(message)
    for partition, received in by_partition.items():
        expected = [s for s in sent if s[0] == partition]
        assert [m.offset() for m in received] == list(range(len(expected)))
        for message, (_p, key, value, headers, timestamp) in zip(received, expected, strict=True):
            assert message.key() == key
            assert message.value() == value
            assert message.timestamp()[1] == timestamp
            assert (message.headers() or None) == ([tuple(h) for h in headers] if headers else None)


def test_keyed_records_stay_on_the_partition_the_client_picked(katka_server: BrokerProcess) -> None:
    topic = unique("keyed")
    create_topic(katka_server.bootstrap, topic, 6)
    producer = Producer({"bootstrap.servers": katka_server.bootstrap, "acks": "all"})
    reported: dict[bytes, set[int]] = {}

    def on_delivery(error, message) -> None:  # type: ignore[no-untyped-def]
        assert error is None
        reported.setdefault(message.key(), set()).add(message.partition())

    keys = [f"user-{i}".encode() for i in range(40)]
    for round_ in range(5):
        for key in keys:
            producer.produce(topic, key=key, value=b"%d" % round_, on_delivery=on_delivery)
    assert producer.flush(15) == 0
    assert all(len(partitions) == 1 for partitions in reported.values())
    assert len({p for ps in reported.values() for p in ps}) > 1  # keys spread over partitions
    messages = consume_all(katka_server.bootstrap, topic, 6, len(keys) * 5)
    for message in messages:
        assert {message.partition()} == reported[message.key()]


def test_kafka_python_round_trip_with_every_codec_and_murmur2_partitioning(
    katka_server: BrokerProcess,
) -> None:
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.partitioner.default import murmur2

    for codec in [None, "gzip", "snappy", "lz4", "zstd"]:
        topic = unique(f"kp-{codec}")
        create_topic(katka_server.bootstrap, topic, 4)
        producer = KafkaProducer(
            bootstrap_servers=katka_server.bootstrap, acks="all", compression_type=codec
        )
        keys = [f"k{i}".encode() for i in range(50)]
        for key in keys:
            producer.send(topic, key=key, value=b"v-" + key, headers=[("src", b"kafka-python")])
        producer.flush(10)
        producer.close()
        consumer = KafkaConsumer(
            bootstrap_servers=katka_server.bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=5000,
        )
        consumer.assign([__import__("kafka").TopicPartition(topic, p) for p in range(4)])
        consumer.seek_to_beginning()
        received = []
        deadline = time.monotonic() + 15
        while len(received) < len(keys) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                received.extend(records)
        consumer.close()
        assert sorted(r.key for r in received) == sorted(keys)
        for record in received:
            assert record.value == b"v-" + record.key
            assert record.headers == [("src", b"kafka-python")]
            assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % 4


def test_aiokafka_round_trip(katka_server: BrokerProcess) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = unique("aio")

    async def scenario() -> list:
        producer = AIOKafkaProducer(
            bootstrap_servers=katka_server.bootstrap, acks="all", compression_type="gzip"
        )
        await producer.start()
        try:
            for i in range(100):
                await producer.send(topic, key=b"k%d" % (i % 3), value=b"aio-%d" % i)
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=katka_server.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        received = []
        try:
            async with asyncio.timeout(20):
                while len(received) < 100:
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        received.extend(records)
        finally:
            await consumer.stop()
        return received

    received = asyncio.run(scenario())
    assert sorted(r.value for r in received) == sorted(b"aio-%d" % i for i in range(100))


def test_kcat_produces_and_consumes(katka_server: BrokerProcess) -> None:
    kcat = kcat_path()
    topic = unique("kcat")
    lines = "\n".join(f"key{i}:value {i}" for i in range(20)) + "\n"
    subprocess.run(
        [kcat, "-b", katka_server.bootstrap, "-P", "-t", topic, "-K:", "-z", "lz4"],
        input=lines,
        text=True,
        check=True,
        timeout=30,
    )
    out = subprocess.run(
        [
            kcat,
            "-b",
            katka_server.bootstrap,
            "-C",
            "-t",
            topic,
            "-e",
            "-o",
            "beginning",
            "-f",
            "%k=%s\\n",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert sorted(out.splitlines()) == sorted(f"key{i}=value {i}" for i in range(20))
    listing = subprocess.run(
        [kcat, "-b", katka_server.bootstrap, "-L", "-t", topic],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert f'topic "{topic}"' in listing
