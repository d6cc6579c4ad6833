"""Compacted topics against a real `katka serve`, judged by confluent-kafka and kafka-python:
the latest value of every key at the offset it was written at (gaps, no renumbering), a
consumer positioned on a removed offset, tombstones expiring, compact+delete, switching the
policy with IncrementalAlterConfigs, and keyless records refused as Kafka refuses them."""

from __future__ import annotations

import itertools
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.e2e.test_produce_consume import create_topic, unique

# Small segments and an eager cleaner, so a few hundred records are cleaned within a second.
# A cleaning's time on a loaded machine: the cleaner's process runs at nice 5 and starts
# afresh for each cleaning.
CLEANING_S = 120
EAGER = {"segment.bytes": "2048", "cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.01"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    process = BrokerProcess(
        tmp_path_factory.mktemp("katka"),
        overrides=["log.cleaner.backoff.ms=100", "log.retention.check.interval.ms=200"],
    )
    process.start(30)
    yield process
    process.kill()


def admin_api(server: BrokerProcess, path: str) -> dict:
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    resource = ConfigResource(ResourceType.BROKER, "1")
    configs = admin.describe_configs([resource])[resource].result(10)
    address = configs["katka.admin.listener"].value
    with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as response:
        return json.loads(response.read())


def produce(server: BrokerProcess, topic: str, records: list[tuple[str, str | None]]) -> None:
    producer = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0})
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            failures.append(error)

    for index, (key, value) in enumerate(records):
        producer.produce(
            topic,
            key=key.encode(),
            value=None if value is None else value.encode(),
            on_delivery=delivered,
        )
        if index % 20 == 19:  # batches of 20: several segments
            assert producer.flush(20) == 0
    assert producer.flush(20) == 0
    assert failures == []


