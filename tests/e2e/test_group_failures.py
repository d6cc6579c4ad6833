"""Crashes, poll timeouts, static members, durable offsets and replay, as clients see them."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.e2e.groups import create_topic, new_member, poll_until, produce, stable_split, unique

FAST_GROUPS = [
    "-o",
    "group.initial.rebalance.delay.ms=0",
    "-o",
    "group.min.session.timeout.ms=1000",
]


class ConsumerProcess:
    def __init__(self, bootstrap: str, group: str, topic: str, *args: str, **config: Any) -> None:
        settings = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 3000,
            "heartbeat.interval.ms": 300,
        }
        settings.update(config)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.e2e.consumer_process",
                json.dumps(settings),
                topic,
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=os.getcwd(),
        )
        threading.Thread(target=self._pump, daemon=True).start()
        self.assignment: set[int] = set()
        self.processed: list[tuple[int, int]] = []
        self.handed: list[tuple[int, int]] = []

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def drain(self, timeout: float = 0.05) -> None:
        try:
            while True:
                event = self.events.get(timeout=timeout)
                if "assign" in event:
                    self.assignment |= set(event["assign"])
                elif "revoke" in event:
                    self.assignment -= set(event["revoke"])
                elif "record" in event:
                    self.handed.append(tuple(event["record"][:2]))  # type: ignore[arg-type]
                elif "processed" in event:
                    self.processed.append(tuple(event["processed"]))  # type: ignore[arg-type]
                timeout = 0.001
        except queue.Empty:
            return

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"consumer process: condition not met; assignment={self.assignment}"
                )
            self.drain()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture(scope="module")
def server(start_module_katka: Callable[..., BrokerProcess]) -> BrokerProcess:
    """One broker for the module's tests: each uses topics and groups of its own."""
    return start_module_katka(FAST_GROUPS)


def rebalance_lines(server: BrokerProcess, group: str) -> list[str]:
    return [line for line in server.output if f"group {group} rebalance to generation" in line]


def test_a_sigkilled_member_is_evicted_after_its_session_timeout(server: BrokerProcess) -> None:
    topic, group = unique("kill"), unique("g")
    create_topic(server.bootstrap, topic, 4)
    victim = ConsumerProcess(server.bootstrap, group, topic)
    victim.wait_for(lambda: victim.assignment == {0, 1, 2, 3})
    survivor = new_member(server.bootstrap, group, [topic], "survivor", session_timeout_ms=3000)
    try:
        poll_until([survivor], lambda: len(survivor.assignment) == 2)
        victim.kill()
        killed_at = time.monotonic()
        poll_until([survivor], lambda: survivor.assignment == {0, 1, 2, 3}, timeout=30)
        moved_after = time.monotonic() - killed_at
        assert moved_after > 2.0, moved_after  # not before the 3 s session timeout ends
        wait_until(  # and because of it (the line the broker logs may trail the assignment)
            lambda: any(
                "trigger=session_timeout" in line for line in rebalance_lines(server, group)
            ),
            15,
            what="a rebalance with trigger=session_timeout in the broker's log",
        )
    finally:
        survivor.close()


def test_exceeding_max_poll_interval_makes_the_member_leave(server: BrokerProcess) -> None:
    topic, group = unique("poll"), unique("g")
    create_topic(server.bootstrap, topic, 2)
    slow = new_member(
        server.bootstrap, group, [topic], "slow", session_timeout_ms=3000, max_poll_interval_ms=3000
    )
    busy = new_member(server.bootstrap, group, [topic], "busy", session_timeout_ms=3000)
    try:
        poll_until(
            [slow, busy], lambda: stable_split([slow, busy], 2) and len(busy.assignment) == 1
        )
        poll_until([busy], lambda: busy.assignment == {0, 1}, timeout=20)  # slow never polls again
    finally:
        slow.close()
        busy.close()


