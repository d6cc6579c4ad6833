"""Kafka 4.4's own admin tools (kafka-tools: kafka-log-dirs, kafka-metadata-quorum,
kafka-get-offsets, kafka-configs for client quotas, kafka-reassign-partitions --list,
kafka-delete-records, kafka-topics) against katka, as against a one-node Kafka."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from katka.reliability.process import BrokerProcess
from tests.kafka.reference import kafka_libs
from tests.kafka.test_kafka_transactions_tool import kafka_tools_jar

pytestmark = pytest.mark.kafka


def test_kafkas_admin_tools_work_against_katka(tmp_path: Path) -> None:
    libs = kafka_libs()
    classpath = f"{kafka_tools_jar(libs)}{os.pathsep}{libs}/*"
    katka = BrokerProcess(tmp_path / "katka")
    katka.start(30)
    try:
        admin = AdminClient({"bootstrap.servers": katka.bootstrap})
        admin.create_topics([NewTopic("sizes", 2, 1)])["sizes"].result(10)
        producer = Producer({"bootstrap.servers": katka.bootstrap})
        for i in range(10):
            producer.produce("sizes", b"x" * 100, partition=i % 2)
        assert producer.flush(10) == 0

        def tool(main: str, *args: str) -> str:
            result = subprocess.run(
                ["java", "-cp", classpath, main, "--bootstrap-server", katka.bootstrap, *args],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
            return result.stdout

        log_dirs = tool(
            "org.apache.kafka.tools.LogDirsCommand", "--describe", "--topic-list", "sizes"
        )
        (broker,) = json.loads(log_dirs.splitlines()[-1])["brokers"]
        sizes = {p["partition"]: p["size"] for p in broker["logDirs"][0]["partitions"]}
        assert set(sizes) == {"sizes-0", "sizes-1"} and min(sizes.values()) > 500

        status = tool("org.apache.kafka.tools.MetadataQuorumCommand", "describe", "--status")
        assert "LeaderId:               1" in status and '"id": 1' in status
        replication = tool(
            "org.apache.kafka.tools.MetadataQuorumCommand", "describe", "--replication"
        )
        assert "Leader" in replication

        offsets = tool("org.apache.kafka.tools.GetOffsetShell", "--topic", "sizes")
        assert sorted(offsets.split()) == ["sizes:0:5", "sizes:1:5"]

        tool(
            "org.apache.kafka.tools.ConfigCommand",
            "--alter",
            "--entity-type",
            "clients",
            "--entity-name",
            "app",
            "--add-config",
            "producer_byte_rate=1024,consumer_byte_rate=2048",
        )
        quotas = tool(
            "org.apache.kafka.tools.ConfigCommand",
            "--describe",
            "--entity-type",
            "clients",
            "--entity-name",
            "app",
        )
        assert "producer_byte_rate=1024.0" in quotas and "consumer_byte_rate=2048.0" in quotas

        listed = tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand", "--list")
        assert "No partition reassignments found." in listed

        plan = tmp_path / "delete.json"
        plan.write_text(
            json.dumps(
                {"partitions": [{"topic": "sizes", "partition": 0, "offset": 3}], "version": 1}
            )
        )
        deleted = tool(
            "org.apache.kafka.tools.DeleteRecordsCommand", "--offset-json-file", str(plan)
        )
        assert "low_watermark: 3" in deleted

        described = tool("org.apache.kafka.tools.TopicCommand", "--describe", "--topic", "sizes")
        assert "PartitionCount: 2" in described and "Leader: 1" in described
    finally:
        katka.kill()