def read_from(
    server: BrokerProcess, topic: str, offset: int = 0, isolation: str = "read_committed"
) -> list[tuple[int, str, str | None]]:
    """Every record from `offset` to the end of the partition: (offset, key, value or None)."""
    consumer = Consumer(
        {
            "bootstrap.servers": server.bootstrap,
            "group.id": unique("r"),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": isolation,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, offset)])
        records = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    return records
                raise KafkaException(message.error())
            value = message.value()
            records.append(
                (
                    message.offset(),
                    message.key().decode(),
                    None if value is None else value.decode(),
                )
            )
        raise AssertionError(f"{topic} not read to its end in 20 s")
    finally:
        consumer.close()


def cleaned(server: BrokerProcess, topic: str, at_least: int = 1) -> bool:
    cleanings = admin_api(server, "/api/cleaner")["cleanings"]
    return sum(1 for c in cleanings if c["topic"] == topic) >= at_least


def test_confluent_kafka_reads_the_latest_value_of_every_key_at_its_original_offset(
    server: BrokerProcess,
) -> None:
    topic = unique("compacted")
    create_topic(server.bootstrap, topic, 1, EAGER)
    writes = [(f"key-{i % 10}", f"value-{i}") for i in range(400)]
    produce(server, topic, writes)
    wait_until(lambda: cleaned(server, topic), CLEANING_S, what="a cleaning")
    records = read_from(server, topic)
    assert len(records) < len(writes)
    latest = {key: value for key, value in writes}
    assert {key: value for _, key, value in records} == latest
    for offset, _key, value in records:
        assert value == f"value-{offset}"  # the offset it was written at
    offsets = [offset for offset, _, _ in records]
    assert offsets == sorted(offsets) and offsets[-1] == 399
    described = admin_api(server, f"/api/topics/{topic}")["partitions"][0]
    assert described["cleaned_point"] > 0 and 0 <= described["dirty_ratio"] <= 1
    cleaning = next(
        c for c in admin_api(server, "/api/cleaner")["cleanings"] if c["topic"] == topic
    )
    assert cleaning["bytes_read"] > cleaning["bytes_written"] > 0 and cleaning["keys"] >= 1

    # A consumer positioned on a removed offset continues at the next existing one.
    kept = set(offsets)
    removed = next(offset for offset in range(400) if offset not in kept)
    following = min(offset for offset in kept if offset > removed)
    assert read_from(server, topic, removed)[0][0] == following


def test_a_tombstone_removes_its_key_and_is_itself_removed_after_delete_retention(
    server: BrokerProcess,
) -> None:
    topic = unique("tombstones")
    create_topic(server.bootstrap, topic, 1, {**EAGER, "delete.retention.ms": "0"})
    produce(server, topic, [("doomed", "v1"), ("doomed", None)])
    rounds = itertools.count()

    def doomed_gone_after_one_more_round() -> bool:
        # Each round rolls segments, so the tombstone's segment gets cleaned and then,
        # delete.retention.ms being 0, the tombstone goes at a later cleaning.
        round_ = next(rounds)
        produce(server, topic, [(f"other-{i % 5}", f"r{round_}-{i}") for i in range(40)])
        return not any(key == "doomed" for _, key, _ in read_from(server, topic))

    wait_until(doomed_gone_after_one_more_round, CLEANING_S, what="the tombstone removed")
    records = read_from(server, topic)
    assert "doomed" not in [key for _, key, _ in records]


def test_compact_delete_also_deletes_old_segments_by_retention(server: BrokerProcess) -> None:
    topic = unique("compact-delete")
    config = {**EAGER, "cleanup.policy": "compact,delete", "retention.ms": "1000"}
    create_topic(server.bootstrap, topic, 1, config)
    produce(server, topic, [(f"k{i}", "x" * 50) for i in range(200)])
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": unique("w")})
    try:
        wait_until(
            lambda: consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[0] > 0,
            30,
            what="retention moved the log start offset",
        )
    finally:
        consumer.close()


def test_incremental_alter_configs_switches_a_topic_to_compaction_and_back(
    server: BrokerProcess,
) -> None:
    topic = unique("switch")
    create_topic(server.bootstrap, topic, 1, {"segment.bytes": "2048"})
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    resource = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry(
                "cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND
            ),
            ConfigEntry(
                "min.cleanable.dirty.ratio", "0.01", incremental_operation=AlterConfigOpType.SET
            ),
        ],
    )
    admin.incremental_alter_configs([resource])[resource].result(10)
    policy = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
    assert next(iter(policy.values())).result(10)["cleanup.policy"].value == "delete,compact"
    produce(server, topic, [(f"k{i % 4}", f"v{i}") for i in range(300)])
    wait_until(lambda: cleaned(server, topic), CLEANING_S, what="a cleaning after the alter")

    # Removing delete leaves compact only; removing compact too leaves the empty list.
    for value, expected in (("delete", "compact"), ("compact", "")):
        resource = ConfigResource(
            ResourceType.TOPIC,
            topic,
            incremental_configs=[
                ConfigEntry(
                    "cleanup.policy", value, incremental_operation=AlterConfigOpType.SUBTRACT
                )
            ],
        )
        admin.incremental_alter_configs([resource])[resource].result(10)
        described = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
        assert next(iter(described.values())).result(10)["cleanup.policy"].value == expected


def test_keyless_records_are_refused_on_a_compacted_topic(server: BrokerProcess) -> None:
    topic = unique("keyless")
    create_topic(server.bootstrap, topic, 1, EAGER)
    producer = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0, "retries": 0})
    errors: list[KafkaError] = []
    producer.produce(topic, value=b"no key", on_delivery=lambda e, _m: errors.append(e))
    producer.flush(20)
    assert errors and errors[0] is not None
    assert errors[0].code() == KafkaError.INVALID_RECORD


