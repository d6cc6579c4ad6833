"""A stateful Quix Streams app (`sdf.apply(..., stateful=True)`, exactly-once) on `katka
serve`: its changelog topic is compacted by katka's cleaner, and after the app's local state
directory is deleted and the broker is restarted, the app restores its counts from the
changelog and goes on counting from them.

Quix Streams runs in its own cached virtual environment (tests/e2e/quix.py)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.e2e.groups import create_topic, unique
from tests.e2e.quix import (  # noqa: F401 - the fixtures
    StartApp,
    exactly_once_app,
    quix_app,
    quix_python,
)
from tests.e2e.test_compaction import admin_api

KEYS = 5
PER_ROUND = 30

APP = exactly_once_app(
    0.3,
    """
def count(value, state):
    time.sleep(0.01)  # several commits (changelog batches) per round
    total = state.get("count", 0) + 1
    state.set("count", total)
    return {"key": value["key"], "count": total}


sdf = sdf.apply(count, stateful=True)
""",
)

BROKER_OPTIONS = [
    "-o",
    "group.initial.rebalance.delay.ms=0",
    "-o",
    "log.segment.bytes=300",  # the changelog's segments roll, so there is something to clean
    "-o",
    "log.cleaner.min.cleanable.ratio=0.01",
    "-o",
    "log.cleaner.backoff.ms=200",
]


def produce_round(bootstrap: str, source: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(PER_ROUND):
        for key in range(KEYS):
            producer.produce(source, key=f"k{key}", value=json.dumps({"key": f"k{key}"}))
        if i % 5 == 4:
            producer.flush(30)  # several batches, several changelog segments
    assert producer.flush(30) == 0


def highest_counts(bootstrap: str, sink: str) -> dict[str, int]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("check"),
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    consumer.assign([TopicPartition(sink, 0, 0)])
    counts: dict[str, int] = {}
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < 0.5:
            for message in consumer.consume(500, 0.2):
                if message.error() is None:
                    value = json.loads(message.value() or b"{}")
                    counts[value["key"]] = max(counts.get(value["key"], 0), value["count"])
                    quiet_since = time.monotonic()
    finally:
        consumer.close()
    return counts


def counts_reach(bootstrap: str, sink: str, expected: int) -> bool:
    return highest_counts(bootstrap, sink) == {f"k{key}": expected for key in range(KEYS)}


@pytest.mark.slow
def test_a_stateful_app_restores_its_counts_from_a_compacted_changelog(
    start_katka: Callable[..., BrokerProcess],
    quix_app: StartApp,  # noqa: F811
    tmp_path: Path,
) -> None:
    broker = start_katka(BROKER_OPTIONS, data_dir=tmp_path / "data")
    source, sink, group = unique("counts-in"), unique("counts-out"), unique("counter")
    create_topic(broker.bootstrap, source, 1)
    create_topic(broker.bootstrap, sink, 1)
    state = tmp_path / "state"

    produce_round(broker.bootstrap, source)
    running = quix_app(APP, broker.bootstrap, group, source, sink, state)
    wait_until(lambda: counts_reach(broker.bootstrap, sink, PER_ROUND), 120, what="round 1")
    running.kill()
    running.wait(30)

    changelogs = [
        topic["name"]
        for topic in admin_api(broker, "/api/topics")["topics"]
        if topic["name"].startswith("changelog__") and group in topic["name"]
    ]
    assert changelogs, admin_api(broker, "/api/topics")
    assert admin_api(broker, f"/api/topics/{changelogs[0]}")["configs"]["cleanup.policy"] == (
        "compact"
    )
    try:
        wait_until(
            lambda: any(
                cleaning["topic"] in changelogs
                for cleaning in admin_api(broker, "/api/cleaner")["cleanings"]
            ),
            60,
        )
    except AssertionError:
        raise AssertionError(
            f"the changelog was not cleaned: {admin_api(broker, f'/api/topics/{changelogs[0]}')}"
        ) from None

    shutil.rmtree(state)  # the local state is lost
    broker.kill()
    broker = start_katka(BROKER_OPTIONS, data_dir=tmp_path / "data", port=broker.port)
    produce_round(broker.bootstrap, source)
    running = quix_app(APP, broker.bootstrap, group, source, sink, state)
    try:
        wait_until(lambda: counts_reach(broker.bootstrap, sink, 2 * PER_ROUND), 180, what="round 2")
    finally:
        running.kill()
        output = running.stdout.read() if running.stdout is not None else ""
    assert highest_counts(broker.bootstrap, sink) == {
        f"k{key}": 2 * PER_ROUND for key in range(KEYS)
    }, output[-3000:]
