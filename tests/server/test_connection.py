"""A connection over a real socket: replies leave in request order, a client's close still gets
what it is owed, and an idle consumer's parked poll goes when its connection goes."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

import katka
from katka.embed import EmbeddedBroker
from tests.conditions import wait_until
from tests.server.test_idle_fetch import fetch_frame

TOPIC_PARTITION = ("orders", 0)


@pytest.fixture
def running() -> Iterator[EmbeddedBroker]:
    with katka.embedded() as running:
        running.call(lambda: running.broker.topics.create_topic("orders", 2, {}))
        yield running


def connect(running: EmbeddedBroker) -> socket.socket:
    host, port = running.bootstrap_servers.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def send(sock: socket.socket, frame: bytes) -> None:
    sock.sendall(struct.pack(">i", len(frame)) + frame)


def receive(sock: socket.socket) -> bytes:
    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            assert chunk, "the broker closed the connection"
            data += chunk
        return data

    (size,) = struct.unpack(">i", exactly(4))
    return exactly(size)


def correlation_id(reply: bytes) -> int:
    return int(struct.unpack_from(">i", reply)[0])


def frames(running: EmbeddedBroker, max_wait_ms: int) -> list[bytes]:
    node = running.broker.node
    return [
        fetch_frame(node, 11, correlation, max_wait_ms=max_wait_ms) for correlation in (1, 2, 3)
    ]


def test_pipelined_long_polls_are_answered_in_request_order(running: EmbeddedBroker) -> None:
    with connect(running) as sock:
        for frame in frames(running, 50):
            send(sock, frame)
        assert [correlation_id(receive(sock)) for _ in range(3)] == [1, 2, 3]


def test_a_client_that_closes_its_side_still_gets_its_parked_polls(
    running: EmbeddedBroker,
) -> None:
    with connect(running) as sock:
        for frame in frames(running, 200):
            send(sock, frame)
        sock.shutdown(socket.SHUT_WR)
        assert [correlation_id(receive(sock)) for _ in range(3)] == [1, 2, 3]
        assert sock.recv(1) == b""  # then the broker closes


def test_a_closed_connection_drops_its_parked_polls(running: EmbeddedBroker) -> None:
    appends = running.broker.node.appends
    dispatcher = running.broker._dispatcher
    assert dispatcher is not None
    first, again, _ = frames(running, 60_000)
    sock = connect(running)
    send(sock, first)  # handled: its empty answer remembered, parked on the full path
    wait_until(lambda: appends.waiting_on(TOPIC_PARTITION) == 1, what="the first poll parked")
    send(sock, again)  # the same again: parked by the connection
    wait_until(lambda: appends.waiting_on(TOPIC_PARTITION) == 2, what="the idle poll parked")
    assert running.call(lambda: len(dispatcher.idle_fetches.wheel)) == 1
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset: the connection is gone (a close of one side would be answered)
    wait_until(lambda: appends.waiting_on(TOPIC_PARTITION) == 0, what="both dropped")
    assert running.call(lambda: len(dispatcher.idle_fetches.wheel)) == 0
