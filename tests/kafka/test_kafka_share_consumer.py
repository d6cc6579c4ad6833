"""Kafka's Java KafkaShareConsumer (kafka-clients 4.4) on katka: it gets every record once when
it accepts them, and a record it releases comes back with delivery count 2."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from katka.reliability.process import BrokerProcess
from tests.e2e.test_share_groups import set_group_configs
from tests.kafka.reference import classpath, kafka_libs

pytestmark = pytest.mark.kafka

JUDGE = Path(__file__).with_name("ShareJudge.java")


def judge(bootstrap: str, topic: str, group: str, count: int, mode: str) -> list[list[str]]:
    result = subprocess.run(
        [
            "java",
            "-cp",
            classpath(kafka_libs()),
            str(JUDGE),
            bootstrap,
            topic,
            group,
            str(count),
            mode,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return [line.split()[1:] for line in result.stdout.splitlines() if line.startswith("record ")]


@pytest.mark.parametrize("mode", ["accept", "release-first"])
def test_the_java_share_consumer_reads_accepts_and_releases_on_katka(
    tmp_path: Path, mode: str
) -> None:
    katka = BrokerProcess(tmp_path / "katka")
    katka.start(30)
    try:
        topic, group = f"share-{uuid.uuid4().hex[:8]}", f"sg-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": katka.bootstrap})
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
        set_group_configs(katka.bootstrap, group, share_auto_offset_reset="earliest")
        producer = Producer({"bootstrap.servers": katka.bootstrap})
        for i in range(5):
            producer.produce(topic, value=f"v{i}".encode())
        assert producer.flush(10) == 0
        records = judge(katka.bootstrap, topic, group, 5, mode)
        if mode == "accept":
            assert records == [[str(i), f"v{i}", "1"] for i in range(5)]
        else:
            assert sorted(records) == sorted(
                [str(i), f"v{i}", str(n)] for i in range(5) for n in (1, 2)
            )
    finally:
        katka.kill()
