"""Batches whose header max_timestamp is -1 (sarama before 1.45.1 sends them) are stored with the
max timestamp Kafka's validator sets, are answered, and are never deleted early by retention.

Plain sockets: the requests are encoded by hand with kio, as an old client would send them.
"""

from __future__ import annotations

import datetime
import io
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from kio.schema.fetch.v4 import request as fetch_v4
from kio.schema.fetch.v4 import response as fetch_v4_response
from kio.schema.list_offsets.v1 import request as list_offsets_v1
from kio.schema.list_offsets.v1 import response as list_offsets_v1_response
from kio.schema.produce.v3 import request as produce_v3
from kio.schema.produce.v3 import response as produce_v3_response
from kio.schema.produce.v8 import request as produce_v8
from kio.schema.produce.v8 import response as produce_v8_response
from kio.schema.types import BrokerId, TopicName
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i8, i16, i32, i64

from katka.protocol.batches import CRC_OFFSET, MAX_TIMESTAMP_OFFSET, compute_crc, read_header
from katka.protocol.records import build_batch, decode_records
from katka.reliability.process import BrokerProcess
from tests.e2e.test_produce_consume import create_topic, unique

EARLIEST = -2
LATEST = -1
HOUR = 3_600_000
PRODUCE = {3: (produce_v3, produce_v3_response), 8: (produce_v8, produce_v8_response)}


def sarama_batch(value: bytes, timestamp_ms: int, compression: int = 0) -> bytes:
    """One-record v2 batch with max_timestamp -1 in its header, as sarama 1.22 writes it."""
    batch = bytearray(build_batch([(None, value, (), timestamp_ms)], compression=compression))
    struct.pack_into(">q", batch, MAX_TIMESTAMP_OFFSET, -1)
    struct.pack_into(">I", batch, CRC_OFFSET, compute_crc(batch))
    return bytes(batch)


class RawClient:
    """Size-prefixed requests on one socket, answered in order."""

    def __init__(self, server: BrokerProcess) -> None:
        self.socket = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.correlation_id = 0

    def close(self) -> None:
        self.socket.close()

    def request(self, api_key: int, version: int, body: object, response_type: type) -> object:
        self.correlation_id += 1
        buffer = io.BytesIO()
        entity_writer(type(body))(buffer, body)  # type: ignore[arg-type]
        header = struct.pack(">hhih", api_key, version, self.correlation_id, 1) + b"t"
        payload = header + buffer.getvalue()
        self.socket.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", self._read(4))[0]
        reply = self._read(size)
        assert struct.unpack_from(">i", reply)[0] == self.correlation_id
        return entity_reader(response_type)(reply, 4)[0]

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.socket.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data

    def produce(self, topic: str, records: bytes, version: int = 3) -> Any:
        """Produce v3 (what old clients send) or v8 (the first with record_errors)."""
        request_module, response_module = PRODUCE[version]
        request = request_module.ProduceRequest(
            transactional_id=None,
            acks=i16(-1),
            timeout=datetime.timedelta(seconds=10),
            topic_data=(
                request_module.TopicProduceData(
                    name=TopicName(topic),
                    partition_data=(
                        request_module.PartitionProduceData(index=i32(0), records=records),
                    ),
                ),
            ),
        )
        response = self.request(0, version, request, response_module.ProduceResponse)
        return response.responses[0].partition_responses[0]  # type: ignore[attr-defined]

    def fetch(self, topic: str, offset: int = 0) -> bytes:
        """The stored batches of partition 0 from `offset`, as the broker returns them."""
        request = fetch_v4.FetchRequest(
            replica_id=BrokerId(-1),
            max_wait=datetime.timedelta(milliseconds=100),
            min_bytes=i32(1),
            max_bytes=i32(16 * 1024 * 1024),
            isolation_level=i8(0),
            topics=(
                fetch_v4.FetchTopic(
                    topic=TopicName(topic),
                    partitions=(
                        fetch_v4.FetchPartition(
                            partition=i32(0),
                            fetch_offset=i64(offset),
                            partition_max_bytes=i32(8 * 1024 * 1024),
                        ),
                    ),
                ),
            ),
        )
        response = self.request(1, 4, request, fetch_v4_response.FetchResponse)
        partition = response.responses[0].partitions[0]  # type: ignore[attr-defined]
        assert partition.error_code == 0, partition.error_code
        return bytes(partition.records or b"")

    def list_offset(self, topic: str, timestamp: int) -> int:
        request = list_offsets_v1.ListOffsetsRequest(
            replica_id=BrokerId(-1),
            topics=(
                list_offsets_v1.ListOffsetsTopic(
                    name=TopicName(topic),
                    partitions=(
                        list_offsets_v1.ListOffsetsPartition(
                            partition_index=i32(0), timestamp=i64(timestamp)
                        ),
                    ),
                ),
            ),
        )
        response = self.request(2, 1, request, list_offsets_v1_response.ListOffsetsResponse)
        partition = response.topics[0].partitions[0]  # type: ignore[attr-defined]
        assert partition.error_code == 0, partition.error_code
        return int(partition.offset)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def retention_checks(server: BrokerProcess) -> int:
    return sum("retention check freed" in line for line in list(server.output))


