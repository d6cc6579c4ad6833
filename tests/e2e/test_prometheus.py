"""A real Prometheus (Debian's `prometheus`, 2.x) scraping a real `katka serve`: lag, lag in
seconds and bytes in, committed by confluent-kafka and kafka-python consumers, read back
through Prometheus' HTTP query API; `promtool check metrics` accepts the exposition."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as ConfluentPartition
from kafka import KafkaConsumer
from kafka.structs import OffsetAndMetadata
from kafka.structs import TopicPartition as KafkaPythonPartition

from katka.reliability.process import BrokerProcess, free_port
from tests.conditions import wait_until
from tests.e2e.groups import create_topic

pytestmark = pytest.mark.e2e

TOPIC = "scraped"
RECORDS = 10
AGE_MS = 90_000  # how old the produced records are: the lag in seconds to expect


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(
            f"SKIPPED LOUDLY: {name} is not installed; .ci/run installs Debian's `prometheus` "
            "package (apt-get install prometheus)"
        )
    return found


@pytest.fixture
def prometheus(tmp_path: Path, katka_with_admin: tuple[BrokerProcess, str]) -> Iterator[str]:
    binary = tool("prometheus")
    _, admin = katka_with_admin
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: katka\n    static_configs:\n      - targets: ['{admin}']\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(10)
        log.close()


def query(prometheus: str, promql: str) -> list[dict[str, object]]:
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            document = json.loads(response.read())
    except OSError:
        return []  # not up yet
    assert document["status"] == "success", document
    result: list[dict[str, object]] = document["data"]["result"]
    return result


def scalar(prometheus: str, promql: str) -> float | None:
    result = query(prometheus, promql)
    if len(result) != 1:
        return None
    value = result[0]["value"]
    assert isinstance(value, list)
    return float(value[1])


def produce_old_records(bootstrap: str) -> None:
    create_topic(bootstrap, TOPIC, 1)
    producer = Producer({"bootstrap.servers": bootstrap})
    old = int(time.time() * 1000) - AGE_MS
    for i in range(RECORDS):
        producer.produce(TOPIC, value=b"v" * 100, partition=0, timestamp=old + i)
    assert producer.flush(10) == 0


def confluent_commits(bootstrap: str, group: str, offset: int) -> None:
    """A confluent-kafka consumer of `group` reads, then commits `offset` (what it consumed)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([TOPIC])
        read = 0
        deadline = time.monotonic() + 30
        while read < offset and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                read += 1
        assert read >= offset
        consumer.commit(offsets=[ConfluentPartition(TOPIC, 0, offset)], asynchronous=False)
    finally:
        consumer.close()


def kafka_python_commits(bootstrap: str, group: str, offset: int) -> None:
    consumer = KafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        read = 0
        deadline = time.monotonic() + 30
        while read < offset and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                read += len(records)
        assert read >= offset
        partition = KafkaPythonPartition(TOPIC, 0)
        consumer.commit({partition: OffsetAndMetadata(offset, "", -1)})
    finally:
        consumer.close()


def test_prometheus_scrapes_lag_and_bytes_in_committed_by_real_consumers(
    katka_with_admin: tuple[BrokerProcess, str], prometheus: str
) -> None:
    process, _ = katka_with_admin
    produce_old_records(process.bootstrap)
    confluent_commits(process.bootstrap, "confluent-readers", 4)
    kafka_python_commits(process.bootstrap, "kafka-python-readers", 7)

    def lag_of(group: str) -> float | None:
        return scalar(prometheus, f'kafka_consumergroup_lag{{consumergroup="{group}"}}')

    wait_until(lambda: lag_of("confluent-readers") == RECORDS - 4, 60, 0.5, "confluent lag")
    wait_until(lambda: lag_of("kafka-python-readers") == RECORDS - 7, 60, 0.5, "kafka-python lag")
    offset = scalar(
        prometheus, 'kafka_consumergroup_current_offset{consumergroup="kafka-python-readers"}'
    )
    assert offset == 7
    lag_seconds = scalar(
        prometheus, 'katka_consumergroup_lag_seconds{consumergroup="confluent-readers"}'
    )
    assert lag_seconds is not None and AGE_MS / 1000 - 1 < lag_seconds < AGE_MS / 1000 + 120
    bytes_in = scalar(
        prometheus, f'sum(kafka_server_brokertopicmetrics_bytesin_total{{topic="{TOPIC}"}})'
    )
    assert bytes_in is not None and bytes_in > RECORDS * 100
    records_in = scalar(
        prometheus, f'sum(kafka_server_brokertopicmetrics_messagesin_total{{topic="{TOPIC}"}})'
    )
    assert records_in == RECORDS
    produced = scalar(
        prometheus, 'kafka_network_requestmetrics_totaltime_seconds_count{request="Produce"}'
    )
    assert produced is not None and produced >= 1
    joins = scalar(
        prometheus,
        'sum(katka_consumergroup_rebalances_total{consumergroup="confluent-readers"})',
    )
    assert joins is not None and joins >= 1


def test_promtool_accepts_the_exposition(katka_with_admin: tuple[BrokerProcess, str]) -> None:
    promtool = tool("promtool")
    process, admin = katka_with_admin
    produce_old_records(process.bootstrap)
    confluent_commits(process.bootstrap, "checked", 2)
    with urllib.request.urlopen(f"http://{admin}/metrics", timeout=10) as response:
        exposition = response.read()
    assert b"kafka_consumergroup_lag{" in exposition
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == b"" and checked.stderr.strip() == b"", checked
