"""Overload and slow clients against a real `katka serve`: connection limits, queued requests,
a client that never reads its socket, many idle connections, oversized requests."""

from __future__ import annotations

import datetime
import io
import resource
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from kio.schema.fetch.v4 import request as fetch_v4
from kio.schema.types import BrokerId, TopicName
from kio.serial import entity_writer
from kio.static.primitive import i8, i32, i64

from katka.reliability.fuzz import frame, probe, request_header
from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until

BUFFER_OVERRIDE: list[str] = []  # a check of this test: set the limit off here, it must fail


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[list[BrokerProcess]]:
    started: list[BrokerProcess] = []
    yield started
    for broker in started:
        broker.kill()


def start(started: list[BrokerProcess], tmp_path: Path, *overrides: str) -> BrokerProcess:
    broker = BrokerProcess(
        tmp_path / f"data-{len(started)}",
        overrides=["group.initial.rebalance.delay.ms=0", *overrides],
        extra_args=["--log-level", "WARNING"],
    )
    started.append(broker)
    broker.start()
    return broker


def connect(broker: BrokerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", broker.port), timeout=5)


def answers(connection: socket.socket) -> bool:
    """One ApiVersions round trip on an open connection; False when the broker closed it."""
    try:
        connection.sendall(frame(request_header(18, 0, 77, False)))
        data = connection.recv(65536)
    except OSError:
        return False
    return len(data) >= 8 and struct.unpack_from(">i", data, 4)[0] == 77


def answers_new_connection(broker: BrokerProcess) -> bool:
    with connect(broker) as connection:
        return answers(connection)


def fetch_frame(topic: str, correlation_id: int, max_wait_ms: int, min_bytes: int) -> bytes:
    request = fetch_v4.FetchRequest(
        replica_id=BrokerId(-1),
        max_wait=datetime.timedelta(milliseconds=max_wait_ms),
        min_bytes=i32(min_bytes),
        max_bytes=i32(64 * 1024 * 1024),
        isolation_level=i8(0),
        topics=(
            fetch_v4.FetchTopic(
                topic=TopicName(topic),
                partitions=(
                    fetch_v4.FetchPartition(
                        partition=i32(0),
                        fetch_offset=i64(0),
                        partition_max_bytes=i32(8 * 1024 * 1024),
                    ),
                ),
            ),
        ),
    )
    buffer = io.BytesIO()
    entity_writer(fetch_v4.FetchRequest)(buffer, request)
    return frame(request_header(1, 4, correlation_id, False) + buffer.getvalue())


def create_topic(broker: BrokerProcess, topic: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)


def round_trip(broker: BrokerProcess, topic: str, count: int = 20) -> int:
    """Produce `count` records and read them back; returns how many came back."""
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "log_level": 0})
    for i in range(count):
        producer.produce(topic, value=b"v%d" % i)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "rt", "log_level": 0})
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen = 0
    deadline = time.monotonic() + 30
    while seen < count and time.monotonic() < deadline:
        seen += sum(1 for m in consumer.consume(100, 0.5) if m.error() is None)
    consumer.close()
    return seen


def test_connections_over_max_connections_per_ip_are_closed(
    broker_factory: list[BrokerProcess], tmp_path: Path
) -> None:
    broker = start(broker_factory, tmp_path, "max.connections.per.ip=5")
    kept = [connect(broker) for _ in range(5)]
    assert all(answers(connection) for connection in kept)
    extra = connect(broker)
    assert not answers(extra)  # closed by the broker
    kept.pop().close()
    wait_until(lambda: answers_new_connection(broker), what="the freed slot serves a new client")
    for connection in [*kept, extra]:
        connection.close()


def test_connections_over_max_connections_are_closed(
    broker_factory: list[BrokerProcess], tmp_path: Path
) -> None:
    broker = start(broker_factory, tmp_path, "max.connections=3")
    kept = [connect(broker) for _ in range(3)]
    assert all(answers(connection) for connection in kept)
    assert not answers(connect(broker))
    kept[0].close()
    wait_until(lambda: answers_new_connection(broker), what="the freed slot serves a new client")