def test_a_static_member_restart_causes_no_rebalance(server: BrokerProcess) -> None:
    topic, group = unique("static"), unique("g")
    create_topic(server.bootstrap, topic, 4)
    stable = new_member(
        server.bootstrap,
        group,
        [topic],
        "stable",
        group_instance_id="app-1",
        session_timeout_ms=10000,
    )
    restarting = ConsumerProcess(
        server.bootstrap,
        group,
        topic,
        **{"group.instance.id": "app-2", "session.timeout.ms": 10000},
    )
    try:
        poll_until([stable], lambda: len(stable.assignment) == 2, timeout=30)
        restarting.wait_for(lambda: len(restarting.assignment) == 2)
        events_before = list(stable.events)
        generations_before = rebalance_lines(server, group)
        assert generations_before  # the log does show rebalances when they happen
        restarting.kill()
        replacement = ConsumerProcess(
            server.bootstrap,
            group,
            topic,
            **{"group.instance.id": "app-2", "session.timeout.ms": 10000},
        )
        replacement.wait_for(lambda: len(replacement.assignment) == 2)
        assert replacement.assignment == restarting.assignment
        for _ in range(20):
            stable.poll(0.05)
        assert stable.events == events_before  # the other member never stopped
        assert rebalance_lines(server, group) == generations_before  # generation unchanged
        replacement.kill()
    finally:
        stable.close()


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> list[TopicPartition]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_committed_offsets_and_metadata_survive_a_broker_restart(
    start_katka: Callable[..., BrokerProcess], how: int
) -> None:
    server = start_katka(FAST_GROUPS)
    topic, group = unique("durable-offsets"), unique("g")
    create_topic(server.bootstrap, topic, 3)
    produce(server.bootstrap, topic, 30, partitions=3)
    consumer = Consumer(
        {"bootstrap.servers": server.bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    consumer.commit(
        offsets=[TopicPartition(topic, p, 3 + p, metadata=f"meta-{p}") for p in range(3)],
        asynchronous=False,
    )
    consumer.close()
    if how == signal.SIGKILL:
        server.kill()
    else:
        server.stop(sig=how)
    restarted = start_katka(FAST_GROUPS, port=server.port)
    found = committed(restarted.bootstrap, group, topic, 3)
    assert [(tp.partition, tp.offset, tp.metadata) for tp in found] == [
        (p, 3 + p, f"meta-{p}") for p in range(3)
    ]


def test_auto_commit_can_lose_records_that_manual_commit_keeps(server: BrokerProcess) -> None:
    topic = unique("loss")
    create_topic(server.bootstrap, topic, 1)
    produce(server.bootstrap, topic, 100, partitions=1)
    results = {}
    for mode in ("auto", "manual"):
        group = unique(f"g-{mode}")
        extra = {"auto.commit.interval.ms": 100} if mode == "auto" else {}
        crashing = ConsumerProcess(
            server.bootstrap, group, topic, "--process", "20", "--commit", mode, **extra
        )
        crashing.wait_for(lambda c=crashing: len(c.handed) >= 100 and len(c.processed) == 20)
        if mode == "auto":
            # Auto-commit fires every 100 ms: it commits what was handed over, processed or not.
            wait_until(
                lambda: committed(server.bootstrap, group, topic, 1)[0].offset > 20,
                what="an auto-commit past the processed records",
            )
        crashing.kill()
        [position] = committed(server.bootstrap, group, topic, 1)
        results[mode] = position.offset
    assert results["manual"] == 20  # the restarted consumer resumes at the last processed + 1
    assert results["auto"] > 20  # records 20..offset-1 were never processed and are skipped: lost


def test_resetting_an_empty_groups_offsets_with_the_admin_client_replays_history(
    server: BrokerProcess,
) -> None:
    topic, group = unique("replay"), unique("g")
    create_topic(server.bootstrap, topic, 2)
    produce(server.bootstrap, topic, 40, partitions=2)
    first = new_member(server.bootstrap, group, [topic], "first", enable_auto_commit=False)
    poll_until([first], lambda: len(first.received) >= 40)
    first.consumer.commit(asynchronous=False)
    first.close()
    assert [tp.offset for tp in committed(server.bootstrap, group, topic, 2)] == [20, 20]
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, 0, 5), TopicPartition(topic, 1, 0)]
    )
    admin.alter_consumer_group_offsets([request])[group].result(10)
    again = new_member(server.bootstrap, group, [topic], "again")
    try:
        poll_until([again], lambda: len(again.received) >= 35)
        time.sleep(0.3)
        again.poll(0.1)
        assert len(again.received) == 35
        assert min(m.offset() for m in again.received if m.partition() == 0) == 5
    finally:
        again.close()
