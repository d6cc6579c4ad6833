"""Share groups (KIP-932) end to end with confluent_kafka.ShareConsumer, each consumer in its own
process: more consumers than partitions, each record delivered once when all are accepted,
release and the delivery-count limit, reject, lock expiry after a frozen consumer and release
after a killed one, a share group beside a consumer group, and a broker restart in the middle."""

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
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from katka.reliability.process import BrokerProcess
from tests.e2e.groups import create_topic, new_member, poll_until, produce, unique

SHARE_BROKER = [
    "-o",
    "group.share.heartbeat.interval.ms=300",
    "-o",
    "group.share.session.timeout.ms=6000",
    "-o",
    "group.share.min.record.lock.duration.ms=1000",  # short locks for the tests that wait them out
]

Record = tuple[int, int, str, int]  # partition, offset, value, delivery count


@pytest.fixture(scope="module")
def server(start_module_katka: Callable[..., BrokerProcess]) -> BrokerProcess:
    """One broker for the module's tests: each uses topics and groups of its own."""
    return start_module_katka(SHARE_BROKER)


def set_group_configs(bootstrap: str, group: str, **configs: str) -> None:
    """As kafka-configs.sh --entity-type groups --alter does: IncrementalAlterConfigs SET."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(
        ResourceType.GROUP,
        group,
        incremental_configs=[
            ConfigEntry(name.replace("_", "."), value, incremental_operation=AlterConfigOpType.SET)
            for name, value in configs.items()
        ],
    )
    admin.incremental_alter_configs([resource])[resource].result(10)


class ShareProcess:
    """A share consumer in its own process (tests/e2e/share_consumer_process.py)."""

    def __init__(self, bootstrap: str, group: str, topic: str, *args: str, **config: Any) -> None:
        settings = {"bootstrap.servers": bootstrap, "group.id": group}
        settings.update({k.replace("_", "."): v for k, v in config.items()})
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.records: list[Record] = []
        self.closed = False
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.e2e.share_consumer_process",
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

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def drain(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            if "record" in event:
                self.records.append(tuple(event["record"]))  # type: ignore[arg-type]
            elif "closed" in event:
                self.closed = True

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def wait_for(
    consumers: list[ShareProcess], condition: Callable[[], bool], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        for consumer in consumers:
            consumer.drain()
        if condition():
            return
        if time.monotonic() > deadline:
            counts = [len(c.records) for c in consumers]
            raise AssertionError(f"not met within {timeout} s; records per consumer: {counts}")
        time.sleep(0.05)


def values(consumers: list[ShareProcess]) -> list[str]:
    return [value for c in consumers for _p, _o, value, _d in c.records]


def kill_all(consumers: list[ShareProcess]) -> None:
    for consumer in consumers:
        consumer.kill()


def test_more_share_consumers_than_partitions_all_get_records_each_delivered_once(
    server: BrokerProcess,
) -> None:
    topic, group = unique("share"), unique("sg")
    create_topic(server.bootstrap, topic, 2)
    set_group_configs(server.bootstrap, group, share_auto_offset_reset="earliest")
    consumers = [
        ShareProcess(server.bootstrap, group, topic, "--process-ms", "20", max_poll_records=10)
        for _ in range(5)
    ]
    try:
        for round_ in range(20):  # a steady stream, as a queue of jobs gets
            produce(server.bootstrap, topic, 20, prefix=f"r{round_}")
            time.sleep(0.1)
        wait_for(consumers, lambda: len(values(consumers)) >= 400, timeout=90)
        expected = [f"r{round_}-{i}" for round_ in range(20) for i in range(20)]
        assert sorted(values(consumers)) == sorted(expected)
        assert all(c.records for c in consumers), [len(c.records) for c in consumers]
        assert {d for c in consumers for *_x, d in c.records} == {1}
    finally:
        kill_all(consumers)


def test_released_records_come_back_until_the_delivery_count_limit_archives_them(
    server: BrokerProcess,
) -> None:
    topic, group = unique("share"), unique("sg")
    create_topic(server.bootstrap, topic, 1)
    set_group_configs(
        server.bootstrap, group, share_auto_offset_reset="earliest", share_delivery_count_limit="3"
    )
    produce(server.bootstrap, topic, 5)
    releasing = ShareProcess(server.bootstrap, group, topic, "--ack", "release")
    try:
        wait_for([releasing], lambda: len(releasing.records) >= 15)
        deliveries = sorted((value, count) for _p, _o, value, count in releasing.records)
        assert deliveries == sorted((f"r-{i}", n) for i in range(5) for n in (1, 2, 3))
        accepting = ShareProcess(server.bootstrap, group, topic, "--ack", "accept")
        produce(server.bootstrap, topic, 1, prefix="late")
        wait_for([releasing, accepting], lambda: "late-0" in values([releasing, accepting]))
        assert not [v for v in values([accepting]) if v.startswith("r-")]  # archived for good
        accepting.kill()
    finally:
        releasing.kill()


def test_rejected_records_are_never_redelivered(server: BrokerProcess) -> None:
    topic, group = unique("share"), unique("sg")
    create_topic(server.bootstrap, topic, 1)
    set_group_configs(server.bootstrap, group, share_auto_offset_reset="earliest")
    produce(server.bootstrap, topic, 10)
    rejecting = ShareProcess(server.bootstrap, group, topic, "--ack", "reject", "--max", "10")
    try:
        wait_for([rejecting], lambda: rejecting.closed)
        assert sorted(values([rejecting])) == sorted(f"r-{i}" for i in range(10))
        accepting = ShareProcess(server.bootstrap, group, topic, "--ack", "accept")
        produce(server.bootstrap, topic, 1, prefix="late")
        wait_for([accepting], lambda: bool(accepting.records))
        assert values([accepting]) == ["late-0"]
        accepting.kill()
    finally:
        rejecting.kill()


@pytest.mark.slow  # waits out a lock
@pytest.mark.parametrize("stop", [signal.SIGSTOP, signal.SIGKILL], ids=["frozen", "killed"])
def test_a_dead_consumers_records_come_back_when_its_locks_expire_or_its_connection_closes(
    server: BrokerProcess, stop: signal.Signals
) -> None:
    """A frozen consumer (SIGSTOP: its connection stays open) holds its records until the
    locks expire; a killed one's connection closes, which closes its share session and
    releases them at once, as Kafka 4.4 does (tests/kafka/test_share_differential.py)."""
    topic, group = unique("share"), unique("sg")
    create_topic(server.bootstrap, topic, 1)
    lock_ms = 5000 if stop is signal.SIGSTOP else 60_000
    set_group_configs(
        server.bootstrap,
        group,
        share_auto_offset_reset="earliest",
        share_record_lock_duration_ms=str(lock_ms),
    )
    produce(server.bootstrap, topic, 20)
    started_at = time.monotonic()  # before the victim can have acquired anything
    victim = ShareProcess(server.bootstrap, group, topic, "--ack", "none")
    survivor: ShareProcess | None = None
    try:
        wait_for([victim], lambda: len(victim.records) >= 20)
        victim.process.send_signal(stop)
        stopped_at = time.monotonic()
        survivor = ShareProcess(server.bootstrap, group, topic, "--ack", "accept")
        s = survivor
        wait_for([s], lambda: len(s.records) >= 20)
        if stop is signal.SIGSTOP:
            # not before the locks expired (they started after the victim did)
            assert time.monotonic() - started_at > lock_ms / 1000
        else:
            # long before the locks would have expired
            assert time.monotonic() - stopped_at < lock_ms / 1000 / 2
        assert sorted(values([s])) == sorted(f"r-{i}" for i in range(20))
        assert {count for *_x, count in s.records} == {2}
    finally:
        victim.kill()
        if survivor is not None:
            survivor.kill()


def test_a_share_group_and_a_consumer_group_read_the_same_topic_independently(
    server: BrokerProcess,
) -> None:
    topic, group = unique("share"), unique("sg")
    create_topic(server.bootstrap, topic, 2)
    set_group_configs(server.bootstrap, group, share_auto_offset_reset="earliest")
    produce(server.bootstrap, topic, 50)
    sharer = ShareProcess(server.bootstrap, group, topic)
    member = new_member(server.bootstrap, unique("cg"), [topic], "classic")
    try:
        wait_for([sharer], lambda: len(sharer.records) >= 50)
        poll_until([member], lambda: len(member.received) >= 50)
        assert sorted(values([sharer])) == sorted(m.value().decode() for m in member.received)
    finally:
        sharer.kill()
        member.consumer.close()


def test_after_a_broker_restart_accepted_records_stay_done_and_unacknowledged_ones_return(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    broker = start_katka(SHARE_BROKER)
    topic, group = unique("share"), unique("sg")
    create_topic(broker.bootstrap, topic, 1)
    set_group_configs(broker.bootstrap, group, share_auto_offset_reset="earliest")
    produce(broker.bootstrap, topic, 10)
    first = ShareProcess(broker.bootstrap, group, topic, "--ack", "accept", "--max", "4")
    holder: ShareProcess | None = None
    second: ShareProcess | None = None
    try:
        wait_for([first], lambda: first.closed)
        accepted = set(values([first]))
        holder = ShareProcess(broker.bootstrap, group, topic, "--ack", "none")
        h = holder
        wait_for([h], lambda: len(h.records) >= 10 - len(accepted))
        holder.kill()
        broker.stop()
        broker.start(30)
        second = ShareProcess(broker.bootstrap, group, topic, "--ack", "accept")
        s = second
        wait_for([s], lambda: len(s.records) >= 10 - len(accepted))
        assert set(values([s])) == {f"r-{i}" for i in range(10)} - accepted
    finally:
        for process in (first, holder, second):
            if process is not None:
                process.kill()


def test_a_consumer_that_closes_without_acknowledging_hands_its_records_back_at_once(
    server: BrokerProcess,
) -> None:
    topic, group = unique("share"), unique("sg")
    create_topic(server.bootstrap, topic, 1)
    set_group_configs(server.bootstrap, group, share_auto_offset_reset="earliest")
    produce(server.bootstrap, topic, 5)
    leaver = ShareProcess(server.bootstrap, group, topic, "--ack", "none", "--max", "5")
    taker: ShareProcess | None = None
    try:
        wait_for([leaver], lambda: leaver.closed)  # closed: left the group, nothing acknowledged
        closed_at = time.monotonic()
        taker = ShareProcess(server.bootstrap, group, topic, "--ack", "accept")
        t = taker
        wait_for([t], lambda: len(t.records) >= 5)
        assert time.monotonic() - closed_at < 20  # long before the 30 s lock duration
        assert sorted(values([t])) == sorted(f"r-{i}" for i in range(5))
        assert {count for *_x, count in t.records} == {2}
    finally:
        leaver.kill()
        if taker is not None:
            taker.kill()


@pytest.mark.slow  # a transactional producer and a share consumer, ~4 s each
@pytest.mark.parametrize("isolation", ["read_committed", "read_uncommitted"])
def test_share_isolation_level_decides_whether_an_aborted_transactions_records_are_delivered(
    server: BrokerProcess, isolation: str
) -> None:
    from confluent_kafka import Producer

    topic, group = unique("share"), unique("sg")
    create_topic(server.bootstrap, topic, 1)
    set_group_configs(
        server.bootstrap, group, share_auto_offset_reset="earliest", share_isolation_level=isolation
    )
    producer = Producer({"bootstrap.servers": server.bootstrap, "transactional.id": unique("tx")})
    producer.init_transactions(10)
    for outcome in ("aborted", "committed"):
        producer.begin_transaction()
        for i in range(5):
            producer.produce(topic, value=f"{outcome}-{i}".encode())
        producer.flush(10)
        if outcome == "aborted":
            producer.abort_transaction(10)
        else:
            producer.commit_transaction(10)
    reader = ShareProcess(server.bootstrap, group, topic, "--ack", "accept")
    try:
        expected = [f"committed-{i}" for i in range(5)]
        if isolation == "read_uncommitted":
            expected = [f"aborted-{i}" for i in range(5)] + expected
        wait_for([reader], lambda: len(reader.records) >= len(expected))
        assert sorted(values([reader])) == sorted(expected)
    finally:
        reader.kill()