def test_a_request_over_socket_request_max_bytes_closes_only_its_connection(
    broker_factory: list[BrokerProcess], tmp_path: Path
) -> None:
    broker = start(broker_factory, tmp_path, "socket.request.max.bytes=2000")
    big = connect(broker)
    big.sendall(frame(request_header(18, 0, 1, False) + b"\x00" * 3000))
    assert big.recv(100) == b""
    assert probe(broker.port)


def test_queued_max_requests_stops_reading_a_pipelining_connection(
    broker_factory: list[BrokerProcess], tmp_path: Path
) -> None:
    """With 5 replies allowed outstanding, 30 long polls of 300 ms take six rounds."""
    broker = start(broker_factory, tmp_path, "queued.max.requests=5")
    create_topic(broker, "empty")
    connection = connect(broker)
    connection.settimeout(30)
    started = time.monotonic()
    connection.sendall(b"".join(fetch_frame("empty", i, 300, 1 << 30) for i in range(30)))
    received = 0
    buffer = b""
    while received < 30:
        buffer += connection.recv(65536)
        while len(buffer) >= 4 and len(buffer) >= 4 + struct.unpack_from(">i", buffer)[0]:
            size = struct.unpack_from(">i", buffer)[0]
            buffer = buffer[4 + size :]
            received += 1
    elapsed = time.monotonic() - started
    assert elapsed >= 1.5, elapsed  # 6 rounds of 300 ms; unlimited it would be one round
    connection.close()


def test_a_client_that_never_reads_does_not_grow_broker_memory(
    broker_factory: list[BrokerProcess], tmp_path: Path
) -> None:
    broker = start(broker_factory, tmp_path, "message.max.bytes=2000000", *BUFFER_OVERRIDE)
    create_topic(broker, "big")
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "acks": "all",
            "log_level": 0,
            "batch.size": 1_000_000,
            "linger.ms": 50,
            "message.max.bytes": 2_000_000,
        }
    )
    for i in range(8):
        producer.produce("big", value=bytes([i]) * 900_000)
    assert producer.flush(30) == 0
    baseline = broker.rss()
    # Each Fetch answers at once with ~8 MB; 500 may be outstanding (queued.max.requests), so
    # without a byte limit the broker would hold ~4 GB for a client that never reads.
    stalled = connect(broker)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.settimeout(0.5)
    sent = 0
    peak = baseline
    deadline = time.monotonic() + 15
    request = fetch_frame("big", 1, 0, 1)
    while sent < 400 and time.monotonic() < deadline:
        try:
            stalled.sendall(request)
            sent += 1
        except TimeoutError:
            break  # the broker stopped reading: TCP pushes back on us
        peak = max(peak, broker.rss())
    time.sleep(1)
    peak = max(peak, broker.rss())
    assert peak - baseline < 200 * 2**20, (sent, baseline, peak)
    create_topic(broker, "small")
    assert round_trip(broker, "small", 5) == 5  # others are still served
    assert probe(broker.port)
    stalled.close()


def test_a_thousand_idle_connections_cost_little_and_block_nobody(
    broker_factory: list[BrokerProcess], tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"open file hard limit {hard} is below 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    broker = start(broker_factory, tmp_path)
    create_topic(broker, "busy")
    baseline = broker.rss()
    idle = []
    try:
        for _ in range(1000):
            idle.append(connect(broker))
        assert answers(idle[0]) and answers(idle[-1])
        assert round_trip(broker, "busy", 50) == 50
        grown = broker.rss() - baseline
        assert grown < 100 * 2**20, grown
        assert sum(1 for connection in idle[::50] if answers(connection)) == 20
    finally:
        for connection in idle:
            connection.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
