"""Exactly-once with real clients against `katka serve`: transactional producers (confluent-kafka,
aiokafka) commit and abort, read_committed consumers see only committed records and stop at
the last stable offset, a second producer fences the first, the broker aborts a transaction
open past its timeout, and consume-transform-produce commits offsets with the output."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from katka.reliability.process import BrokerProcess
from tests.e2e.groups import create_topic, unique


def transactional_producer(bootstrap: str, transactional_id: str, **extra: Any) -> Producer:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": transactional_id, **extra}
    )
    producer.init_transactions(15)
    return producer


def read(
    bootstrap: str,
    topic: str,
    partitions: int,
    isolation: str,
    settle: float = 1.5,
    timeout: float = 20,
) -> list[tuple[int, int, bytes]]:
    """Everything the consumer gets until nothing new arrives for `settle` seconds."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("reader"),
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got: list[tuple[int, int, bytes]] = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline and time.monotonic() - quiet_since < settle:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            got.append((message.partition(), message.offset(), message.value()))
            quiet_since = time.monotonic()
    finally:
        consumer.close()
    return sorted(got)


def values(records: list[tuple[int, int, bytes]]) -> list[bytes]:
    return sorted(value for _, _, value in records)


def test_read_committed_sees_committed_and_plain_records_never_aborted_or_open_ones(
    katka_server: BrokerProcess,
) -> None:
    bootstrap = katka_server.bootstrap
    topic = unique("txn-mixed")
    create_topic(bootstrap, topic, 2)
    producer = transactional_producer(bootstrap, unique("tx"))
    plain = Producer({"bootstrap.servers": bootstrap})

    producer.begin_transaction()
    for i in range(4):
        producer.produce(topic, value=b"committed-%d" % i, partition=i % 2)
    plain.produce(topic, value=b"plain-1", partition=0)
    plain.flush(10)
    producer.commit_transaction(15)
    producer.begin_transaction()
    for i in range(4):
        producer.produce(topic, value=b"aborted-%d" % i, partition=i % 2)
    producer.flush(10)
    plain.produce(topic, value=b"plain-2", partition=1)
    plain.flush(10)
    producer.abort_transaction(15)
    producer.begin_transaction()
    producer.produce(topic, value=b"open", partition=0)
    producer.flush(10)

    committed = values(read(bootstrap, topic, 2, "read_committed"))
    uncommitted = values(read(bootstrap, topic, 2, "read_uncommitted"))
    expected_committed = sorted([b"committed-%d" % i for i in range(4)] + [b"plain-1", b"plain-2"])
    assert committed == expected_committed
    assert uncommitted == sorted(
        expected_committed + [b"aborted-%d" % i for i in range(4)] + [b"open"]
    )

    producer.commit_transaction(15)
    assert values(read(bootstrap, topic, 2, "read_committed")) == sorted(
        expected_committed + [b"open"]
    )


def test_the_last_stable_offset_bounds_a_read_committed_consumer_and_its_lag(
    katka_server: BrokerProcess,
) -> None:
    bootstrap = katka_server.bootstrap
    topic = unique("txn-lso")
    create_topic(bootstrap, topic, 1)
    plain = Producer({"bootstrap.servers": bootstrap})
    for i in range(3):
        plain.produce(topic, value=b"before-%d" % i)
    plain.flush(10)
    producer = transactional_producer(bootstrap, unique("tx"))
    producer.begin_transaction()
    producer.produce(topic, value=b"open")
    producer.flush(10)
    for i in range(2):
        plain.produce(topic, value=b"after-%d" % i)
    plain.flush(10)

    def watermarks(isolation: str) -> tuple[int, int]:
        consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": unique("w"), "isolation.level": isolation}
        )
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
            return int(low), int(high)
        finally:
            consumer.close()

    # offsets 0-2 plain, 3 the open transaction, 4-5 plain: the LSO is 3.
    assert watermarks("read_committed") == (0, 3)
    assert watermarks("read_uncommitted") == (0, 6)
    assert values(read(bootstrap, topic, 1, "read_committed")) == [
        b"before-0",
        b"before-1",
        b"before-2",
    ]
    producer.commit_transaction(15)
    # 6 records and the COMMIT marker at offset 6.
    assert watermarks("read_committed") == (0, 7)
    assert len(read(bootstrap, topic, 1, "read_committed")) == 6


