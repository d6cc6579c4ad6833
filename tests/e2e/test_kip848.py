"""KIP-848 consumer groups with librdkafka consumers using `group.protocol=consumer`."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupType,
    KafkaError,
    KafkaException,
    Producer,
)
from confluent_kafka.admin import AdminClient

from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.e2e import groups
from tests.e2e.groups import Member, create_topic, poll_until, produce, unique

SESSION_TIMEOUT_MS = 4000
KIP848_BROKER = [
    "-o",
    "group.initial.rebalance.delay.ms=0",
    "-o",
    f"group.consumer.session.timeout.ms={SESSION_TIMEOUT_MS}",
    # Kafka bounds the session timeout from below (45 s by default): lower the bound too.
    "-o",
    "group.consumer.min.session.timeout.ms=1000",
    "-o",
    "group.consumer.heartbeat.interval.ms=250",
    "-o",
    "group.consumer.min.heartbeat.interval.ms=250",
]


@pytest.fixture(scope="module")
def server(start_module_katka: Callable[..., BrokerProcess]) -> BrokerProcess:
    """One broker for the module's tests: each uses topics and groups of its own."""
    return start_module_katka(KIP848_BROKER)


def consumer_settings(bootstrap: str, group: str, name: str, **extra: Any) -> dict[str, Any]:
    # No session.timeout.ms / heartbeat.interval.ms: with this protocol the broker decides.
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "auto.offset.reset": "earliest",
        "client.id": name,
        **extra,
    }


def new_member(bootstrap: str, group: str, topic: str, name: str, **extra: Any) -> Member:
    return groups.new_member(bootstrap, group, [topic], name, protocol="consumer", **extra)


split = groups.stable_split


def close_all(members: Iterable[Member]) -> None:
    for member in members:
        member.consumer.close()


def history_lines(server: BrokerProcess, group: str) -> list[str]:
    return [line for line in server.output if f"group {group} rebalance to generation" in line]


def test_three_members_split_six_partitions_and_read_every_record_once(
    server: BrokerProcess,
) -> None:
    topic, group = unique("kip848"), unique("g")
    create_topic(server.bootstrap, topic, 6)
    members = [
        new_member(server.bootstrap, group, topic, f"m{i}", **{"enable.auto.commit": False})
        for i in range(3)
    ]
    try:
        poll_until(
            members, lambda: split(members, 6) and all(len(m.assignment) == 2 for m in members)
        )
        produce(server.bootstrap, topic, 300, partitions=6)
        poll_until(members, lambda: sum(len(m.received) for m in members) >= 300)
        records = [(p, o) for m in members for p, o, _ in m.timeline]
        assert len(records) == len(set(records)) == 300  # each record exactly once
        for m in members:  # nobody read a partition it was not assigned
            assert {p for p, _, _ in m.timeline} <= m.assignment
        for m in members:  # OffsetCommit v9 with the member epoch
            m.consumer.commit(asynchronous=False)
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        description = admin.describe_consumer_groups([group])[group].result(10)
        assert description.type == ConsumerGroupType.CONSUMER
        assert str(description.state).upper().endswith("STABLE")
        assert len(description.members) == 3
        assert sorted(
            tp.partition for m in description.members for tp in m.assignment.topic_partitions
        ) == list(range(6))
        listed = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result(10)
        assert group in {g.group_id for g in listed.valid}
    finally:
        close_all(members)
    # A newcomer resumes from the committed offsets: nothing is left to read.
    late = new_member(server.bootstrap, group, topic, "late")
    try:
        poll_until([late], lambda: late.assignment == set(range(6)))
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            late.poll(0.1)
        assert late.received == []
    finally:
        late.consumer.close()


class BackgroundProducer:
    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self._topic = topic
        self._partitions = partitions
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackgroundProducer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._producer.flush(10)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            for p in range(self._partitions):
                self._producer.produce(self._topic, value=b"%d" % i, partition=p)
            i += 1
            self._producer.poll(0)
            time.sleep(0.02)


