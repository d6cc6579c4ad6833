"""ListOffsets, DeleteRecords, retention, partitions and configs through real admin clients."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from katka.reliability.process import BrokerProcess
from tests.e2e.test_produce_consume import create_topic, unique

T0 = 1_700_000_000_000


def produce_with_timestamps(bootstrap: str, topic: str, count: int, batch: int = 10) -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 50, "compression.type": "zstd"}
    )
    for i in range(count):
        producer.produce(topic, value=b"v%d" % i, timestamp=T0 + i * 1000, partition=0)
        if i % batch == batch - 1:
            producer.flush()
    assert producer.flush(10) == 0


def test_offsets_for_times_returns_the_first_offset_at_or_after_a_timestamp(
    katka_server: BrokerProcess,
) -> None:
    topic = unique("times")
    create_topic(katka_server.bootstrap, topic, 1)
    produce_with_timestamps(katka_server.bootstrap, topic, 50)
    consumer = Consumer({"bootstrap.servers": katka_server.bootstrap, "group.id": unique("g")})
    try:
        queries = [T0 - 5, T0, T0 + 1, T0 + 17_000, T0 + 17_500, T0 + 49_000, T0 + 49_001]
        found = [
            consumer.offsets_for_times([TopicPartition(topic, 0, t)], timeout=10)[0]
            for t in queries
        ]
        assert [tp.offset for tp in found] == [0, 0, 1, 17, 18, 49, -1]
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        assert (low, high) == (0, 50)
    finally:
        consumer.close()


def test_kafka_python_max_timestamp_and_earliest_latest(katka_server: BrokerProcess) -> None:
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP

    topic = unique("kp-offsets")
    create_topic(katka_server.bootstrap, topic, 1)
    produce_with_timestamps(katka_server.bootstrap, topic, 20)
    consumer = KafkaConsumer(bootstrap_servers=katka_server.bootstrap)
    tp = KTP(topic, 0)
    assert consumer.beginning_offsets([tp])[tp] == 0
    assert consumer.end_offsets([tp])[tp] == 20
    assert consumer.offsets_for_times({tp: T0 + 5000})[tp].offset == 5
    consumer.close()


def test_delete_records_moves_the_log_start_and_older_offsets_become_out_of_range(
    katka_server: BrokerProcess,
) -> None:
    topic = unique("delrec")
    create_topic(katka_server.bootstrap, topic, 1)
    produce_with_timestamps(katka_server.bootstrap, topic, 30)
    admin = AdminClient({"bootstrap.servers": katka_server.bootstrap})
    result = admin.delete_records([TopicPartition(topic, 0, 12)])
    deleted = result[TopicPartition(topic, 0, 12)].result(10)
    assert deleted.low_watermark == 12
    consumer = Consumer(
        {
            "bootstrap.servers": katka_server.bootstrap,
            "group.id": unique("g"),
            "auto.offset.reset": "error",
        }
    )
    try:
        assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (12, 30)
        consumer.assign([TopicPartition(topic, 0, 3)])
        deadline = time.monotonic() + 10
        error = None
        while error is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error():
                error = message.error()
        assert error is not None and "out of range" in error.str().lower()
    finally:
        consumer.close()


def test_retention_by_bytes_deletes_old_segments(start_katka: Callable[..., BrokerProcess]) -> None:
    server = start_katka(["-o", "log.retention.check.interval.ms=200"])
    topic = unique("retention")
    create_topic(server.bootstrap, topic, 1, {"segment.bytes": "2000", "retention.bytes": "4000"})
    producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "linger.ms": 0})
    for _ in range(200):
        producer.produce(topic, value=b"r" * 80, partition=0)
        producer.flush()
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": unique("g")})
    try:
        deadline = time.monotonic() + 10
        low = 0
        while time.monotonic() < deadline:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
            if low > 100:  # only the last few segments (about 4000 bytes) are kept
                break
            time.sleep(0.2)
        assert low > 100 and high == 200
    finally:
        consumer.close()


def test_admin_errors_match_kafka(katka_server: BrokerProcess) -> None:
    admin = AdminClient({"bootstrap.servers": katka_server.bootstrap})
    topic = unique("adm")
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(10)
    with pytest.raises(KafkaException, match="TOPIC_ALREADY_EXISTS"):
        admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(10)
    with pytest.raises(KafkaException, match="TOPIC_EXCEPTION"):
        admin.create_topics([NewTopic("bad name!", 1, 1)])["bad name!"].result(10)
    with pytest.raises(KafkaException, match="INVALID_PARTITIONS"):
        admin.create_topics([NewTopic(name := unique("zero"), 0, 1)])[name].result(10)
    with pytest.raises(KafkaException, match="INVALID_CONFIG"):
        admin.create_topics(
            [NewTopic(name := unique("cfg"), 1, 1, config={"retention.ms": "soon"})]
        )[name].result(10)
    validated = unique("validate-only")
    admin.create_topics([NewTopic(validated, 1, 1)], validate_only=True)[validated].result(10)
    assert validated not in admin.list_topics(timeout=10).topics
    admin.create_partitions([NewPartitions(topic, 5)])[topic].result(10)
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 5
    with pytest.raises(KafkaException, match="INVALID_PARTITIONS"):
        admin.create_partitions([NewPartitions(topic, 3)])[topic].result(10)
    resource = ConfigResource("topic", topic)
    admin.incremental_alter_configs(
        [
            ConfigResource(
                "topic",
                topic,
                incremental_configs=[
                    ConfigEntry(
                        "retention.ms", "12345", incremental_operation=AlterConfigOpType.SET
                    )
                ],
            )
        ]
    )[resource].result(10)
    described = admin.describe_configs([resource])[resource].result(10)
    assert described["retention.ms"].value == "12345"
    assert described["segment.bytes"].value == "1073741824"
    broker = ConfigResource("broker", "1")
    broker_configs = admin.describe_configs([broker])[broker].result(10)
    assert broker_configs["num.partitions"].value == "1"
    admin.delete_topics([topic])[topic].result(10)
    assert topic not in admin.list_topics(timeout=10).topics


def test_topic_configs_and_catalog_survive_restart(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    server = start_katka()
    topic = unique("persist")
    create_topic(server.bootstrap, topic, 4, {"retention.ms": "99999"})
    server.stop()
    restarted = start_katka(port=server.port)
    admin = AdminClient({"bootstrap.servers": restarted.bootstrap})
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 4
    resource = ConfigResource("topic", topic)
    assert admin.describe_configs([resource])[resource].result(10)["retention.ms"].value == "99999"


def test_produce_to_a_missing_topic_gets_unknown_topic_and_metadata_auto_creates(
    katka_server: BrokerProcess,
) -> None:
    from kafka import KafkaProducer

    topic = unique("auto")
    producer = KafkaProducer(bootstrap_servers=katka_server.bootstrap)
    producer.send(topic, b"hello").get(10)  # kafka-python asks Metadata, which auto-creates
    producer.close()
    admin = AdminClient({"bootstrap.servers": katka_server.bootstrap})
    assert len(admin.list_topics(topic, timeout=10).topics[topic].partitions) == 1