def test_a_second_producer_with_the_same_transactional_id_fences_the_first(
    katka_server: BrokerProcess,
) -> None:
    bootstrap = katka_server.bootstrap
    topic = unique("txn-fence")
    create_topic(bootstrap, topic, 1)
    transactional_id = unique("tx")
    first = transactional_producer(bootstrap, transactional_id)
    first.begin_transaction()
    first.produce(topic, value=b"zombie")
    first.flush(10)

    second = transactional_producer(bootstrap, transactional_id)  # aborts the open one
    second.begin_transaction()
    second.produce(topic, value=b"winner")
    second.commit_transaction(15)

    with pytest.raises(KafkaException) as raised:
        first.produce(topic, value=b"zombie-2")
        first.commit_transaction(15)
    error = raised.value.args[0]
    assert error.fatal() or error.txn_requires_abort(), error
    assert values(read(bootstrap, topic, 1, "read_committed")) == [b"winner"]


def test_a_transaction_open_past_its_timeout_is_aborted_by_the_broker(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    server = start_katka(["-o", "transaction.abort.timed.out.transaction.cleanup.interval.ms=100"])
    bootstrap = server.bootstrap
    topic = unique("txn-timeout")
    create_topic(bootstrap, topic, 1)
    producer = transactional_producer(bootstrap, unique("tx"), **{"transaction.timeout.ms": 1000})
    producer.begin_transaction()
    producer.produce(topic, value=b"too-slow")
    producer.flush(10)
    deadline = time.monotonic() + 15
    # The abort marker moves the last stable offset past the abandoned record.
    while time.monotonic() < deadline:
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": unique("w"),
                "isolation.level": "read_committed",
            }
        )
        high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        consumer.close()
        if high == 2:
            break
        time.sleep(0.2)
    assert high == 2
    assert read(bootstrap, topic, 1, "read_committed") == []
    with pytest.raises(KafkaException):
        producer.commit_transaction(15)


def test_max_timeout_is_enforced_at_init(katka_server: BrokerProcess) -> None:
    producer = Producer(
        {
            "bootstrap.servers": katka_server.bootstrap,
            "transactional.id": unique("tx"),
            "transaction.timeout.ms": 900_001,
        }
    )
    with pytest.raises(KafkaException) as raised:
        producer.init_transactions(15)
    assert "timeout" in str(raised.value).lower()


def test_consume_transform_produce_commits_offsets_only_with_the_transaction(
    katka_server: BrokerProcess,
) -> None:
    bootstrap = katka_server.bootstrap
    source, sink, group = unique("ctp-in"), unique("ctp-out"), unique("ctp")
    create_topic(bootstrap, source, 1)
    create_topic(bootstrap, sink, 1)
    plain = Producer({"bootstrap.servers": bootstrap})
    for i in range(10):
        plain.produce(source, value=b"%d" % i)
    plain.flush(10)

    def committed() -> int:
        probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
        try:
            return int(probe.committed([TopicPartition(source, 0)], timeout=10)[0].offset)
        finally:
            probe.close()

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([source])
    producer = transactional_producer(bootstrap, unique("tx"))

    def process_batch(count: int, commit: bool) -> None:
        producer.begin_transaction()
        taken = 0
        deadline = time.monotonic() + 20
        while taken < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            producer.produce(sink, value=b"out-" + message.value())
            taken += 1
        assert taken == count
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 15
        )
        if commit:
            producer.commit_transaction(15)
        else:
            producer.abort_transaction(15)

    process_batch(4, commit=True)
    assert committed() == 4
    process_batch(3, commit=False)
    assert committed() == 4  # the aborted transaction's offsets never became visible
    consumer.close()
    assert values(read(bootstrap, sink, 1, "read_committed")) == sorted(
        b"out-%d" % i for i in range(4)
    )


def test_aiokafka_transactional_producer_commits_and_aborts(katka_server: BrokerProcess) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    bootstrap = katka_server.bootstrap
    topic = unique("txn-aio")
    create_topic(bootstrap, topic, 1)

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=unique("tx"))
        await producer.start()
        try:
            async with producer.transaction():
                await producer.send_and_wait(topic, b"kept")
            await producer.begin_transaction()
            await producer.send_and_wait(topic, b"dropped")
            await producer.abort_transaction()
        finally:
            await producer.stop()
        seen: dict[str, list[bytes]] = {}
        for isolation in ("read_committed", "read_uncommitted"):
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=bootstrap,
                isolation_level=isolation,
                auto_offset_reset="earliest",
            )
            await consumer.start()
            try:
                batches = await consumer.getmany(timeout_ms=3000)
                seen[isolation] = [m.value for ms in batches.values() for m in ms]
            finally:
                await consumer.stop()
        return seen["read_committed"], seen["read_uncommitted"]

    committed, uncommitted = asyncio.run(scenario())
    assert committed == [b"kept"]
    assert uncommitted == [b"kept", b"dropped"]


