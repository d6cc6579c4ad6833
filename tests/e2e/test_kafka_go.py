"""Debian's segmentio kafka-go (0.2.1, Go), which speaks only Produce v2 and Fetch v2 with
message format v1 (Kafka 0.10): it writes with every codec it has, then a consumer group of
its own reads everything back and commits (issue 10 part 3). katka stores its message sets as
v2 batches with the same codec and converts them back to magic 1 messages on fetch."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from katka.protocol.records import iter_batches
from katka.reliability.process import BrokerProcess
from tests.e2e.go_programs import build_go_program
from tests.e2e.test_produce_consume import create_topic, unique

SOURCE = Path(__file__).parent / "kafkago" / "main.go"
CODECS = ["none", "gzip", "snappy", "lz4"]
PER_CODEC = 3


@pytest.fixture(scope="module")
def kafka_go_client() -> Path:
    return build_go_program(
        SOURCE, "github.com/segmentio/kafka-go", "golang-github-segmentio-kafka-go-dev"
    )


def test_kafka_go_produces_v2_and_its_group_fetches_v2_everything_back(
    kafka_go_client: Path, katka_server: BrokerProcess
) -> None:
    topic, group = unique("kafka-go"), unique("kafka-go")
    create_topic(katka_server.bootstrap, topic, 1)
    run = subprocess.run(
        [
            str(kafka_go_client),
            *("-broker", katka_server.bootstrap, "-topic", topic, "-group", group),
            *("-count", str(PER_CODEC)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    expected = [(f"k{i}", f"{codec}-{i}") for codec in CODECS for i in range(PER_CODEC)]
    assert [(r["key"], r["value"]) for r in records] == expected
    assert [r["offset"] for r in records] == list(range(len(expected)))

    # Stored as v2 batches with the codec kafka-go used.
    log_dir = katka_server.data_dir / f"{topic}-0"
    stored = b"".join(path.read_bytes() for path in sorted(log_dir.glob("*.log")))
    codecs = [header.compression for header, _ in iter_batches(stored)]
    assert [codec for codec, _ in itertools.groupby(codecs)] == [0, 1, 2, 3]

    # A current client reads what kafka-go wrote, and sees its group's commit.
    consumer = Consumer({"bootstrap.servers": katka_server.bootstrap, "group.id": group})
    try:
        (committed,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        assert committed.offset == len(expected)
        consumer.assign([TopicPartition(topic, 0, 0)])
        values = []
        while len(values) < len(expected):
            message = consumer.poll(10)
            assert message is not None and message.error() is None
            values.append(message.value().decode())
        assert values == [value for _, value in expected]
    finally:
        consumer.close()
