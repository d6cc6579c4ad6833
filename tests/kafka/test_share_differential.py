"""Share groups (KIP-932) on katka and on Apache Kafka 4.4, the same scenario on each, the answers
compared: delivery counts of released records until the delivery-count limit archives them,
records of a consumer that is stuck (locks expire) or killed (its connection closes), an
acknowledgement sent after the member left the group, and what DescribeShareGroupOffsets and
kafka-share-groups --describe report after some records were accepted.

Consumers are confluent-kafka ShareConsumers in their own processes (tests/e2e), except for the
acknowledgement after leaving, which needs requests in an order no client library sends on
purpose: it is spoken on the wire (ShareWire). Lock durations are Kafka's minimum, 15 s (Kafka
refuses a shorter group share.record.lock.duration.ms).
"""

from __future__ import annotations

import datetime
import importlib
import io
import os
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kio.serial import entity_reader, entity_writer

from katka.reliability.process import BrokerProcess
from tests.api.harness import build
from tests.cli.test_share_group import accepted_share_group
from tests.e2e.groups import create_topic, produce, unique
from tests.e2e.test_share_groups import ShareProcess, set_group_configs, wait_for
from tests.kafka.reference import KafkaReference, kafka_libs
from tests.kafka.test_kafka_transactions_tool import kafka_tools_jar

pytestmark = pytest.mark.kafka

LOCK_MS = 15_000  # Kafka's group.share.min.record.lock.duration.ms
ACCEPT, RELEASE = 1, 2


@pytest.fixture(scope="module")
def katka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(tmp_path_factory.mktemp("katka"))
    broker.start(30)
    try:
        yield broker
    finally:
        broker.kill()


@pytest.fixture
def brokers(kafka_broker: KafkaReference, katka: BrokerProcess) -> dict[str, str]:
    return {"kafka": kafka_broker.bootstrap, "katka": katka.bootstrap}


class ShareWire:
    """Share group requests on one socket (flexible headers), built from plain values."""

    def __init__(self, bootstrap: str) -> None:
        host, port = bootstrap.rsplit(":", 1)
        self.socket = socket.create_connection((host, int(port)), timeout=30)
        self.correlation_id = 0

    def close(self) -> None:
        self.socket.close()

    def call(self, api: str, version: int, **fields: Any) -> Any:
        request_module = importlib.import_module(f"kio.schema.{api}.v{version}.request")
        response_module = importlib.import_module(f"kio.schema.{api}.v{version}.response")
        request_type = _entity(request_module, "Request")
        response_type = _entity(response_module, "Response")
        body = io.BytesIO()
        entity_writer(request_type)(body, build(request_type, fields))
        self.correlation_id += 1
        header = struct.pack(">hhih", request_type.__api_key__, version, self.correlation_id, 4)
        header += b"test" + (b"\0" if request_type.__header_schema__.__version__ >= 2 else b"")
        payload = header + body.getvalue()
        self.socket.sendall(struct.pack(">i", len(payload)) + payload)
        reply = self._read(struct.unpack(">i", self._read(4))[0])
        assert struct.unpack_from(">i", reply)[0] == self.correlation_id
        offset = 5 if response_type.__header_schema__.__version__ >= 1 else 4
        return entity_reader(response_type)(reply, offset)[0]

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.socket.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data

    def topic_id(self, topic: str) -> uuid.UUID:
        response = self.call(
            "metadata",
            12,
            topics=[{"name": topic, "topic_id": uuid.UUID(int=0)}],
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
        )
        return response.topics[0].topic_id  # type: ignore[no-any-return]

    def join(self, group: str, member_id: str, topic: str, timeout: float = 60) -> None:
        """Heartbeat until the member is assigned a partition (Kafka assigns a partition once
        its share state is initialized, a moment after the first heartbeat)."""
        deadline = time.monotonic() + timeout
        epoch, topics = 0, [topic]
        while time.monotonic() < deadline:
            response = self.heartbeat(group, member_id, epoch, topics)
            if response.error_code == 0:
                epoch, topics = response.member_epoch, None
                if response.assignment is not None and response.assignment.topic_partitions:
                    return
            time.sleep(0.3)
        raise AssertionError(f"{member_id} not assigned a partition of {topic} in {timeout} s")

    def heartbeat(self, group: str, member_id: str, epoch: int, topics: Any = None) -> Any:
        return self.call(
            "share_group_heartbeat",
            1,
            group_id=group,
            member_id=member_id,
            member_epoch=epoch,
            rack_id=None,
            subscribed_topic_names=topics,
        )

    def share_fetch(self, group: str, member_id: str, epoch: int, topic_id: uuid.UUID) -> Any:
        return self.call(
            "share_fetch",
            1,
            group_id=group,
            member_id=member_id,
            share_session_epoch=epoch,
            max_wait=datetime.timedelta(seconds=2),
            min_bytes=1,
            max_bytes=1 << 20,
            max_records=500,
            batch_size=500,
            topics=[{"topic_id": topic_id, "partitions": [{"partition_index": 0}]}],
            forgotten_topics_data=[],
        )

    def acquire(self, group: str, member_id: str, topic_id: uuid.UUID) -> list[tuple[int, ...]]:
        """Open a share session and fetch until something is acquired (epoch 0, 1, ...)."""
        for epoch in range(10):
            acquired = _acquired(self.share_fetch(group, member_id, epoch, topic_id))
            if acquired:
                return acquired
        raise AssertionError(f"{member_id} acquired nothing")

    def acknowledge(
        self, group: str, member_id: str, epoch: int, topic_id: uuid.UUID, acks: list[Any]
    ) -> list[int]:
        response = self.call(
            "share_acknowledge",
            1,
            group_id=group,
            member_id=member_id,
            share_session_epoch=epoch,
            topics=[
                {
                    "topic_id": topic_id,
                    "partitions": [
                        {
                            "partition_index": 0,
                            "acknowledgement_batches": [
                                {"first_offset": f, "last_offset": la, "acknowledge_types": [t]}
                                for f, la, t in acks
                            ],
                        }
                    ],
                }
            ],
        )
        return [response.error_code] + [
            p.error_code for t in response.responses for p in t.partitions
        ]

    def share_offsets(self, group: str, topic: str) -> list[tuple[int, int, int]]:
        """DescribeShareGroupOffsets: (partition, start offset, lag) of the topic."""
        response = self.call(
            "describe_share_group_offsets",
            1,
            groups=[{"group_id": group, "topics": [{"topic_name": topic, "partitions": [0]}]}],
        )
        return [
            (p.partition_index, p.start_offset, p.lag)
            for g in response.groups
            for t in g.topics
            for p in t.partitions
        ]


