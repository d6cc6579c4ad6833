"""Kafka Connect 4.4's distributed worker (connect-runtime) on katka: it creates its config,
offset and status topics compacted (the offset topic with the small segments and eager cleaner
it is given, so katka's cleaner cleans it), runs a connector created over its REST API
(SequenceSource.java), and a restarted worker keeps the connector and resumes from its stored
source offset: the numbers written run 0..n with no gap and do not start over."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from katka.reliability.process import BrokerProcess, free_port
from tests.conditions import wait_until
from tests.e2e.test_compaction import cleaned
from tests.kafka.reference import kafka_libs, unavailable
from tests.kafka.test_kafka_streams_eos import maven_libs

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CONNECTOR = Path(__file__).with_name("SequenceSource.java")
TOPICS = {"config": "connect-configs", "offset": "connect-offsets", "status": "connect-status"}


def compile_connector(classpath: str, into: Path) -> Path:
    result = subprocess.run(
        ["javac", "-cp", classpath, "-d", str(into), str(CONNECTOR)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        unavailable(f"javac could not compile {CONNECTOR.name}:\n{result.stderr[-2000:]}")
    return into


def rest(port: int, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def answers(port: int, path: str) -> bool:
    try:
        rest(port, path)
        return True
    except (OSError, urllib.error.URLError, json.JSONDecodeError):
        return False


def running(port: int, name: str) -> bool:
    try:
        status = rest(port, f"/connectors/{name}/status")
    except (OSError, urllib.error.URLError):
        return False
    tasks = status.get("tasks", [])
    return status["connector"]["state"] == "RUNNING" and [t["state"] for t in tasks] == ["RUNNING"]


def sequence(bootstrap: str, topic: str) -> list[int]:
    """Every number in `topic` now, in offset order."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "connect-check", "log_level": 0}
    )
    partition = TopicPartition(topic, 0, 0)
    end = consumer.get_watermark_offsets(partition, timeout=10)[1]
    consumer.assign([partition])
    numbers: list[int] = []
    deadline = time.monotonic() + 30
    try:
        while len(numbers) < end and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.3):
                if message.error() is None and (message.offset() or 0) < end:
                    numbers.append(int(message.value() or b"0"))
    finally:
        consumer.close()
    assert len(numbers) == end, f"read {len(numbers)} of {end}"
    return numbers


def test_kafka_connect_worker_keeps_its_connector_and_source_offsets_across_a_restart(
    tmp_path: Path,
) -> None:
    libs = maven_libs(kafka_libs(), "connect", ["connect-runtime", "connect-json"])
    classpath = f"{libs}/*"
    plugin = compile_connector(classpath, tmp_path / "classes")
    broker = BrokerProcess(
        tmp_path / "data",
        overrides=["group.initial.rebalance.delay.ms=0", "log.cleaner.backoff.ms=100"],
    )
    broker.start(30)
    port = free_port()
    worker_config = tmp_path / "worker.properties"
    worker_config.write_text(
        "\n".join(
            [
                f"bootstrap.servers={broker.bootstrap}",
                "group.id=katka-connect",
                f"listeners=http://127.0.0.1:{port}",
                "key.converter=org.apache.kafka.connect.storage.StringConverter",
                "value.converter=org.apache.kafka.connect.storage.StringConverter",
                *(f"{kind}.storage.topic={topic}" for kind, topic in TOPICS.items()),
                *(f"{kind}.storage.replication.factor=1" for kind in TOPICS),
                "offset.storage.partitions=1",
                "status.storage.partitions=1",
                # Passed to the offset topic Connect creates: small segments, an eager cleaner.
                "offset.storage.segment.bytes=1024",
                "offset.storage.min.cleanable.dirty.ratio=0.01",
                "offset.flush.interval.ms=200",
                "scheduled.rebalance.max.delay.ms=0",
                "",
            ]
        )
    )
    workers: list[subprocess.Popen[str]] = []

    def start_worker() -> None:
        workers.append(
            subprocess.Popen(
                [
                    "java",
                    "-cp",
                    f"{classpath}:{plugin}",
                    "org.apache.kafka.connect.cli.ConnectDistributed",
                    str(worker_config),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )
        wait_until(lambda: answers(port, "/connectors"), 120, 0.5, "the worker's REST API")

    try:
        start_worker()
        rest(
            port,
            "/connectors",
            {
                "name": "sequence",
                "config": {
                    "connector.class": "SequenceSource",
                    "tasks.max": "1",
                    "topic": "numbers",
                },
            },
        )
        wait_until(lambda: running(port, "sequence"), 60, 0.5, "the connector running")

        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for topic in TOPICS.values():
            resource = ConfigResource(ResourceType.TOPIC, topic)
            configs = admin.describe_configs([resource])[resource].result(10)
            assert configs["cleanup.policy"].value == "compact", topic
        wait_until(lambda: len(sequence(broker.bootstrap, "numbers")) >= 100, 60, 0.5)
        wait_until(lambda: cleaned(broker, TOPICS["offset"]), 60, 0.5, "the offsets cleaned")

        workers[-1].terminate()
        workers[-1].wait(60)
        before = len(sequence(broker.bootstrap, "numbers"))
        start_worker()
        assert rest(port, "/connectors") == ["sequence"]
        wait_until(lambda: running(port, "sequence"), 60, 0.5, "the connector running again")
        wait_until(lambda: len(sequence(broker.bootstrap, "numbers")) >= before + 50, 60, 0.5)

        numbers = sequence(broker.bootstrap, "numbers")
        resumed = numbers[before:]
        assert resumed[0] > 0, "the restarted task started over from 0"
        assert resumed[0] <= numbers[before - 1] + 1, "numbers skipped across the restart"
        assert sorted(set(numbers)) == list(range(max(numbers) + 1))
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(30)
        broker.kill()
