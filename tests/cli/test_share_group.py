"""`katka share-group ...` against a real broker, with a confluent-kafka ShareConsumer that
accepted part of a topic and left."""

from __future__ import annotations

import json
import time
import uuid

from confluent_kafka import AcknowledgeType, Producer, ShareConsumer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from tests.cli.conftest import CliBroker, run_katka, run_katka_process


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def accepted_share_group(bootstrap: str, records: int, accept: int) -> tuple[str, str]:
    """A topic of `records` records and a share group, now empty, that accepted `accept`."""
    topic, group = unique("share-cli"), unique("sg")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
    earliest = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[
            ConfigEntry(
                "share.auto.offset.reset",
                "earliest",
                incremental_operation=AlterConfigOpType.SET,
            )
        ],
    )
    admin.incremental_alter_configs([earliest])[earliest].result(10)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(records):
        producer.produce(topic, value=b"%d" % i)
    assert producer.flush(10) == 0
    consumer = ShareConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "share.acknowledgement.mode": "explicit",
            "max.poll.records": accept,
        }
    )
    consumer.subscribe([topic])
    seen = 0
    deadline = time.monotonic() + 30
    while seen < accept and time.monotonic() < deadline:
        for message in consumer.poll(0.2):
            if not message.error() and message.offset() < accept:
                consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                seen += 1
            elif not message.error():
                consumer.acknowledge(message, AcknowledgeType.RELEASE)
        consumer.commit_sync()
    consumer.close()
    assert seen == accept
    return topic, group


def katka_json(cli_broker: CliBroker, *args: str) -> object:
    result = run_katka(*args, "-b", cli_broker.bootstrap, "--output", "json", check=True)
    return json.loads(result.stdout)


def test_list_describe_reset_and_delete_a_share_group(cli_broker: CliBroker) -> None:
    topic, group = accepted_share_group(cli_broker.bootstrap, 6, 4)
    listed = katka_json(cli_broker, "share-group", "list")
    assert {"group": group, "state": "Empty"} in listed  # type: ignore[operator]
    described = katka_json(cli_broker, "share-group", "describe", group)
    assert described["partitions"] == [  # type: ignore[index]
        {"topic": topic, "partition": 0, "start_offset": 4, "lag": 2}
    ]
    dry = run_katka(
        "share-group",
        "reset-offsets",
        group,
        "--topic",
        topic,
        "--to-earliest",
        "-b",
        cli_broker.bootstrap,
        check=True,
    )
    assert "dry run" in dry.stdout
    run_katka(
        "share-group",
        "reset-offsets",
        group,
        "--topic",
        topic,
        "--to-earliest",
        "--execute",
        "-b",
        cli_broker.bootstrap,
        check=True,
    )
    described = katka_json(cli_broker, "share-group", "describe", group)
    assert described["partitions"][0]["start_offset"] == 0  # type: ignore[index]
    deleted = run_katka("share-group", "delete", group, "-b", cli_broker.bootstrap, check=True)
    assert f"deleted share group {group}" in deleted.stdout
    listed = katka_json(cli_broker, "share-group", "list")
    assert group not in [g["group"] for g in listed]  # type: ignore[attr-defined]


def test_describing_an_unknown_share_group_fails_with_one_line(cli_broker: CliBroker) -> None:
    result = run_katka_process("share-group", "describe", "ghost", "-b", cli_broker.bootstrap)
    assert result.returncode != 0
    assert "GROUP_ID_NOT_FOUND" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
