"""Bad bytes get what Kafka gives them (an error response or a closed connection) while
other clients keep being served."""

from __future__ import annotations

import socket
import struct
import threading

from confluent_kafka import Producer

from katka.reliability.process import BrokerProcess
from tests.e2e.test_produce_consume import consume_all, create_topic, unique


def raw_connection(server: BrokerProcess) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return connection


def closed_by_peer(connection: socket.socket) -> bool:
    try:
        return connection.recv(65536) == b""
    except ConnectionResetError:
        return True


def request_frame(
    api_key: int, version: int, correlation_id: int, body: bytes = b"", client_id: bytes = b"t"
) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def test_api_versions_above_ours_gets_a_v0_unsupported_version_response(
    katka_server: BrokerProcess,
) -> None:
    with raw_connection(katka_server) as connection:
        connection.sendall(request_frame(18, 99, 7))
        size = struct.unpack(">i", connection.recv(4))[0]
        body = b""
        while len(body) < size:
            body += connection.recv(size - len(body))
        correlation_id, error_code, count = struct.unpack_from(">ihi", body)
        assert correlation_id == 7
        assert error_code == 35  # UNSUPPORTED_VERSION
        keys = {struct.unpack_from(">hhh", body, 10 + 6 * i)[0] for i in range(count)}
        assert {0, 1, 3, 18} <= keys


def test_garbage_unknown_keys_and_lies_close_the_connection(katka_server: BrokerProcess) -> None:
    cases = [
        b"\x00\x00\x00\x05hello",  # too short for a header
        request_frame(9999, 0, 1),  # unknown api key
        request_frame(3, 200, 1),  # unsupported Metadata version
        request_frame(3, 12, 1, b"\xff\xff\xff\xff\xff\xff"),  # body that does not decode
        struct.pack(">i", 2**31 - 1) + b"\x00" * 10,  # 2 GiB length prefix
        struct.pack(">i", -5),  # negative length
    ]
    for frame in cases:
        with raw_connection(katka_server) as connection:
            connection.sendall(frame)
            assert closed_by_peer(connection), frame[:20]


def test_a_truncated_frame_does_not_disturb_another_producer(katka_server: BrokerProcess) -> None:
    topic = unique("neighbour")
    create_topic(katka_server.bootstrap, topic, 1)
    stuck = raw_connection(katka_server)
    stuck.sendall(struct.pack(">i", 1000) + b"\x00\x03\x00\x0c")  # promises 1000 bytes, sends 4
    garbage_done = threading.Event()

    def garbage() -> None:
        for _ in range(50):
            with raw_connection(katka_server) as connection:
                connection.sendall(b"\x00\x00\x00\x10" + b"\xde\xad\xbe\xef" * 4)
                closed_by_peer(connection)
        garbage_done.set()

    thread = threading.Thread(target=garbage)
    thread.start()
    producer = Producer({"bootstrap.servers": katka_server.bootstrap, "acks": "all"})
    for i in range(500):
        producer.produce(topic, value=b"ok-%d" % i)
    assert producer.flush(15) == 0
    thread.join(30)
    assert garbage_done.is_set()
    assert len(consume_all(katka_server.bootstrap, topic, 1, 500)) == 500
    stuck.close()