def test_a_fourth_member_takes_only_the_partitions_it_needs_while_the_others_keep_consuming(
    server: BrokerProcess,
) -> None:
    topic, group = unique("kip848"), unique("g")
    create_topic(server.bootstrap, topic, 6)
    members = [new_member(server.bootstrap, group, topic, f"m{i}") for i in range(3)]
    try:
        with BackgroundProducer(server.bootstrap, topic, 6):
            poll_until(
                members, lambda: split(members, 6) and all(len(m.assignment) == 2 for m in members)
            )
            before = {m.name: set(m.assignment) for m in members}
            for m in members:
                m.events.clear()
            joined_at = time.monotonic()
            fourth = new_member(server.bootstrap, group, topic, "m3")
            everyone = [*members, fourth]
            poll_until(everyone, lambda: split(everyone, 6) and len(fourth.assignment) >= 1)
            settled_at = time.monotonic()
            for _ in range(25):  # keep consuming a little after the move
                for m in everyone:
                    m.poll()
        moved = set().union(*(before[m.name] - m.assignment for m in members))
        assert fourth.assignment == moved and 1 <= len(moved) <= 2
        for m in members:
            kept = before[m.name] & m.assignment
            assert m.revoked() == before[m.name] - m.assignment  # only moved partitions revoked
            assert not m.assignment - before[m.name]  # and nobody else gained any
            # Kept partitions were consumed throughout the rebalance: no gap as long as half of
            # it (an eager rebalance stops them all for most of it), nor than a second where
            # the rebalance is quick (a loaded machine stretches both).
            longest_gap = max(1.0, (settled_at - joined_at) / 2)
            for p in kept:
                seen = [t for q, _, t in m.timeline if q == p and joined_at <= t <= settled_at]
                times = [joined_at, *seen, settled_at]
                gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
                assert max(gaps) < longest_gap, (m.name, p, gaps)
        # No partition was ever consumed by two members at the same time.
        owners: dict[tuple[int, int], str] = {}
        for m in everyone:
            for p, o, _ in m.timeline:
                assert owners.setdefault((p, o), m.name) == m.name, (p, o)
    finally:
        close_all(members)
        fourth.consumer.close()


def test_a_member_that_closes_hands_its_partitions_over_at_once(server: BrokerProcess) -> None:
    topic, group = unique("kip848"), unique("g")
    create_topic(server.bootstrap, topic, 6)
    a = new_member(server.bootstrap, group, topic, "a")
    b = new_member(server.bootstrap, group, topic, "b")
    try:
        poll_until([a, b], lambda: split([a, b], 6) and len(a.assignment) == 3)
        b.consumer.close()  # sends the leave heartbeat (epoch -1)
        poll_until([a], lambda: a.assignment == set(range(6)))
        # Handed over by the leave, not by a session timeout (the broker logs the rebalance
        # once `a` confirms its new assignment, just after `a` sees it):
        wait_until(
            lambda: any("trigger=leave" in line for line in history_lines(server, group)),
            15,
            what="a rebalance with trigger=leave in the broker's log",
        )
    finally:
        a.consumer.close()


