"""The same hand-made batches sent by plain sockets to Apache Kafka 4.4 and to katka: both
answer alike, store the same timestamp fields and answer ListOffsets by time alike (issue 10
part 1: sarama before 1.45.1 sends max_timestamp -1; records past after.max.ms are refused
with the same record_errors)."""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from katka.protocol.batches import CRC_OFFSET, compute_crc
from katka.protocol.records import build_batch, iter_batches
from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.e2e.test_batch_timestamps import HOUR, RawClient, sarama_batch
from tests.e2e.test_produce_consume import create_topic as create_topic_only
from tests.e2e.test_produce_consume import unique
from tests.kafka.reference import KafkaReference

pytestmark = pytest.mark.kafka


def create_topic(
    bootstrap: str, name: str, partitions: int, config: dict[str, str] | None = None
) -> None:
    """Create, then wait until every partition has a leader: Kafka answers CreateTopics before
    its partitions are ready (a produce at once gets NOT_LEADER_OR_FOLLOWER); katka at once."""
    from confluent_kafka.admin import AdminClient

    create_topic_only(bootstrap, name, partitions, config)
    admin = AdminClient({"bootstrap.servers": bootstrap})

    def led() -> bool:
        topic = admin.list_topics(name, timeout=10).topics.get(name)
        return (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 and p.error is None for p in topic.partitions.values())
        )

    wait_until(led, 30, what=f"a leader for every partition of {name}")


@pytest.fixture
def katka_broker(tmp_path: Path) -> Iterator[BrokerProcess]:
    process = BrokerProcess(tmp_path / "data")
    process.start(30)
    yield process
    process.kill()


def both(kafka: KafkaReference, katka: BrokerProcess) -> list[tuple[str, Any]]:
    return [("kafka", kafka), ("katka", katka)]


def masked(text: str | None) -> str | None:
    """Error texts quote the broker's clock: compare them with the numbers masked."""
    return None if text is None else re.sub(r"-?\d{6,}", "N", text)


def stored_fields(records: bytes) -> list[tuple[int, int, int, int, int]]:
    return [
        (h.base_offset, h.attributes, h.base_timestamp, h.max_timestamp, h.record_count)
        for h, batch in iter_batches(records)
        if compute_crc(batch) == h.crc
    ]


def test_minus_one_max_timestamps_are_stored_and_found_as_kafka_does(
    kafka_broker: KafkaReference, katka_broker: BrokerProcess
) -> None:
    now_ms = int(time.time() * 1000)
    batches = [
        sarama_batch(b"a", now_ms - 5_000, compression=0),
        sarama_batch(b"b", now_ms - 3_000, compression=1),
        sarama_batch(b"c", now_ms - 4_000, compression=4),  # zstd: refused below Produce v7
        sarama_batch(b"d", now_ms - 1_000, compression=2),
        sarama_batch(b"e", now_ms - 2_000, compression=3),
    ]
    results = {}
    for name, server in both(kafka_broker, katka_broker):
        topic = unique("minus-one")
        create_topic(server.bootstrap, topic, 1)
        client = RawClient(server)
        try:
            answers = [client.produce(topic, batch) for batch in batches]
            answers.append(client.produce(topic, batches[2], version=8))
            by_time = [
                client.list_offset(topic, now_ms + delta)
                for delta in (-6_000, -5_000, -4_500, -3_000, -1_500, -1_000, 0)
            ]
            fields = stored_fields(client.fetch(topic))
        finally:
            client.close()
        results[name] = ([(a.error_code, a.base_offset) for a in answers], by_time, fields)
    assert results["katka"] == results["kafka"]
    assert [f[3] for f in results["katka"][2]] == [
        now_ms - d for d in (5_000, 3_000, 1_000, 2_000, 4_000)
    ]


def test_refused_records_get_the_same_errors_as_from_kafka(
    kafka_broker: KafkaReference, katka_broker: BrokerProcess
) -> None:
    now_ms = int(time.time() * 1000)
    ahead = build_batch([(None, b"now", (), now_ms), (None, b"later", (), now_ms + 2 * HOUR)])
    own_log_append_time = bytearray(build_batch([(b"k", b"v", (), now_ms)]))
    struct.pack_into(">h", own_log_append_time, 21, 0x08)
    struct.pack_into(">I", own_log_append_time, CRC_OFFSET, compute_crc(own_log_append_time))
    two_batches = build_batch([(None, b"x", (), now_ms)]) * 2
    answers = {}
    for name, server in both(kafka_broker, katka_broker):
        topic, log_append_topic = unique("refused"), unique("append-time")
        create_topic(server.bootstrap, topic, 1)
        create_topic(
            server.bootstrap, log_append_topic, 1, {"message.timestamp.type": "LogAppendTime"}
        )
        client = RawClient(server)
        try:
            replies = [
                client.produce(topic, ahead, version=8),
                client.produce(log_append_topic, bytes(own_log_append_time), version=8),
                client.produce(topic, two_batches, version=8),
            ]
        finally:
            client.close()
        answers[name] = [
            (
                reply.error_code,
                masked(reply.error_message),
                [(e.batch_index, masked(e.batch_index_error_message)) for e in reply.record_errors],
            )
            for reply in replies
        ]
    assert answers["katka"][:2] == answers["kafka"][:2]
    assert answers["katka"][2][0] == answers["kafka"][2][0]  # INVALID_RECORD; texts may differ
