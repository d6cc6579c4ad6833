"""Debian's sarama (1.22.1, Go) produces with every codec Kafka takes from it and reads it all
back; its ClusterAdmin and its consumer group work with the request versions Kafka 4.0 dropped.

sarama before 1.45.1 leaves each batch header's max_timestamp at -1; Kafka's broker sets it
from the records, and so must katka (issue 10 part 1), or retention deletes the data. Its
ClusterAdmin sends DescribeConfigs v0 and Metadata v0, and (configured as Kafka 0.10.2)
CreateTopics v0 and DeleteTopics v0; its consumer group commits with OffsetCommit v1 unless a
retention is configured (issue 10 part 3). The Go
program (tests/e2e/sarama/main.go) is built offline with Debian's Go (go_programs.py).

Every test runs twice more with current sarama (github.com/IBM/sarama, the newest release on the
Go module proxy, built in module mode into ~/.cache/katka-go): it produces zstd too (Produce v7)
and sends the newer versions its Kafka 2.1 configuration allows. Skipped loudly when the module
proxy is unreachable.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from katka.protocol.records import decode_records, iter_batches
from katka.reliability.process import BrokerProcess
from tests.e2e.go_programs import GO_CACHE, build_go_module_program, build_go_program
from tests.e2e.groups import produce
from tests.e2e.test_batch_timestamps import EARLIEST, RawClient, retention_checks, wait_for
from tests.e2e.test_produce_consume import create_topic, unique

SOURCE = Path(__file__).parent / "sarama" / "main.go"
# sarama 1.22 sends zstd in Produce v3, which Kafka refuses before v7 (KIP-110), and so does katka.
CODECS = ["none", "gzip", "snappy", "lz4"]
PER_CODEC = 4


@pytest.fixture(scope="module", params=["debian-1.22", "current"])
def sarama_client(request: pytest.FixtureRequest) -> Path:
    if request.param == "current":
        return build_go_module_program(
            SOURCE, "github.com/IBM/sarama", {"github.com/Shopify/sarama": "github.com/IBM/sarama"}
        )
    return build_go_program(SOURCE, "github.com/Shopify/sarama", "golang-github-shopify-sarama-dev")


def is_current(binary: Path) -> bool:
    return binary.is_relative_to(GO_CACHE)


def test_sarama_produces_with_every_codec_and_reads_it_all_back(
    sarama_client: Path, start_katka: Callable[..., BrokerProcess]
) -> None:
    server = start_katka(["-o", "log.retention.check.interval.ms=1000", "--log-level", "DEBUG"])
    topic = unique("sarama")
    # A segment per batch, so retention looks at closed segments holding sarama's batches.
    create_topic(server.bootstrap, topic, 1, {"segment.bytes": "200"})
    started_ms = int(time.time() * 1000)

    codecs = CODECS + ["zstd"] if is_current(sarama_client) else CODECS
    zstd = ["-zstd"] if is_current(sarama_client) else []
    run = subprocess.run(
        [str(sarama_client), "-broker", server.bootstrap, "-topic", topic, "-count", "4", *zstd],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr

    records = [json.loads(line) for line in run.stdout.splitlines()]
    expected = [f"{codec}-{i}" for codec in codecs for i in range(PER_CODEC)]
    assert [r["value"] for r in records] == expected
    assert [r["offset"] for r in records] == list(range(len(expected)))
    assert all(started_ms - 1000 <= r["timestamp_ms"] <= time.time() * 1000 for r in records)

    # What katka stored: each batch's max timestamp is its newest record's, CRCs valid.
    log_dir = server.data_dir / f"{topic}-0"
    stored = b"".join(path.read_bytes() for path in sorted(log_dir.glob("*.log")))
    batches = iter_batches(stored)
    stored_codecs = [header.compression for header, _ in batches]  # sends may split a codec
    assert [codec for codec, _ in itertools.groupby(stored_codecs)] == list(range(len(codecs)))
    for header, batch in batches:
        assert header.max_timestamp == max(r.timestamp_ms for r in decode_records(batch))

    seen = retention_checks(server)
    wait_for(lambda: retention_checks(server) >= seen + 2, 30, "two retention checks")
    client = RawClient(server)
    try:
        assert client.list_offset(topic, EARLIEST) == 0
        newest = max(r["timestamp_ms"] for r in records)
        first_at_newest = next(r["offset"] for r in records if r["timestamp_ms"] == newest)
        assert client.list_offset(topic, newest) == first_at_newest
    finally:
        client.close()


def run_sarama(binary: Path, *args: str) -> list[dict[str, Any]]:
    run = subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_sarama_cluster_admin_creates_lists_describes_and_deletes_a_topic(
    sarama_client: Path, katka_server: BrokerProcess
) -> None:
    topic = unique("sarama-admin")
    steps = {
        s["step"]: s
        for s in run_sarama(
            sarama_client, "-mode", "admin", "-broker", katka_server.bootstrap, "-topic", topic
        )
    }
    assert [s.get("error") for s in steps.values()] == [None] * 5, steps
    # ListTopics: every topic with its partition count and its non-default configs only
    # (sarama skips entries DescribeConfigs v0 marks is_default). min.insync.replicas=1 is
    # among them, as on Kafka 4.x: the cluster-wide default its controller writes at format
    # time (source DYNAMIC_DEFAULT_BROKER_CONFIG) is not a default to DescribeConfigs v0.
    assert steps["list"]["topics"][topic] == 2
    assert steps["list"]["configs"] == {"retention.ms": "123456", "min.insync.replicas": "1"}
    described = steps["describe"]
    assert described["configs"]["retention.ms"] == "123456"
    assert described["default"]["retention.ms"] is False
    assert described["configs"]["cleanup.policy"] == "delete"
    assert described["default"]["cleanup.policy"] is True
    assert steps["cluster"]["brokers"] == 1
    admin = AdminClient({"bootstrap.servers": katka_server.bootstrap})
    assert topic not in admin.list_topics(timeout=10).topics


def committed(bootstrap: str, group: str, topic: str) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])
    result = admin.list_consumer_group_offsets([request])[group].result(10)
    return int(result.topic_partitions[0].offset)


def test_sarama_consumer_group_commits_with_offset_commit_v1_and_resumes_there(
    sarama_client: Path, katka_server: BrokerProcess
) -> None:
    topic, group = unique("sarama-group"), unique("sarama")
    create_topic(katka_server.bootstrap, topic, 1)
    produce(katka_server.bootstrap, topic, 6, prefix="first")
    args = ["-mode", "group", "-broker", katka_server.bootstrap, "-topic", topic, "-group", group]

    first = run_sarama(sarama_client, *args, "-count", "6")
    assert [r["value"] for r in first] == [f"first-{i}" for i in range(6)]
    assert committed(katka_server.bootstrap, group, topic) == 6

    # A second run starts where the first committed (OffsetFetch v1), not at the oldest.
    produce(katka_server.bootstrap, topic, 3, prefix="second")
    second = run_sarama(sarama_client, *args, "-count", "3")
    assert [(r["offset"], r["value"]) for r in second] == [(6 + i, f"second-{i}") for i in range(3)]
    assert committed(katka_server.bootstrap, group, topic) == 9
