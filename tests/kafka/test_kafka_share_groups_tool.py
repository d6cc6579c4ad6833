"""Kafka's own kafka-share-groups tool (kafka-tools 4.4, ShareGroupCommand) against katka: list,
describe (offsets and members), reset-offsets and delete of a share group that a
confluent-kafka ShareConsumer used."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from katka.reliability.process import BrokerProcess
from tests.cli.test_share_group import accepted_share_group
from tests.kafka.reference import kafka_libs
from tests.kafka.test_kafka_transactions_tool import kafka_tools_jar

pytestmark = pytest.mark.kafka


def test_kafka_share_groups_tool_lists_describes_resets_and_deletes_on_katka(
    tmp_path: Path,
) -> None:
    libs = kafka_libs()
    classpath = f"{kafka_tools_jar(libs)}{os.pathsep}{libs}/*"
    katka = BrokerProcess(tmp_path / "katka")
    katka.start(30)
    try:
        topic, group = accepted_share_group(katka.bootstrap, 6, 4)

        def tool(*args: str) -> list[list[str]]:
            result = subprocess.run(
                [
                    "java",
                    "-cp",
                    classpath,
                    "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
                    "--bootstrap-server",
                    katka.bootstrap,
                    *args,
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
            return [line.split() for line in result.stdout.splitlines() if line.strip()]

        assert [group] in tool("--list")
        described = tool("--describe", "--group", group)
        row = next(r for r in described if topic in r)
        assert row[:4] == [group, topic, "0", "4"]  # GROUP TOPIC PARTITION START-OFFSET
        tool("--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute")
        row = next(r for r in tool("--describe", "--group", group) if topic in r)
        assert row[3] == "0"
        tool("--delete", "--group", group)
        assert [group] not in tool("--list")
    finally:
        katka.kill()