def test_kafka_python_admin_lists_describes_and_aborts_transactions(
    katka_server: BrokerProcess,
) -> None:
    from kafka import TopicPartition as KafkaTopicPartition
    from kafka.admin import AbortTransactionSpec, KafkaAdminClient

    bootstrap = katka_server.bootstrap
    topic = unique("txn-admin")
    create_topic(bootstrap, topic, 2)
    transactional_id = unique("tx")
    producer = transactional_producer(bootstrap, transactional_id)
    producer.begin_transaction()
    producer.produce(topic, value=b"stuck", partition=1)
    producer.flush(10)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        listed = [t for ts in admin.list_transactions().values() for t in ts]
        mine = [t for t in listed if t.transactional_id == transactional_id]
        assert [t.state.value for t in mine] == ["Ongoing"]
        description = admin.describe_transactions([transactional_id])[transactional_id]
        assert description.topic_partitions == {KafkaTopicPartition(topic, 1)}
        assert description.producer_id == mine[0].producer_id
        partition = KafkaTopicPartition(topic, 1)
        producers = admin.describe_producers([partition])[partition].active_producers
        assert [(p.producer_id, p.current_transaction_start_offset) for p in producers] == [
            (description.producer_id, 0)
        ]
        ongoing_only = admin.list_transactions(state_filters=["CompleteCommit"])
        assert transactional_id not in {
            t.transactional_id for ts in ongoing_only.values() for t in ts
        }

        # kafka-transactions.sh abort: a marker written straight into the partition.
        admin.abort_transaction(
            AbortTransactionSpec(partition, description.producer_id, description.producer_epoch, 0)
        )
        producers = admin.describe_producers([partition])[partition].active_producers
        assert [p.current_transaction_start_offset for p in producers] == [-1]
        assert read(bootstrap, topic, 2, "read_committed") == []
    finally:
        admin.close()


def test_offsets_from_a_consumer_generation_a_rebalance_ended_are_refused(
    katka_server: BrokerProcess,
) -> None:
    """KIP-447: the consumer's group metadata travels with TxnOffsetCommit, so a zombie that
    lost its partitions in a rebalance cannot commit offsets for them in a transaction."""
    bootstrap = katka_server.bootstrap
    source, group = unique("kip447"), unique("kip447-group")
    create_topic(bootstrap, source, 2)

    def member() -> Consumer:
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 200,
            }
        )
        consumer.subscribe([source])
        return consumer

    def poll_until(condition: Callable[[], bool], *consumers: Consumer) -> None:
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, "the group never settled"
            for consumer in consumers:
                consumer.poll(0.1)

    first = member()
    poll_until(lambda: len(first.assignment()) == 2, first)
    stale = first.consumer_group_metadata()
    second = member()
    poll_until(
        lambda: len(first.assignment()) == 1 and len(second.assignment()) == 1, first, second
    )

    producer = transactional_producer(bootstrap, unique("tx"))
    producer.begin_transaction()
    with pytest.raises(KafkaException) as raised:
        producer.send_offsets_to_transaction([TopicPartition(source, 0, 1)], stale, 15)
    assert "generation" in str(raised.value).lower() or "fenced" in str(raised.value).lower()
    if raised.value.args[0].txn_requires_abort():
        producer.abort_transaction(15)
        producer.begin_transaction()
    producer.send_offsets_to_transaction(
        [TopicPartition(source, p.partition, 1) for p in first.assignment()],
        first.consumer_group_metadata(),
        15,
    )
    producer.commit_transaction(15)
    first.close()
    second.close()


def test_aiokafka_sends_a_live_groups_offsets_in_its_transaction(
    katka_server: BrokerProcess,
) -> None:
    """aiokafka sends TxnOffsetCommit v0-2 (no member id or generation, as Kafka allows for
    older clients) while its consumer is a live member of the group."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka import TopicPartition as AioPartition

    bootstrap = katka_server.bootstrap
    source, group = unique("aio-ctp"), unique("aio-ctp-group")
    create_topic(bootstrap, source, 1)
    plain = Producer({"bootstrap.servers": bootstrap})
    for i in range(3):
        plain.produce(source, value=b"%d" % i)
    plain.flush(10)

    async def scenario() -> int | None:
        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=unique("tx"))
        await consumer.start()
        await producer.start()
        try:
            batches = await consumer.getmany(timeout_ms=10_000)
            taken = [m for ms in batches.values() for m in ms]
            assert taken
            async with producer.transaction():
                await producer.send_offsets_to_transaction(
                    {AioPartition(source, 0): taken[-1].offset + 1}, group
                )
            return await consumer.committed(AioPartition(source, 0))
        finally:
            await producer.stop()
            await consumer.stop()

    assert asyncio.run(scenario()) == 3
