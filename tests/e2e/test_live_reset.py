"""`katka group reset-offsets --live --execute` against consumers that never stop.

Two consumers, each in its own process, keep polling (auto commit every 100 ms) while a
producer keeps writing. The live reset moves the group back to offset 5 on every partition;
then every partition must be consumed again from offset 5, the committed offsets must climb
from 5 without ever jumping back to where they were (no commit sent before the reset
survives), and the rebalance history must name the reset as the trigger. librdkafka's eager
(range), cooperative-sticky and KIP-848 (group.protocol=consumer) members and kafka-python's all
go through it; a kill -9 of the broker right after the reset does not undo it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from katka.reliability.process import BrokerProcess, free_port
from tests.conditions import wait_until
from tests.e2e.groups import create_topic, unique

pytestmark = pytest.mark.slow

PARTITIONS = 3
RESET_TO = 5
BROKER_CONFIGS = [
    "group.initial.rebalance.delay.ms=0",
    "group.consumer.session.timeout.ms=6000",
    "group.consumer.min.session.timeout.ms=1000",
    # Members learn of a reset at their next heartbeat: seconds apart, so that the kill test
    # kills the broker before any of them has.
    "group.consumer.heartbeat.interval.ms=2000",
    "group.consumer.min.heartbeat.interval.ms=1000",
]
PROTOCOLS = {
    "eager": {"partition.assignment.strategy": "range", "heartbeat.interval.ms": 2000},
    "cooperative": {
        "partition.assignment.strategy": "cooperative-sticky",
        "heartbeat.interval.ms": 2000,
    },
    "kip848": {"group.protocol": "consumer"},
    "kafka-python": {},  # kafka-python's KafkaConsumer: eager range, its own heartbeat thread
}


@dataclass
class ConsumerProcess:
    """tests/e2e/consumer_process.py in a child process; its events as they arrive."""

    process: subprocess.Popen[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.lock:
                self.events.append(json.loads(line))

    def mark(self) -> int:
        with self.lock:
            return len(self.events)

    def records_since(self, mark: int) -> list[tuple[int, int]]:
        with self.lock:
            return [tuple(e["record"][:2]) for e in self.events[mark:] if "record" in e]


@dataclass
class Pipeline:
    broker: BrokerProcess
    admin: str
    topic: str
    group: str
    consumers: list[ConsumerProcess]
    stop: threading.Event


def start_consumer(bootstrap: str, group: str, topic: str, protocol: str) -> ConsumerProcess:
    command = [sys.executable, "-m", "tests.e2e.consumer_process"]
    if protocol == "kafka-python":
        settings = {
            "bootstrap_servers": bootstrap,
            "group_id": group,
            "auto_offset_reset": "earliest",
            "auto_commit_interval_ms": 100,
            "session_timeout_ms": 6000,
            "heartbeat_interval_ms": 2000,
            "max_poll_interval_ms": 20000,
        }
        command += [json.dumps(settings), topic, "--client", "kafka-python"]
        return _spawn(command)
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "auto.commit.interval.ms": 100,
        "session.timeout.ms": 6000,
        "max.poll.interval.ms": 20000,
        **PROTOCOLS[protocol],
    }
    if protocol == "kip848":
        config.pop("session.timeout.ms")
    return _spawn([*command, json.dumps(config), topic])


def _spawn(command: list[str]) -> ConsumerProcess:
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    consumer = ConsumerProcess(process)
    threading.Thread(target=consumer.read, daemon=True).start()
    return consumer


def produce_slowly(bootstrap: str, topic: str, stop: threading.Event) -> None:
    """A record on every partition every 50 ms: the members always have commits to send."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    i = 0
    while not stop.is_set():
        for partition in range(PARTITIONS):
            producer.produce(topic, value=b"live-%d" % i, partition=partition)
        producer.poll(0)
        i += 1
        stop.wait(0.05)
    producer.flush(10)


def api(admin: str, path: str) -> Any:
    with urllib.request.urlopen(f"http://{admin}{path}", timeout=10) as response:
        return json.loads(response.read())


def committed(admin: str, group: str) -> dict[int, int]:
    try:
        rows = api(admin, f"/api/groups/{group}/lag")["partitions"]
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return {}  # nothing committed yet
        raise
    return {row["partition"]: row["committed_offset"] for row in rows}


def high_watermarks(admin: str, topic: str) -> dict[int, int]:
    return {
        p["partition"]: p["high_watermark"]
        for p in api(admin, f"/api/topics/{topic}")["partitions"]
    }


