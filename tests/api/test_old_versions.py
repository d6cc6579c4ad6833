"""The request versions Kafka 4.0 dropped (KIP-896) and Kafka 3.9 still served: the requests as
old clients write them (bytes packed here from Kafka's message specs, not by katka's schemas),
the answers' bytes as they read them, and the semantics each old version had."""

from __future__ import annotations

import inspect
import re
import struct
import types
from pathlib import Path
from typing import Any

import pytest

from katka import api as handlers
from katka.api import describe_configs, fetch, offset_commit, offset_fetch, produce
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.protocol.batches import validate_produce_records
from katka.protocol.codec import decode_request, encode_response, read_fixed_header
from katka.protocol.message_sets import xxh32
from katka.protocol.records import build_batch, compress, decode_batch, decode_records, iter_batches
from katka.server.dispatch import api_version_ranges, build_registry
from tests.api.harness import ApiHarness, answer_of
from tests.api.legacy import Reader, message, message_set, read_message_set
from tests.api.test_group_apis import GROUP as LIVE
from tests.api.test_group_apis import join_and_sync

GROUP = "legacy"
TOPIC_RESOURCE = 2
NOW = -1  # OffsetCommit v1: "the broker's time"


def string(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def array(items: list[bytes]) -> bytes:
    return struct.pack(">i", len(items)) + b"".join(items)


def frame(api_key: int, version: int, body: bytes) -> bytes:
    """Request header v1 (every version this old): key, version, correlation id, client id."""
    return struct.pack(">hhi", api_key, version, 99) + string("old-client") + body


def answer(api: ApiHarness, module: types.ModuleType, request_frame: bytes) -> Reader:
    """The response body's bytes (after the correlation id) for a request frame."""
    fixed = read_fixed_header(request_frame)
    _header, request = decode_request(request_frame, fixed)
    context = RequestContext(fixed.api_key, fixed.api_version, 99, "old-client", "127.0.0.1")
    response: Any = module.handle(context, request, api.node)
    if inspect.isawaitable(response):
        response = api.loop.run_until_complete(answer_of(response, api.timers))
    payload = encode_response(fixed.api_key, fixed.api_version, 99, response).payload()
    reader = Reader(payload)
    assert reader.int(">i") == 99
    return reader


# Share group APIs (KIP-932): not in Kafka 3.9; Kafka 4.1 made v1 their first usable version.
SINCE_KAFKA_4 = {76: 1, 77: 1, 78: 1, 79: 1}


def test_every_api_serves_the_oldest_version_kafka_3_9_accepted() -> None:
    """Kafka 3.9's message specs: every api katka serves accepted version 0."""
    ranges = api_version_ranges(build_registry(handlers.ALL))
    assert {r.api_key: r.min_version for r in ranges} == {
        r.api_key: SINCE_KAFKA_4.get(r.api_key, 0) for r in ranges
    }


def test_the_readme_compatibility_table_lists_what_api_versions_advertises() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = re.findall(r"^\| \w+ \((\d+)\) \| (\d+)-(\d+) \|", readme, re.MULTILINE)
    listed = {int(key): (int(low), int(high)) for key, low, high in rows}
    ranges = api_version_ranges(build_registry(handlers.ALL))
    assert listed == {r.api_key: (r.min_version, r.max_version) for r in ranges}


def describe_configs_v0(resources: list[tuple[int, str, list[str] | None]]) -> bytes:
    """As sarama 1.22's ClusterAdmin writes it (DescribeConfig, ListTopics)."""
    body = array(
        [
            struct.pack(">b", kind)
            + string(name)
            + (struct.pack(">i", -1) if keys is None else array([string(k) for k in keys]))
            for kind, name, keys in resources
        ]
    )
    return frame(describe_configs.API_KEY, 0, body)


def read_describe_configs_v0(r: Reader) -> dict[str, Any]:
    assert r.int(">i") == 0  # throttle time
    results = {}
    for _ in range(r.count()):
        error, message, kind, name = r.int(">h"), r.string(), r.int(">b"), r.string()
        configs = {}
        for _ in range(r.count()):
            key, value = r.string(), r.string()
            read_only, is_default, sensitive = r.int(">b"), r.int(">b"), r.int(">b")
            configs[key] = (value, bool(read_only), bool(is_default), bool(sensitive))
        results[name] = (error, message, kind, configs)
    assert r.done()
    return results


def test_describe_configs_v0_says_which_values_are_defaults(api: ApiHarness) -> None:
    api.node.topics.create_topic("orders", 1, {"retention.ms": "1000"})
    results = read_describe_configs_v0(
        answer(
            api,
            describe_configs,
            describe_configs_v0(
                [
                    (TOPIC_RESOURCE, "orders", None),
                    (TOPIC_RESOURCE, "missing", ["retention.ms"]),
                ]
            ),
        )
    )
    error, _message, kind, configs = results["orders"]
    assert (error, kind) == (ErrorCode.none, TOPIC_RESOURCE)
    assert configs["retention.ms"] == ("1000", False, False, False)
    assert configs["cleanup.policy"] == ("delete", False, True, False)
    assert results["missing"][0] == ErrorCode.unknown_topic_or_partition


def offset_commit_frame(
    version: int, offsets: list[tuple[int, int, int]], retention_ms: int = -1
) -> bytes:
    """v0: group, topics; v1: + generation -1, member "", a timestamp per partition;
    v2: v1's header + retention time, no timestamps. offsets: (partition, offset, timestamp)."""
    body = string(GROUP)
    if version >= 1:
        body += struct.pack(">i", -1) + string("")
    if version >= 2:
        body += struct.pack(">q", retention_ms)
    partitions = [
        struct.pack(">iq", partition, offset)
        + (struct.pack(">q", timestamp) if version == 1 else b"")
        + string(f"m{partition}")
        for partition, offset, timestamp in offsets
    ]
    body += array([string("orders") + array(partitions)])
    return frame(offset_commit.API_KEY, version, body)


def read_offset_commit(r: Reader) -> list[tuple[int, int]]:
    out = []
    for _ in range(r.count()):
        assert r.string() == "orders"
        for _ in range(r.count()):
            out.append((r.int(">i"), r.int(">h")))
    assert r.done()
    return out


@pytest.mark.parametrize("version", [0, 1])
def test_offset_commit_v0_and_v1_are_read_back_by_offset_fetch_v0(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 2, {})
    committed = answer(api, offset_commit, offset_commit_frame(version, [(0, 5, NOW), (1, 9, NOW)]))
    assert read_offset_commit(committed) == [(0, ErrorCode.none), (1, ErrorCode.none)]
    fetch_v0 = frame(
        offset_fetch.API_KEY,
        0,
        string(GROUP) + array([string("orders") + array([struct.pack(">i", p) for p in (0, 1)])]),
    )
    r = answer(api, offset_fetch, fetch_v0)
    assert r.count() == 1 and r.string() == "orders" and r.count() == 2
    fetched = [(r.int(">i"), r.int(">q"), r.string(), r.int(">h")) for _ in range(2)]
    assert r.done()
    assert fetched == [(0, 5, "m0", ErrorCode.none), (1, 9, "m1", ErrorCode.none)]


def test_offset_commit_v1_stores_the_commit_timestamp_it_names(api: ApiHarness) -> None:
    api.node.topics.create_topic("orders", 2, {})
    named = api.clock.now_ms() - 60_000
    answer(api, offset_commit, offset_commit_frame(1, [(0, 5, named), (1, 6, NOW)]))
    stored = api.node.coordinator.offsets
    first, second = stored.get(GROUP, "orders", 0), stored.get(GROUP, "orders", 1)
    assert first is not None and second is not None
    assert (first.commit_timestamp_ms, first.expire_timestamp_ms) == (named, None)
    assert second.commit_timestamp_ms == api.clock.now_ms()


def test_offset_commit_v2_retention_time_expires_offsets_at_now_plus_retention(
    api: ApiHarness,
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    committed_at = api.clock.now_ms()
    answer(api, offset_commit, offset_commit_frame(2, [(0, 5, NOW)], retention_ms=60_000))
    stored = api.node.coordinator.offsets.get(GROUP, "orders", 0)
    assert stored is not None and stored.expire_timestamp_ms == committed_at + 60_000
    api.clock.advance(59_999)
    assert api.node.coordinator.expire_offsets() == 0
    api.clock.advance(1)
    assert api.node.coordinator.expire_offsets() == 1
    assert api.node.coordinator.offsets.get(GROUP, "orders", 0) is None


def test_offset_commit_v2_without_retention_time_keeps_the_broker_retention(
    api: ApiHarness,
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    answer(api, offset_commit, offset_commit_frame(2, [(0, 5, NOW)], retention_ms=-1))
    stored = api.node.coordinator.offsets.get(GROUP, "orders", 0)
    assert stored is not None and stored.expire_timestamp_ms is None
    api.clock.advance(24 * 3600 * 1000)
    assert api.node.coordinator.expire_offsets() == 0


def test_offset_commit_v0_into_a_live_group_is_refused_as_a_stranger(api: ApiHarness) -> None:
    """v0 names no member: a live group answers it as v1 with generation -1 (Kafka 3.9 wrote
    v0 commits to ZooKeeper beside the group; katka keeps one store and protects the group)."""
    api.node.topics.create_topic("orders", 1, {})
    join_and_sync(api, 9, 5)
    body = string(LIVE) + array(
        [string("orders") + array([struct.pack(">iq", 0, 5) + string(None)])]
    )
    result = read_offset_commit(answer(api, offset_commit, frame(offset_commit.API_KEY, 0, body)))
    assert result == [(0, ErrorCode.unknown_member_id)]
    assert api.node.coordinator.offsets.get(LIVE, "orders", 0) is None


def produce_frame(version: int, partition: int, records: bytes) -> bytes:
    """Produce v0-2: acks -1, timeout, one topic with one partition's message set."""
    body = struct.pack(">hi", -1, 5_000) + array(
        [string("orders") + array([struct.pack(">i", partition) + bytes_(records)])]
    )
    return frame(produce.API_KEY, version, body)


def bytes_(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


def read_produce(r: Reader, version: int) -> list[tuple[int, int, int, int]]:
    """(partition, error, base offset, log append time or -2 before v2)."""
    out = []
    for _ in range(r.count()):
        assert r.string() == "orders"
        for _ in range(r.count()):
            partition, error, base_offset = r.int(">i"), r.int(">h"), r.int(">q")
            append_time = r.int(">q") if version >= 2 else -2
            out.append((partition, error, base_offset, append_time))
    if version >= 1:
        assert r.int(">i") == 0  # throttle time, after the responses
    assert r.done()
    return out


def fetch_frame(version: int, fetch_offset: int, partition_max_bytes: int = 1 << 20) -> bytes:
    body = struct.pack(">iii", -1, 0, 1)  # replica, max wait, min bytes
    if version >= 3:
        body += struct.pack(">i", 1 << 20)
    body += array(
        [string("orders") + array([struct.pack(">iqi", 0, fetch_offset, partition_max_bytes)])]
    )
    return frame(fetch.API_KEY, version, body)


def read_fetch(r: Reader, version: int) -> tuple[int, int, bytes]:
    """(error, high watermark, message set) of the one partition asked for."""
    if version >= 1:
        assert r.int(">i") == 0
    assert r.count() == 1 and r.string() == "orders" and r.count() == 1
    assert r.int(">i") == 0
    error, high_watermark, size = r.int(">h"), r.int(">q"), r.int(">i")
    records = r.data[r.pos : r.pos + size]
    r.pos += size
    assert r.done()
    return error, high_watermark, records


@pytest.mark.parametrize("version", [0, 1, 2])
def test_produce_v0_to_v2_store_message_sets_as_v2_batches(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    magic = 1 if version == 2 else 0  # what Kafka 0.8/0.9 and 0.10 clients send
    r = answer(api, produce, produce_frame(version, 0, message_set(magic, b"a", b"b", timestamp=7)))
    assert read_produce(r, version) == [(0, ErrorCode.none, 0, -1 if version >= 2 else -2)]
    stored = decode_records(
        api.node.topics.get_log("orders", 0).read(0, 1 << 20, 2, min_one_batch=True)
    )
    assert [(s.offset, s.value) for s in stored] == [(0, b"a"), (1, b"b")]
    assert [s.timestamp_ms for s in stored] == ([7, 8] if magic == 1 else [-1, -1])


@pytest.mark.parametrize("codec", [1, 2, 3], ids=["gzip", "snappy", "lz4"])
def test_produce_v2_of_a_compressed_wrapper_keeps_the_producers_codec(
    api: ApiHarness, codec: int
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    inner = message_set(1, b"x", b"y", b"z", timestamp=50)
    wrapper = message(2, 1, compress(codec, inner), 52, attributes=codec)
    r = answer(api, produce, produce_frame(2, 0, wrapper))
    assert read_produce(r, 2) == [(0, ErrorCode.none, 0, -1)]
    stored = api.node.topics.get_log("orders", 0).read(0, 1 << 20, 3, min_one_batch=True)
    ((header, batch),) = iter_batches(stored)
    assert header.compression == codec
    assert [(s.value, s.timestamp_ms) for s in decode_batch(batch)] == [
        (b"x", 50),
        (b"y", 51),
        (b"z", 52),
    ]


def test_produce_v2_of_a_message_with_a_bad_crc_is_corrupt(api: ApiHarness) -> None:
    api.node.topics.create_topic("orders", 1, {})
    garbled = bytearray(message_set(1, b"a"))
    garbled[-1] ^= 0xFF
    r = answer(api, produce, produce_frame(2, 0, bytes(garbled)))
    assert read_produce(r, 2) == [(0, ErrorCode.corrupt_message, -1, -1)]
    assert api.node.topics.get_log("orders", 0).high_watermark == 0


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_fetch_v0_to_v3_read_v2_batches_as_message_sets_from_the_fetch_offset(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    log = api.node.topics.get_log("orders", 0)
    first = build_batch([(b"k", b"one", (), 10), (None, b"two", (), 11)], compression=1)
    log.append(first, validate_produce_records(first, 1 << 20), api.clock.now_ms())
    second = build_batch([(None, b"three", (("h", b"dropped"),), 12)])
    log.append(second, validate_produce_records(second, 1 << 20), api.clock.now_ms())
    error, high_watermark, records = read_fetch(
        answer(api, fetch, fetch_frame(version, 1)), version
    )
    assert (error, high_watermark) == (ErrorCode.none, 3)
    magic = 0 if version < 2 else 1
    timestamps = (11, 12) if magic == 1 else (-1, -1)
    # Records before the fetch offset inside the first batch are left out; uncompressed.
    assert read_message_set(records) == [
        (1, magic, timestamps[0], None, b"two"),
        (2, magic, timestamps[1], None, b"three"),
    ]


def test_fetch_v2_leaves_out_control_batches(api: ApiHarness) -> None:
    api.node.topics.create_topic("orders", 1, {})
    log = api.node.topics.get_log("orders", 0)
    data = build_batch(
        [(None, b"in-txn", (), 10)],
        producer_id=9,
        producer_epoch=0,
        base_sequence=0,
        transactional=True,
    )
    log.append(data, validate_produce_records(data, 1 << 20), api.clock.now_ms())
    log.append_marker(9, 0, 0, True, api.clock.now_ms())
    _error, high_watermark, records = read_fetch(answer(api, fetch, fetch_frame(2, 0)), 2)
    assert high_watermark == 2
    assert [value for *_, value in read_message_set(records)] == [b"in-txn"]


def test_produce_v1_of_a_magic_0_lz4_wrapper_as_kafka_0_8_framed_it(api: ApiHarness) -> None:
    """Kafka 0.8-0.9 clients hashed the LZ4 frame's magic into its header checksum; Kafka's
    broker ignored that checksum for magic 0, and so does katka."""
    api.node.topics.create_topic("orders", 1, {})
    frame = bytearray(compress(3, message_set(0, b"p", b"q")))
    frame[6] = (xxh32(bytes(frame[0:6])) >> 8) & 0xFF
    r = answer(api, produce, produce_frame(1, 0, message(0, 0, bytes(frame), attributes=3)))
    assert read_produce(r, 1) == [(0, ErrorCode.none, 0, -2)]
    stored = api.node.topics.get_log("orders", 0).read(0, 1 << 20, 2, min_one_batch=True)
    assert [s.value for s in decode_records(stored)] == [b"p", b"q"]
