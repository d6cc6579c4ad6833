"""ListOffsets v0, which Kafka 4.0 dropped and Burrow 1.2.1 still sends: the request as such a
client writes it, the answer's bytes as it reads them."""

from __future__ import annotations

import struct

from katka import api
from katka.api.context import RequestContext
from katka.broker import Broker
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.timers import ManualTimers
from katka.node import Endpoint
from katka.protocol.batches import validate_produce_records
from katka.protocol.codec import decode_request, encode_response, read_fixed_header
from katka.protocol.records import build_batch
from katka.server.dispatch import api_version_ranges, build_registry
from katka.storage.memory import MemoryStorageEngine

LATEST, EARLIEST = -1, -2


def broker_with_records(count: int) -> Broker:
    clock = ManualClock()
    broker = Broker(
        BrokerConfig({}),
        None,
        Endpoint("127.0.0.1", 9092),
        storage=MemoryStorageEngine(),
        clock=clock,
    )
    broker.open()
    broker.start_coordinator(ManualTimers(clock))
    broker.topics.create_topic("orders", 2, {})
    log = broker.topics.get_log("orders", 1)
    batch = build_batch([(None, b"v%d" % i, (), clock.now_ms()) for i in range(count)])
    log.append(batch, validate_produce_records(batch, len(batch)), clock.now_ms())
    return broker


def v0_request(partitions: list[tuple[str, int, int, int]]) -> bytes:
    """Header v1 (api key 2, version 0), replica -1, then topics of (partition, timestamp,
    max_num_offsets) as Burrow's sarama writes them."""
    body = struct.pack(">i", -1)
    topics: dict[str, list[tuple[int, int, int]]] = {}
    for topic, partition, timestamp, max_offsets in partitions:
        topics.setdefault(topic, []).append((partition, timestamp, max_offsets))
    body += struct.pack(">i", len(topics))
    for topic, entries in topics.items():
        body += struct.pack(">h", len(topic)) + topic.encode() + struct.pack(">i", len(entries))
        for partition, timestamp, max_offsets in entries:
            body += struct.pack(">iqi", partition, timestamp, max_offsets)
    return struct.pack(">hhih", 2, 0, 42, 6) + b"burrow" + body


def parse_v0_response(payload: bytes) -> tuple[int, list[tuple[str, int, int, list[int]]]]:
    pos = 0
    (correlation_id, topic_count) = struct.unpack_from(">ii", payload, pos)
    pos += 8
    out = []
    for _ in range(topic_count):
        (size,) = struct.unpack_from(">h", payload, pos)
        name = payload[pos + 2 : pos + 2 + size].decode()
        pos += 2 + size
        (partition_count,) = struct.unpack_from(">i", payload, pos)
        pos += 4
        for _ in range(partition_count):
            partition, error, offset_count = struct.unpack_from(">ihi", payload, pos)
            pos += 10
            offsets = list(struct.unpack_from(f">{offset_count}q", payload, pos))
            pos += 8 * offset_count
            out.append((name, partition, error, offsets))
    assert pos == len(payload)
    return correlation_id, out


def answer(broker: Broker, frame: bytes) -> tuple[int, list[tuple[str, int, int, list[int]]]]:
    fixed = read_fixed_header(frame)
    header, request = decode_request(frame, fixed)
    assert header.client_id == "burrow"
    context = RequestContext(2, 0, fixed.correlation_id, "burrow", "127.0.0.1")
    response = api.list_offsets.handle(context, request, broker.node)
    return parse_v0_response(encode_response(2, 0, fixed.correlation_id, response).payload())


def test_list_offsets_v0_answers_latest_and_earliest_as_one_old_style_offset():
    broker = broker_with_records(5)
    correlation_id, partitions = answer(
        broker,
        v0_request(
            [("orders", 0, LATEST, 1), ("orders", 1, LATEST, 1), ("orders", 1, EARLIEST, 1)]
        ),
    )
    assert correlation_id == 42
    assert partitions == [
        ("orders", 0, 0, [0]),
        ("orders", 1, 0, [5]),
        ("orders", 1, 0, [0]),
    ]


def test_list_offsets_v0_for_an_unknown_partition_is_an_error_with_no_offsets():
    broker = broker_with_records(1)
    _, partitions = answer(broker, v0_request([("missing", 0, LATEST, 1), ("orders", 9, -1, 1)]))
    assert [(topic, error, offsets) for topic, _, error, offsets in partitions] == [
        ("missing", 3, []),  # UNKNOWN_TOPIC_OR_PARTITION
        ("orders", 3, []),
    ]


def test_api_versions_advertises_list_offsets_from_version_0():
    ranges = {r.api_key: r for r in api_version_ranges(build_registry(api.ALL))}
    assert (ranges[2].min_version, ranges[2].max_version) == (0, 11)