def _entity(module: Any, suffix: str) -> Any:
    return next(getattr(module, n) for n in dir(module) if n.endswith(suffix) and n[0] != "_")


def _acquired(response: Any) -> list[tuple[int, ...]]:
    return [
        (r.first_offset, r.last_offset, r.delivery_count)
        for t in response.responses
        for p in t.partitions
        for r in p.acquired_records
    ]


def share_offsets(bootstrap: str, group: str, topic: str) -> list[tuple[int, int, int]]:
    wire = ShareWire(bootstrap)
    try:
        return wire.share_offsets(group, topic)
    finally:
        wire.close()


def new_topic(bootstrap: str, records: int, **group_configs: str) -> tuple[str, str]:
    """A one-partition topic with `records` records, and a share group reading it from the
    start with these group configs."""
    topic, group = unique("share-diff"), unique("sg")
    create_topic(bootstrap, topic, 1)
    set_group_configs(bootstrap, group, share_auto_offset_reset="earliest", **group_configs)
    produce(bootstrap, topic, records)
    return topic, group


def released_until_archived(bootstrap: str) -> tuple[list[tuple[int, int]], Any]:
    """A consumer releasing everything: every (offset, delivery count) it saw, and the share
    offsets once the records are archived."""
    topic, group = new_topic(bootstrap, 3, share_delivery_count_limit="3")
    releaser = ShareProcess(bootstrap, group, topic, "--ack", "release")
    try:
        wait_for([releaser], lambda: len(releaser.records) >= 9, timeout=90)
        deadline = time.monotonic() + 30
        while share_offsets(bootstrap, group, topic)[0][2] != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        releaser.drain()
        seen = sorted((offset, count) for _p, offset, _v, count in releaser.records)
        return seen, share_offsets(bootstrap, group, topic)
    finally:
        releaser.kill()


def test_released_records_come_back_counted_until_the_limit_archives_them_as_on_kafka(
    brokers: dict[str, str],
) -> None:
    answers = {name: released_until_archived(bootstrap) for name, bootstrap in brokers.items()}
    (katka_seen, katka_offsets), (kafka_seen, kafka_offsets) = answers["katka"], answers["kafka"]
    assert katka_seen == kafka_seen == [(o, count) for o in range(3) for count in (1, 2, 3)]
    assert katka_offsets == [(0, 3, 0)]  # all archived: the start offset passed them
    assert_same_offsets(katka_offsets, kafka_offsets)


def assert_same_offsets(
    katka: list[tuple[int, int, int]], kafka: list[tuple[int, int, int]]
) -> None:
    """The same lag; the same start offset, except that Kafka 4.4 reports the one of its last
    persisted snapshot, written before it moved the start offset over the records that write
    made done: it may trail katka's (never lead it), over records both count as done."""
    assert [(p, lag) for p, _start, lag in katka] == [(p, lag) for p, _start, lag in kafka]
    for (_p, katka_start, _l), (_q, kafka_start, _m) in zip(katka, kafka, strict=True):
        assert kafka_start <= katka_start


