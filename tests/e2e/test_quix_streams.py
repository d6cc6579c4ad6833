"""Quix Streams (PyPI `quixstreams`) with processing_guarantee="exactly-once" on `katka serve`:
a pipeline SIGKILLed mid-run, and the broker SIGKILLed and restarted, still produces every
input exactly once for read_committed readers.

Quix Streams runs in its own cached virtual environment (tests/e2e/quix.py). A stateless app
here; test_quix_streams_state.py runs a stateful one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from katka.reliability.process import BrokerProcess
from tests.e2e.groups import create_topic, unique
from tests.e2e.quix import (  # noqa: F401 - the fixtures
    StartApp,
    exactly_once_app,
    quix_app,
    quix_python,
)

INPUTS = 3000
PARTITIONS = 3

APP = exactly_once_app(
    0.5,
    """
def double(value):
    time.sleep(0.003)  # slow enough that the SIGKILL lands mid-run
    return {"id": value["id"], "doubled": value["n"] * 2}


sdf = sdf.apply(double)
""",
)


def committed_ids(bootstrap: str, sink: str, settle: float = 2.0) -> list[int]:
    """Ids a read_committed consumer sees in the sink, duplicates kept."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("check"),
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    consumer.assign([TopicPartition(sink, p, 0) for p in range(PARTITIONS)])
    ids: list[int] = []
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < settle:
            for message in consumer.consume(500, 0.3):
                if message.error() is None:
                    ids.append(json.loads(message.value() or b"{}")["id"])
                    quiet_since = time.monotonic()
    finally:
        consumer.close()
    return ids


def wait_for_output(bootstrap: str, sink: str, at_least: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    ids: list[int] = []
    while time.monotonic() < deadline:
        ids = committed_ids(bootstrap, sink, settle=0.5)
        if len(set(ids)) >= at_least:
            break
        time.sleep(0.5)
    return ids


@pytest.mark.slow
def test_quix_streams_exactly_once_survives_killing_the_app_and_the_broker(
    start_katka: Callable[..., BrokerProcess],
    quix_app: StartApp,  # noqa: F811
    tmp_path: Path,
) -> None:
    broker = start_katka(["-o", "group.initial.rebalance.delay.ms=0"], data_dir=tmp_path / "data")
    source, sink, group = unique("quix-in"), unique("quix-out"), unique("quix")
    create_topic(broker.bootstrap, source, PARTITIONS)
    create_topic(broker.bootstrap, sink, PARTITIONS)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(INPUTS):
        producer.produce(source, key=b"%d" % i, value=json.dumps({"id": i, "n": i}).encode())
    assert producer.flush(30) == 0

    app = quix_app(APP, broker.bootstrap, group, source, sink, tmp_path / "state")
    partial = wait_for_output(broker.bootstrap, sink, INPUTS // 10, timeout=90)
    assert INPUTS // 10 <= len(set(partial)) < INPUTS, app.poll()
    app.kill()  # SIGKILL mid-run: an open transaction is left behind
    app.wait(30)

    broker.kill()
    broker = start_katka(
        ["-o", "group.initial.rebalance.delay.ms=0"], data_dir=tmp_path / "data", port=broker.port
    )

    app = quix_app(APP, broker.bootstrap, group, source, sink, tmp_path / "state")
    ids = wait_for_output(broker.bootstrap, sink, INPUTS, timeout=180)
    output = ""
    if app.poll() is not None and app.stdout is not None:
        output = app.stdout.read()
    assert sorted(set(ids)) == list(range(INPUTS)), output[-3000:]
    assert len(ids) == INPUTS, "duplicates visible to read_committed"
