"""Kafka's own kafka-transactions tool (kafka-tools 4.4, TransactionsCommand) against katka:
list, describe, describe-producers, find-hanging, and abort of an open transaction."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from katka.reliability.process import BrokerProcess
from tests.kafka.reference import KAFKA_VERSION, kafka_libs, unavailable

pytestmark = pytest.mark.kafka


def kafka_tools_jar(libs: Path) -> Path:
    """kafka-tools (not a dependency of the broker jar fetch-kafka.sh resolves), cached next
    to Kafka's jars."""
    jar = libs.parent / "tools" / f"kafka-tools-{KAFKA_VERSION}.jar"
    if jar.exists():
        return jar
    if shutil.which("mvn") is None:
        unavailable("no mvn to resolve kafka-tools (apt-get install maven)")
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "dependency:copy",
            f"-Dartifact=org.apache.kafka:kafka-tools:{KAFKA_VERSION}",
            f"-DoutputDirectory={jar.parent}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0 or not jar.exists():
        unavailable(f"mvn could not resolve kafka-tools:\n{result.stdout[-2000:]}")
    return jar


def test_kafka_transactions_tool_lists_describes_and_aborts_on_katka(tmp_path: Path) -> None:
    libs = kafka_libs()
    classpath = f"{kafka_tools_jar(libs)}{os.pathsep}{libs}/*"
    katka = BrokerProcess(tmp_path / "katka")
    katka.start(30)
    try:
        topic, transactional_id = f"tool-{uuid.uuid4().hex[:8]}", f"tool-tx-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": katka.bootstrap})
        admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(10)
        producer = Producer(
            {"bootstrap.servers": katka.bootstrap, "transactional.id": transactional_id}
        )
        producer.init_transactions(15)
        producer.begin_transaction()
        producer.produce(topic, value=b"stuck")
        producer.flush(10)

        def tool(*args: str) -> list[list[str]]:
            result = subprocess.run(
                [
                    "java",
                    "-cp",
                    classpath,
                    "org.apache.kafka.tools.TransactionsCommand",
                    "--bootstrap-server",
                    katka.bootstrap,
                    *args,
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr[-2000:]
            return [line.split() for line in result.stdout.splitlines() if line.strip()]

        listed = tool("list")
        assert listed[0][:4] == ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
        assert [transactional_id, "1"] == [
            row[0:2] for row in listed if row[0] == transactional_id
        ][0]
        described = tool("describe", "--transactional-id", transactional_id)
        assert described[1][4] == "Ongoing" and described[1][-1] == f"{topic}-0"
        producers = tool("describe-producers", "--topic", topic, "--partition", "0")
        assert producers[1][-1] == "0"  # CurrentTransactionStartOffset
        assert len(tool("find-hanging", "--broker-id", "1")) == 1  # the header: none hanging
        tool("abort", "--topic", topic, "--partition", "0", "--start-offset", "0")
        assert tool("describe-producers", "--topic", topic, "--partition", "0")[1][-1] == "None"
        consumer = Consumer(
            {
                "bootstrap.servers": katka.bootstrap,
                "group.id": "t",
                "isolation.level": "read_committed",
            }
        )
        try:
            stable = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
        finally:
            consumer.close()
        assert stable == 2  # the record and the ABORT marker: nothing held back any more
    finally:
        katka.kill()
