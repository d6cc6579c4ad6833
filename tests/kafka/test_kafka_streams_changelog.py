"""A Kafka Streams 4.4 count (CountJudge.java, a state store with a changelog) on katka: the
changelog topic Streams creates is compacted with the topic configs Streams passes, katka's
cleaner cleans it, and an instance restarted with its local state wiped restores the store
from the changelog so the counts continue where they were, none skipped or repeated."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.e2e.test_compaction import admin_api, cleaned
from tests.kafka.reference import kafka_libs
from tests.kafka.test_kafka_streams_eos import (
    CountJudgeApps,
    counts_by_key,
    create_in_and_out,
    kafka_streams_libs,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KEYS = 10
PER_KEY = 60
CHANGELOG = "counter-counts-changelog"
# Passed by Streams to the internal topics it creates: small segments and an eager cleaner.
TOPIC_CONFIGS = ["topic.segment.bytes=2048", "topic.min.cleanable.dirty.ratio=0.01"]


def produce_counts(bootstrap: str, rounds: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(KEYS * rounds):
        producer.produce("in", key=b"k%d" % (i % KEYS), value=b"v")
    assert producer.flush(30) == 0


def wait_for_counts(bootstrap: str, upto: int) -> dict[str, list[int]]:
    deadline = time.monotonic() + 180
    while True:
        counts = counts_by_key(bootstrap, "out")
        if len(counts) == KEYS and all(c and max(c) >= upto for c in counts.values()):
            return counts
        assert time.monotonic() < deadline, {k: (len(v), max(v)) for k, v in counts.items()}
        time.sleep(1)


def test_kafka_streams_changelog_is_compacted_cleaned_and_restores_wiped_state(
    tmp_path: Path,
) -> None:
    libs = kafka_libs()
    classpath = f"{kafka_streams_libs(libs)}/*:{libs}/log4j-api-2.24.3.jar"
    broker = BrokerProcess(
        tmp_path / "data",
        overrides=["group.initial.rebalance.delay.ms=0", "log.cleaner.backoff.ms=100"],
    )
    broker.start(30)
    state = tmp_path / "state"
    apps = CountJudgeApps(classpath, state, TOPIC_CONFIGS)

    def start_app() -> subprocess.Popen[str]:
        return apps.start(broker.bootstrap)

    try:
        create_in_and_out(broker.bootstrap)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        produce_counts(broker.bootstrap, PER_KEY)
        app = start_app()
        wait_for_counts(broker.bootstrap, PER_KEY)

        resource = ConfigResource(ResourceType.TOPIC, CHANGELOG)
        configs = admin.describe_configs([resource])[resource].result(10)
        assert configs["cleanup.policy"].value == "compact"
        assert configs["segment.bytes"].value == "2048"
        wait_until(lambda: cleaned(broker, CHANGELOG), 60, 0.5, "the changelog cleaned")
        cleanings = [
            c for c in admin_api(broker, "/api/cleaner")["cleanings"] if c["topic"] == CHANGELOG
        ]
        assert all(c["bytes_read"] > c["bytes_written"] for c in cleanings), cleanings

        app.kill()
        app.wait(30)
        # The store is in memory, so the new instance starts empty whatever is on disk; the
        # state directory (checkpoints, if any) is wiped too so nothing local can help it.
        shutil.rmtree(state, ignore_errors=True)
        produce_counts(broker.bootstrap, PER_KEY)
        start_app()
        counts = wait_for_counts(broker.bootstrap, 2 * PER_KEY)
        assert counts == {f"k{k}": list(range(1, 2 * PER_KEY + 1)) for k in range(KEYS)}
    finally:
        apps.kill_all()
        broker.kill()