def dead_consumer(bootstrap: str, killed: bool) -> tuple[bool, set[int], list[str]]:
    """A consumer takes 10 records and then is stuck (alive, never acknowledging) or killed;
    a second one accepts them. Whether they came back before the locks could expire, their
    delivery counts, and which ones."""
    topic, group = new_topic(bootstrap, 10, share_record_lock_duration_ms=str(LOCK_MS))
    started = time.monotonic()
    victim = ShareProcess(bootstrap, group, topic, "--ack", "none")
    survivor: ShareProcess | None = None
    try:
        wait_for([victim], lambda: len(victim.records) >= 10)
        if killed:
            victim.kill()
        survivor = ShareProcess(bootstrap, group, topic, "--ack", "accept")
        s = survivor
        wait_for([s], lambda: len(s.records) >= 10, timeout=90)
        early = time.monotonic() - started < LOCK_MS / 1000
        values = sorted(value for _p, _o, value, _c in s.records)
        return early, {count for *_x, count in s.records}, values
    finally:
        victim.kill()
        if survivor is not None:
            survivor.kill()


@pytest.mark.parametrize("killed", [False, True], ids=["stuck", "killed"])
def test_a_dead_consumers_records_come_back_as_on_kafka(
    brokers: dict[str, str], killed: bool
) -> None:
    """Stuck: the locks expire (not before 15 s). Killed: its connection closes, which
    closes its share session and releases them at once."""
    answers = {name: dead_consumer(bootstrap, killed) for name, bootstrap in brokers.items()}
    assert answers["katka"] == answers["kafka"]
    assert answers["katka"] == (killed, {2}, sorted(f"r-{i}" for i in range(10)))


def acknowledged_after_leaving(bootstrap: str) -> tuple[list[int], list[tuple[int, int]], Any]:
    """Member 1 acquires 3 records, leaves the group (heartbeat epoch -1), then sends its
    final ShareAcknowledge: accept offset 0, release offset 1 (offset 2 unacknowledged).
    The acknowledgement's error codes, what member 2 then acquires ((offset, delivery count)
    each, over as many fetches as it takes: Kafka releases offset 2 as the closed session is
    cleaned up, which a fetch at once may or may not see), and the share offsets."""
    topic, group = new_topic(bootstrap, 3)
    wire = ShareWire(bootstrap)
    try:
        topic_id = wire.topic_id(topic)
        wire.join(group, "member-one-000000000000", topic)
        assert wire.acquire(group, "member-one-000000000000", topic_id) == [(0, 2, 1)]
        assert wire.heartbeat(group, "member-one-000000000000", -1).error_code == 0
        codes = wire.acknowledge(
            group, "member-one-000000000000", -1, topic_id, [(0, 0, ACCEPT), (1, 1, RELEASE)]
        )
        wire.join(group, "member-two-000000000000", topic)
        taken: dict[int, int] = {}
        for epoch in range(10):
            fetched = wire.share_fetch(group, "member-two-000000000000", epoch, topic_id)
            for first, last, delivery_count in _acquired(fetched):
                taken.update((offset, delivery_count) for offset in range(first, last + 1))
            if {1, 2} <= taken.keys():
                break
        return codes, sorted(taken.items()), wire.share_offsets(group, topic)
    finally:
        wire.close()


def test_an_acknowledgement_after_leaving_the_group_counts_as_on_kafka(
    brokers: dict[str, str],
) -> None:
    answers = {name: acknowledged_after_leaving(b) for name, b in brokers.items()}
    assert answers["katka"] == answers["kafka"]
    # accepted for good; 1 released by the acknowledgement and 2 by the session closing
    assert answers["katka"] == ([0, 0], [(1, 2), (2, 2)], [(0, 1, 2)])


def described(bootstrap: str, tool_classpath: str) -> tuple[Any, list[list[str]]]:
    """6 records, 4 accepted by a consumer that then closed: DescribeShareGroupOffsets, and
    kafka-share-groups --describe with the topic and group names replaced."""
    topic, group = accepted_share_group(bootstrap, 6, 4)
    result = subprocess.run(
        [
            "java",
            "-cp",
            tool_classpath,
            "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--group",
            group,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = [
        ["GROUP" if w == group else "TOPIC" if w == topic else w for w in line.split()]
        for line in result.stdout.splitlines()
        if line.strip()
    ]
    return share_offsets(bootstrap, group, topic), rows


def test_share_group_offsets_and_the_describe_tool_report_as_on_kafka(
    brokers: dict[str, str],
) -> None:
    libs = kafka_libs()
    tool_classpath = f"{kafka_tools_jar(libs)}{os.pathsep}{libs}/*"
    answers = {name: described(b, tool_classpath) for name, b in brokers.items()}
    (katka_offsets, katka_rows), (kafka_offsets, kafka_rows) = answers["katka"], answers["kafka"]
    assert katka_offsets == [(0, 4, 2)]
    assert_same_offsets(katka_offsets, kafka_offsets)
    header, *rows = katka_rows
    start = header.index("START-OFFSET")
    assert rows[0][:5] == ["GROUP", "TOPIC", "0", "4", "2"]  # partition, start offset, lag
    without_start = [[w for i, w in enumerate(row) if i != start] for row in katka_rows]
    assert without_start == [[w for i, w in enumerate(row) if i != start] for row in kafka_rows]
