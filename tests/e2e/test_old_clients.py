"""kafka-python pinned to the broker versions of old clients (`api_version`), which makes it
send the request versions Kafka 4.0 dropped (issue 10 part 3): 0.8.1 commits with
OffsetCommit/OffsetFetch v0 and produces with message format v0 (Produce v0, Fetch v0); 0.8.2
with v1 and group coordinators (FindCoordinator v0); 0.9 joins groups (JoinGroup v0, Produce
and Fetch v1); 0.10.1 uses message format v1 (Produce v2, Fetch v3). What each writes, every
client reads back."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as ConfluentPartition
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from katka.reliability.process import BrokerProcess
from tests.e2e.test_produce_consume import create_topic, unique

# kafka-python writes LZ4 for brokers before 0.10 only with the xxhash package (absent here).
OLD_CLIENTS = {
    (0, 8, 1): [None, "gzip", "snappy"],
    (0, 8, 2): [None, "gzip", "snappy"],
    (0, 9): [None, "gzip", "snappy"],
    (0, 10, 1): [None, "gzip", "snappy", "lz4"],
}


@pytest.mark.parametrize(
    "api_version", list(OLD_CLIENTS), ids=lambda v: ".".join(str(part) for part in v)
)
def test_an_old_kafka_python_produces_consumes_and_commits(
    katka_server: BrokerProcess, api_version: tuple[int, ...]
) -> None:
    bootstrap = katka_server.bootstrap
    topic, group = unique("old-client"), unique("old-client")
    create_topic(bootstrap, topic, 1)
    expected = []
    for codec in OLD_CLIENTS[api_version]:
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, api_version=api_version, compression_type=codec
        )
        values = [f"{codec}-{i}".encode() for i in range(3)]
        futures = [producer.send(topic, value) for value in values]
        producer.flush(10)
        assert [f.get(10).offset for f in futures] == list(range(len(expected), len(expected) + 3))
        producer.close(5)
        expected += values

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        api_version=api_version,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    partition = TopicPartition(topic, 0)
    try:
        if api_version < (0, 9):
            consumer.assign([partition])  # no group membership before Kafka 0.9
        else:
            consumer.subscribe([topic])
        read = []
        for message in consumer:
            read.append(message.value)
            if len(read) == len(expected):
                break
        assert read == expected
        consumer.commit()
        assert consumer.committed(partition) == len(expected)
    finally:
        consumer.close()

    # A current client reads the same records (and the same committed offset, even of 0.8.1's
    # OffsetCommit v0, which Kafka 3.9 kept in ZooKeeper apart).
    current = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        (committed,) = current.committed([ConfluentPartition(topic, 0)], timeout=10)
        assert committed.offset == len(expected)
        current.assign([ConfluentPartition(topic, 0, 0)])
        values = []
        while len(values) < len(expected):
            message = current.poll(10)
            assert message is not None and message.error() is None
            values.append(message.value())
        assert values == expected
    finally:
        current.close()