@pytest.fixture
def pipeline(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    protocol = request.param
    admin = f"127.0.0.1:{free_port()}"
    broker = BrokerProcess(
        tmp_path / "data", overrides=[*BROKER_CONFIGS, f"katka.admin.listener={admin}"]
    )
    broker.start(30)
    topic, group = unique("replay"), unique(f"live-{protocol}")
    create_topic(broker.bootstrap, topic, PARTITIONS)
    stop = threading.Event()
    producer = threading.Thread(target=produce_slowly, args=(broker.bootstrap, topic, stop))
    producer.start()
    consumers = [start_consumer(broker.bootstrap, group, topic, protocol) for _ in range(2)]
    try:
        yield Pipeline(broker, admin, topic, group, consumers, stop)
    finally:
        stop.set()
        producer.join(15)
        for consumer in consumers:
            consumer.process.kill()
            consumer.process.wait(10)
        broker.kill()


def caught_up(pipeline: Pipeline) -> bool:
    """Both members hold partitions in a Stable group, and their commits follow the log end."""
    try:
        described = api(pipeline.admin, f"/api/groups/{pipeline.group}")
    except urllib.error.HTTPError:
        return False
    if described["state"] != "Stable" or len(described["members"]) != 2:
        return False
    ends = high_watermarks(pipeline.admin, pipeline.topic)
    done = committed(pipeline.admin, pipeline.group)
    return all(done.get(p, -1) >= ends[p] - 20 > RESET_TO for p in range(PARTITIONS))


def reset_live(pipeline: Pipeline) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "katka",
            "group",
            "reset-offsets",
            pipeline.group,
            "--all-topics",
            "--to-offset",
            str(RESET_TO),
            "--live",
            "--execute",
            "--bootstrap-server",
            pipeline.broker.bootstrap,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_for_replay(pipeline: Pipeline, marks: list[int], ends: dict[int, int]) -> None:
    """Every partition consumed again from RESET_TO up to where it ended at the reset, while the
    committed offsets never go back once they climbed (a surviving old commit would)."""
    last: dict[int, int] = {}

    def replayed() -> bool:
        now = committed(pipeline.admin, pipeline.group)
        for partition, offset in now.items():
            assert offset >= last.get(partition, RESET_TO), (
                f"partition {partition}: committed offset went back from "
                f"{last.get(partition)} to {offset} after the reset"
            )
            last[partition] = offset
        seen: set[tuple[int, int]] = set()
        for consumer, mark in zip(pipeline.consumers, marks, strict=True):
            seen.update(consumer.records_since(mark))
        return all((p, o) in seen for p in range(PARTITIONS) for o in range(RESET_TO, ends[p]))

    wait_until(replayed, 90, interval=0.05, what="every partition consumed again from the reset")


@pytest.mark.parametrize("pipeline", list(PROTOCOLS), indirect=True)
def test_a_live_reset_replays_every_partition_while_consumers_keep_polling(
    pipeline: Pipeline,
) -> None:
    wait_until(lambda: caught_up(pipeline), 60, what="consumers caught up")
    marks = [c.mark() for c in pipeline.consumers]
    ends = high_watermarks(pipeline.admin, pipeline.topic)
    result = reset_live(pipeline)
    assert result.returncode == 0, result.stderr
    assert "Reset the offsets of 3 partitions" in result.stdout
    after = committed(pipeline.admin, pipeline.group)
    assert all(offset >= RESET_TO for offset in after.values())
    wait_for_replay(pipeline, marks, ends)
    history = api(pipeline.admin, f"/api/groups/{pipeline.group}/rebalances")["rebalances"]
    assert "offset_reset" in [entry["trigger"] for entry in history]
    for consumer in pipeline.consumers:
        assert consumer.process.poll() is None, "a consumer died"


@pytest.mark.parametrize("pipeline", ["eager", "cooperative", "kip848"], indirect=True)
def test_a_live_reset_survives_a_kill_of_the_broker(pipeline: Pipeline) -> None:
    """The broker dies within milliseconds of the reset, before any member heartbeats and
    learns of it: the offsets and the fence must come back from the internal log."""
    wait_until(lambda: caught_up(pipeline), 60, what="consumers caught up")
    marks = [c.mark() for c in pipeline.consumers]
    ends = high_watermarks(pipeline.admin, pipeline.topic)
    body = {"all_topics": True, "to_offset": RESET_TO, "live": True, "execute": True}
    request = urllib.request.Request(
        f"http://{pipeline.admin}/api/groups/{pipeline.group}/reset-offsets",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    pipeline.broker.kill()
    pipeline.broker.start(30)
    wait_for_replay(pipeline, marks, ends)