def test_batches_without_a_max_timestamp_are_answered_and_survive_retention(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    server = start_katka(["-o", "log.retention.check.interval.ms=200", "--log-level", "DEBUG"])
    topic = unique("sarama")
    # One batch per segment, so retention looks at closed segments.
    create_topic(server.bootstrap, topic, 1, {"segment.bytes": "100"})
    client = RawClient(server)
    now_ms = int(time.time() * 1000)
    try:
        answers = [
            client.produce(topic, sarama_batch(b"record-%d" % i, now_ms + i)) for i in range(3)
        ]
        assert [(a.error_code, a.base_offset) for a in answers] == [(0, 0), (0, 1), (0, 2)]

        seen = retention_checks(server)
        wait_for(lambda: retention_checks(server) >= seen + 3, 30, "three retention checks")

        assert client.list_offset(topic, EARLIEST) == 0
        assert client.list_offset(topic, LATEST) == 3
        assert client.list_offset(topic, now_ms + 1) == 1  # by time: the stored timestamps
        assert client.list_offset(topic, now_ms + 3) == LATEST  # no record that new
    finally:
        client.close()
    segments = sorted((server.data_dir / f"{topic}-0").glob("*.log"))
    stored = b"".join(path.read_bytes() for path in segments)
    assert [r.timestamp_ms for r in decode_records(stored)] == [now_ms, now_ms + 1, now_ms + 2]
    first = read_header(segments[0].read_bytes())
    assert first.max_timestamp == now_ms and compute_crc(segments[0].read_bytes()) == first.crc


def test_records_an_hour_ahead_are_refused_with_kafkas_record_errors(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    server = start_katka()
    topic = unique("future")
    create_topic(server.bootstrap, topic, 1)
    now_ms = int(time.time() * 1000)
    batch = build_batch([(None, b"now", (), now_ms), (None, b"later", (), now_ms + 2 * HOUR)])
    client = RawClient(server)
    try:
        refused = client.produce(topic, batch, version=8)
        assert refused.error_code == 32  # INVALID_TIMESTAMP
        assert refused.error_message == (
            "One or more records have been rejected due to invalid timestamp"
        )
        assert [e.batch_index for e in refused.record_errors] == [1]
        assert refused.record_errors[0].batch_index_error_message.startswith(
            f"Timestamp {now_ms + 2 * HOUR} of message with offset 1 is out of range."
        )
        assert client.produce(topic, batch, version=3).error_code == 32  # no record_errors field
        assert client.list_offset(topic, LATEST) == 0  # nothing of the batch was appended
        accepted = client.produce(topic, build_batch([(None, b"ok", (), now_ms)]), version=8)
        assert (accepted.error_code, accepted.base_offset, accepted.record_errors) == (0, 0, ())
    finally:
        client.close()


def test_a_producer_gets_invalid_timestamp_for_a_record_from_the_future(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    from confluent_kafka import KafkaError as ClientError
    from confluent_kafka import Producer

    server = start_katka(["-o", "log.message.timestamp.after.max.ms=60000"])
    topic = unique("future")
    create_topic(server.bootstrap, topic, 1)
    producer = Producer({"bootstrap.servers": server.bootstrap, "retries": 0})
    errors: list[Any] = []
    now_ms = int(time.time() * 1000)
    producer.produce(
        topic, b"ahead", timestamp=now_ms + 120_000, on_delivery=lambda e, _: errors.append(e)
    )
    producer.produce(topic, b"fine", timestamp=now_ms, on_delivery=lambda e, _: errors.append(e))
    assert producer.flush(20) == 0
    codes = sorted((e.code() if e else 0) for e in errors)
    assert codes in ([0, ClientError.INVALID_TIMESTAMP], [ClientError.INVALID_TIMESTAMP] * 2)
