"""`katka transaction ...` against a real broker with a confluent-kafka transactional producer
holding a transaction open."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.cli.conftest import CliBroker, run_katka, run_katka_process


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def open_transaction(cli_broker: CliBroker) -> Iterator[tuple[str, str, Producer]]:
    """A topic with one committed record at offset 0 and a transaction open from offset 2."""
    topic, transactional_id = unique("txn-cli"), unique("tx")
    admin = AdminClient({"bootstrap.servers": cli_broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
    producer = Producer(
        {"bootstrap.servers": cli_broker.bootstrap, "transactional.id": transactional_id}
    )
    producer.init_transactions(15)
    producer.begin_transaction()
    producer.produce(topic, value=b"committed")
    producer.commit_transaction(15)  # offset 0, its COMMIT marker at 1
    producer.begin_transaction()
    producer.produce(topic, value=b"open")
    producer.flush(10)
    yield topic, transactional_id, producer


def katka_json(cli_broker: CliBroker, *args: str) -> object:
    result = run_katka(*args, "-b", cli_broker.bootstrap, "--output", "json", check=True)
    return json.loads(result.stdout)


def last_stable_offset(bootstrap: str, topic: str) -> int:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "w", "isolation.level": "read_committed"}
    )
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        consumer.close()


def test_list_and_describe_show_the_open_transaction(
    cli_broker: CliBroker, open_transaction: tuple[str, str, Producer]
) -> None:
    topic, transactional_id, _ = open_transaction
    listed = katka_json(cli_broker, "transaction", "list", "--state", "Ongoing")
    assert isinstance(listed, list)
    assert transactional_id in {row["transactional_id"] for row in listed}
    described = katka_json(cli_broker, "transaction", "describe", transactional_id)
    assert isinstance(described, dict)
    assert (described["state"], described["partitions"]) == ("Ongoing", [f"{topic}-0"])
    producers = katka_json(
        cli_broker, "transaction", "describe-producers", "--topic", topic, "--partition", "0"
    )
    assert isinstance(producers, list)
    assert [p["current_transaction_start_offset"] for p in producers] == [2]


def test_a_running_transaction_is_not_hanging_and_abort_by_start_offset_ends_it(
    cli_broker: CliBroker, open_transaction: tuple[str, str, Producer]
) -> None:
    topic, _, _ = open_transaction
    hanging = katka_json(
        cli_broker,
        "transaction",
        "find-hanging",
        "--topic",
        topic,
        "--max-transaction-timeout",
        "0",
    )
    assert hanging == []
    assert last_stable_offset(cli_broker.bootstrap, topic) == 2
    result = run_katka_process(
        "transaction",
        "abort",
        "--topic",
        topic,
        "--partition",
        "0",
        "--start-offset",
        "2",
        "-b",
        cli_broker.bootstrap,
        check=True,
    )
    assert "aborted the transaction" in result.stdout
    assert last_stable_offset(cli_broker.bootstrap, topic) == 4


def test_describing_an_unknown_transactional_id_fails_with_one_line(cli_broker: CliBroker) -> None:
    result = run_katka("transaction", "describe", "no-such-tx", "-b", cli_broker.bootstrap)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "no-such-tx" in result.stderr