class ConsumerProcess:
    """A member in its own process (tests/e2e/consumer_process.py), so it can be SIGKILLed."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        settings = consumer_settings(bootstrap, group, "victim")
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.consumer_process", json.dumps(settings), topic],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=os.getcwd(),
        )
        threading.Thread(target=self._pump, daemon=True).start()
        self.assignment: set[int] = set()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"consumer process: assignment={self.assignment}")
            try:
                event = self.events.get(timeout=0.05)
            except queue.Empty:
                continue
            if "assign" in event:
                self.assignment |= set(event["assign"])
            elif "revoke" in event:
                self.assignment -= set(event["revoke"])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def test_a_sigkilled_member_is_evicted_after_its_session_timeout(server: BrokerProcess) -> None:
    topic, group = unique("kip848"), unique("g")
    create_topic(server.bootstrap, topic, 4)
    victim = ConsumerProcess(server.bootstrap, group, topic)
    survivor: Member | None = None
    try:
        victim.wait_for(lambda: victim.assignment == {0, 1, 2, 3})
        survivor = new_member(server.bootstrap, group, topic, "survivor")
        member = survivor
        poll_until([member], lambda: len(member.assignment) == 2)
        victim.kill()
        killed_at = time.monotonic()
        poll_until([member], lambda: member.assignment == {0, 1, 2, 3}, timeout=30)
        # Not before the broker's session timeout ends (a loaded machine may only add to it),
        # and because of it:
        assert time.monotonic() - killed_at > SESSION_TIMEOUT_MS / 1000 - 0.5
        wait_until(
            lambda: any("trigger=session_timeout" in line for line in history_lines(server, group)),
            15,
            what="a rebalance with trigger=session_timeout in the broker's log",
        )
    finally:
        if victim.process.poll() is None:
            victim.kill()
        if survivor is not None:
            survivor.consumer.close()


def classic_consumer(bootstrap: str, group: str, errors: list[KafkaError]) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 300,
            "error_cb": errors.append,
        }
    )


def test_a_group_id_serves_one_protocol_at_a_time(server: BrokerProcess) -> None:
    topic = unique("kip848")
    create_topic(server.bootstrap, topic, 2)
    classic_group, consumer_group = unique("classic"), unique("consumer")
    classic_errors: list[KafkaError] = []
    classic = classic_consumer(server.bootstrap, classic_group, classic_errors)
    intruder: Member | None = None
    modern: Member | None = None
    classic_intruder_errors: list[KafkaError] = []
    classic_intruder = classic_consumer(server.bootstrap, consumer_group, classic_intruder_errors)
    try:
        # A classic member holds one group: a consumer-protocol member is turned away.
        classic.subscribe([topic])
        deadline = time.monotonic() + 15
        while not classic.assignment() and time.monotonic() < deadline:
            classic.poll(0.05)
        assert len(classic.assignment()) == 2
        intruder = new_member(server.bootstrap, classic_group, topic, "intruder")
        poll_until([intruder], lambda: bool(intruder.errors), timeout=15)
        # librdkafka makes it fatal: _FATAL, carrying the broker's GROUP_ID_NOT_FOUND.
        assert any(
            e.code() == KafkaError._FATAL and "group id does not exist" in e.str()
            for e in intruder.errors
        ), [(e.code(), e.str()) for e in intruder.errors]
        assert intruder.assignment == set()
        # A consumer-protocol member holds the other: a classic member is turned away.
        modern = new_member(server.bootstrap, consumer_group, topic, "modern")
        poll_until([modern], lambda: modern.assignment == {0, 1})
        classic_intruder.subscribe([topic])
        polled_errors: list[KafkaError] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (classic_intruder_errors or polled_errors):
            message = classic_intruder.poll(0.05)
            if message is not None and message.error():
                polled_errors.append(message.error())
            modern.poll()
            classic.poll(0)
        codes = {e.code() for e in classic_intruder_errors + polled_errors}
        assert KafkaError.INCONSISTENT_GROUP_PROTOCOL in codes, codes
        assert not classic_intruder.assignment() and modern.assignment == {0, 1}
        assert len(classic.assignment()) == 2 and not classic_errors
    finally:
        consumers = [classic, classic_intruder]
        consumers += [m.consumer for m in (intruder, modern) if m is not None]
        for c in consumers:
            try:
                c.close()
            except KafkaException:
                pass


def test_the_consumer_session_timeout_must_respect_its_broker_minimum(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    with pytest.raises(RuntimeError) as failure:
        start_katka(["-o", "group.consumer.session.timeout.ms=3000"])  # min is 45000
    assert "group.consumer.session.timeout.ms must be between" in str(failure.value)


def test_a_static_member_that_restarts_gets_its_partitions_back_without_a_new_epoch(
    server: BrokerProcess,
) -> None:
    topic, group = unique("kip848"), unique("g")
    create_topic(server.bootstrap, topic, 4)
    a = new_member(server.bootstrap, group, topic, "a", **{"group.instance.id": "i-a"})
    b = new_member(server.bootstrap, group, topic, "b", **{"group.instance.id": "i-b"})
    try:
        poll_until([a, b], lambda: split([a, b], 4) and len(a.assignment) == 2)
        owned = set(a.assignment)
        b.events.clear()
        epochs_before = len([line for line in server.output if f"group {group} bumped" in line])
        a.consumer.close()  # a static member leaves with epoch -2: its partitions wait for it
        a = new_member(server.bootstrap, group, topic, "a", **{"group.instance.id": "i-a"})
        poll_until([a, b], lambda: a.assignment == owned)
        assert b.revoked() == set()
        epochs_after = len([line for line in server.output if f"group {group} bumped" in line])
        assert epochs_after == epochs_before  # no new group epoch: nobody else rebalanced
    finally:
        close_all([a, b])