def test_kafka_python_sees_latest_values_and_its_keyless_record_refused(
    server: BrokerProcess,
) -> None:
    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KafkaPythonPartition
    from kafka.errors import InvalidRecordError

    topic = unique("kafka-python")
    create_topic(server.bootstrap, topic, 1, EAGER)
    producer = KafkaProducer(bootstrap_servers=server.bootstrap, retries=0)
    for i in range(300):
        producer.send(topic, key=f"k{i % 3}".encode(), value=f"v{i}".encode())
        if i % 20 == 19:
            producer.flush()
    producer.flush()
    with pytest.raises(InvalidRecordError):
        producer.send(topic, value=b"keyless").get(timeout=20)
    producer.close()
    wait_until(lambda: cleaned(server, topic), CLEANING_S, what="a cleaning")
    consumer = KafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False)
    partition = KafkaPythonPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek(partition, 0)
    records = []
    deadline = time.monotonic() + 20
    while (not records or records[-1].offset < 299) and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    consumer.close()
    assert len(records) < 300
    assert {r.key: r.value for r in records} == {b"k0": b"v297", b"k1": b"v298", b"k2": b"v299"}
    assert all(r.value == f"v{r.offset}".encode() for r in records)


def test_a_cleaned_topic_survives_a_restart(server: BrokerProcess, tmp_path: Path) -> None:
    topic = unique("restart")
    create_topic(server.bootstrap, topic, 1, EAGER)
    produce(server, topic, [(f"k{i % 6}", f"value-{i}") for i in range(300)])
    wait_until(lambda: cleaned(server, topic), CLEANING_S, what="a cleaning")
    before = read_from(server, topic)
    server.stop()
    server.start(30)
    assert read_from(server, topic) == before


@pytest.mark.parametrize("one_record_per_batch", [False, True])
def test_keyless_records_fail_alone_as_librdkafka_0011_checks(
    server: BrokerProcess, one_record_per_batch: bool
) -> None:
    # librdkafka 0011 test_message_single_partition_record_fail: a topic made compacted with
    # IncrementalAlterConfigs APPEND; 100 records, every tenth without a key. In one batch the
    # ten fail with INVALID_RECORD (Kafka's record_errors name them) and the other ninety with
    # _INVALID_DIFFERENT_RECORD; one record per batch, the ninety are delivered.
    topic = unique("rdkafka-0011")
    create_topic(server.bootstrap, topic, 1)
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    resource = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)
        ],
    )
    admin.incremental_alter_configs([resource])[resource].result(10)
    settings = {"bootstrap.servers": server.bootstrap, "linger.ms": 100}
    if one_record_per_batch:
        settings["batch.size"] = 1
    producer = Producer(settings)
    outcomes: list[int] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        outcomes.append(KafkaError.NO_ERROR if error is None else error.code())

    for i in range(100):
        key = None if i % 10 == 0 else f"key-{i}".encode()
        producer.produce(
            topic, key=key, value=f"message {i}".encode(), partition=0, on_delivery=delivered
        )
    assert producer.flush(30) == 0
    assert outcomes.count(KafkaError.INVALID_RECORD) == 10
    others = KafkaError.NO_ERROR if one_record_per_batch else KafkaError._INVALID_DIFFERENT_RECORD
    assert outcomes.count(others) == 90


def test_aborted_transactions_records_are_removed_by_the_cleaner(server: BrokerProcess) -> None:
    topic = unique("txn-compacted")
    create_topic(server.bootstrap, topic, 1, EAGER)
    producer = Producer(
        {"bootstrap.servers": server.bootstrap, "transactional.id": unique("txn"), "linger.ms": 0}
    )
    producer.init_transactions(10)
    for round_ in range(12):
        producer.begin_transaction()
        for i in range(20):
            value = f"aborted-{round_}" if round_ % 3 == 1 else f"value-{round_}-{i}"
            producer.produce(topic, key=f"k{i % 5}".encode(), value=value.encode(), partition=0)
        if round_ % 3 == 1:
            producer.abort_transaction(10)
        else:
            producer.commit_transaction(10)
    wait_until(lambda: cleaned(server, topic), CLEANING_S, what="a cleaning")

    def values() -> list[str]:
        records = read_from(server, topic, isolation="read_uncommitted")
        return [value for _, _, value in records if value is not None]

    # read_uncommitted: once cleaned past them, aborted records are gone from the log itself
    wait_until(
        lambda: not any(v.startswith("aborted") for v in values()[:-40]), 30, what="aborted gone"
    )
    latest = {key: value for _, key, value in read_from(server, topic)}
    assert latest == {f"k{k}": f"value-11-{15 + k}" for k in range(5)}
