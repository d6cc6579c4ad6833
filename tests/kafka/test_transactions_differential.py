"""The Java client (kafka-clients 4.4) runs the same transactional script against katka and
against Apache Kafka 4.4 (TransactionalJudge.java): commit, abort, fencing by a second
producer with the same transactional.id, and what read_committed and read_uncommitted
consumers see. The answers must be the same."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from katka.reliability.process import BrokerProcess
from tests.kafka.reference import KafkaReference, classpath, kafka_libs

pytestmark = pytest.mark.kafka

JUDGE = Path(__file__).with_name("TransactionalJudge.java")


def judge(libs: Path, bootstrap: str) -> list[str]:
    topic = f"java-txn-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    result = subprocess.run(
        ["java", "-cp", classpath(libs), str(JUDGE), bootstrap, topic],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [line for line in result.stdout.splitlines() if "=" in line]


def test_the_java_client_sees_the_same_transactions_on_katka_and_on_kafka(
    kafka_broker: KafkaReference, tmp_path: Path
) -> None:
    libs = kafka_libs()
    katka = BrokerProcess(tmp_path / "katka")
    katka.start(30)
    try:
        on_katka = judge(libs, katka.bootstrap)
    finally:
        katka.kill()
    on_kafka = judge(libs, kafka_broker.bootstrap)
    assert on_katka == on_kafka
    assert on_katka == [
        "first=fenced",
        "read_committed=[committed-1, committed-2, committed-3]",
        "read_uncommitted=[committed-1, committed-2, aborted, zombie, committed-3]",
    ]
