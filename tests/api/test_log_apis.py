"""Request in, response out, at the lowest and highest version of the APIs that read and write
partition logs. Every requested partition gets exactly one answer, in request order."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from katka.api import (
    delete_records,
    describe_producers,
    fetch,
    list_offsets,
    offset_for_leader_epoch,
    produce,
)
from katka.errors import ErrorCode
from katka.protocol.codec import request_schema
from katka.protocol.records import build_batch, decode_records
from tests.api.harness import ApiHarness, build, edges
from tests.api.legacy import message_set, read_message_set

NO_WAIT = datetime.timedelta(0)


def batch(*values: bytes, timestamp_ms: int = 1_000, producer_id: int = -1) -> bytes:
    records = [(None, value, (), timestamp_ms + i) for i, value in enumerate(values)]
    return build_batch(
        records,
        producer_id=producer_id,
        producer_epoch=0 if producer_id >= 0 else -1,
        base_sequence=0 if producer_id >= 0 else -1,
    )  # type: ignore[arg-type]


def record_set(version: int, *values: bytes) -> bytes:
    """What a producer of this Produce version sends: a v2 batch, or (v0-2) a v1 message set."""
    return batch(*values) if version >= 3 else message_set(1, *values)


def fetched_values(version: int, records: Any) -> list[bytes | None]:
    if version >= 4:
        return [r.value for r in decode_records(bytes(records))]
    return [value for *_, value in read_message_set(bytes(records))]


def produce_to(api: ApiHarness, version: int, topic: str, partition: int, records: bytes) -> int:
    response = api.call(
        produce,
        version,
        acks=-1,
        timeout=datetime.timedelta(seconds=5),
        topic_data=[{"name": topic, "partition_data": [{"index": partition, "records": records}]}],
    )
    answer = response.responses[0].partition_responses[0]
    assert answer.error_code == ErrorCode.none
    return int(answer.base_offset)


@edges(produce)
def test_produce_appends_and_answers_every_partition_once_in_request_order(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 2, {})
    response = api.call(
        produce,
        version,
        acks=1,
        timeout=datetime.timedelta(seconds=5),
        topic_data=[
            {
                "name": "orders",
                "partition_data": [
                    {"index": 1, "records": record_set(version, b"a", b"b")},
                    {"index": 0, "records": record_set(version, b"c")},
                    {"index": 7, "records": record_set(version, b"d")},
                ],
            },
            {
                "name": "missing",
                "partition_data": [{"index": 0, "records": record_set(version, b"e")}],
            },
            {
                "name": "__consumer_offsets",
                "partition_data": [{"index": 0, "records": record_set(version, b"f")}],
            },
        ],
    )
    answers = [
        (topic.name, p.index, p.error_code, p.base_offset)
        for topic in response.responses
        for p in topic.partition_responses
    ]
    assert answers == [
        ("orders", 1, ErrorCode.none, 0),
        ("orders", 0, ErrorCode.none, 0),
        ("orders", 7, ErrorCode.unknown_topic_or_partition, -1),
        ("missing", 0, ErrorCode.unknown_topic_or_partition, -1),
        ("__consumer_offsets", 0, ErrorCode.invalid_topic_exception, -1),
    ]
    assert api.node.topics.get_log("orders", 1).high_watermark == 2


@edges(produce)
def test_produce_with_acks_0_appends_but_expects_no_response(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    fields = dict(
        acks=0,
        timeout=NO_WAIT,
        topic_data=[
            {
                "name": "orders",
                "partition_data": [{"index": 0, "records": record_set(version, b"a")}],
            }
        ],
    )
    assert not produce.expects_response(build(request_schema(produce.API_KEY, version), fields))
    api.call(produce, version, **fields)
    assert api.node.topics.get_log("orders", 0).high_watermark == 1


@edges(fetch)
def test_fetch_returns_the_stored_batches_and_answers_unknown_partitions(
    api: ApiHarness, version: int
) -> None:
    orders = api.node.topics.create_topic("orders", 1, {}).topic_id
    produce_to(api, 3, "orders", 0, batch(b"one", b"two"))
    response = api.call(
        fetch,
        version,
        max_wait=NO_WAIT,
        min_bytes=1,
        max_bytes=1 << 20,
        isolation_level=0,
        session_epoch=-1,
        topics=[
            {
                "topic": "orders",
                "topic_id": orders,  # v13+
                "partitions": [
                    {"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20},
                    {"partition": 3, "fetch_offset": 0, "partition_max_bytes": 1 << 20},
                ],
            }
        ],
    )
    assert getattr(response, "error_code", ErrorCode.none) == ErrorCode.none  # v7+
    found, missing = response.responses[0].partitions
    assert found.error_code == ErrorCode.none and found.high_watermark == 2
    assert fetched_values(version, found.records) == [b"one", b"two"]
    assert missing.partition_index == 3
    assert missing.error_code == ErrorCode.unknown_topic_or_partition


@edges(fetch)
def test_a_fetch_below_min_bytes_is_answered_when_its_wait_ends(
    api: ApiHarness, version: int
) -> None:
    orders = api.node.topics.create_topic("orders", 1, {}).topic_id
    response = api.call(
        fetch,
        version,
        max_wait=datetime.timedelta(milliseconds=20),
        min_bytes=1,
        max_bytes=1 << 20,
        session_epoch=-1,
        topics=[
            {
                "topic": "orders",
                "topic_id": orders,  # v13+
                "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1024}],
            }
        ],
    )
    (partition,) = response.responses[0].partitions
    assert partition.error_code == ErrorCode.none and bytes(partition.records or b"") == b""


@edges(list_offsets)
def test_list_offsets_answers_earliest_latest_and_by_timestamp(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    produce_to(api, 3, "orders", 0, batch(b"a", b"b", b"c", timestamp_ms=5_000))
    wanted = [-2, -1, 5_001, 9_999]
    response = api.call(
        list_offsets,
        version,
        replica_id=-1,
        topics=[
            {
                "name": "orders",
                "partitions": [
                    {"partition_index": 0, "timestamp": t, "max_num_offsets": 1} for t in wanted
                ]
                + [{"partition_index": 4, "timestamp": -1, "max_num_offsets": 1}],
            }
        ],
    )
    answers = response.topics[0].partitions
    assert [p.error_code for p in answers] == [ErrorCode.none] * 4 + [
        ErrorCode.unknown_topic_or_partition
    ]
    if version == 0:
        assert [tuple(p.old_style_offsets) for p in answers[:4]] == [(0,), (3,), (1,), ()]
    else:
        assert [p.offset for p in answers[:4]] == [0, 3, 1, -1]


@edges(delete_records)
def test_delete_records_moves_the_log_start_offset(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    produce_to(api, 3, "orders", 0, batch(b"a", b"b", b"c"))
    response = api.call(
        delete_records,
        version,
        timeout=NO_WAIT,
        topics=[
            {
                "name": "orders",
                "partitions": [
                    {"partition_index": 0, "offset": 2},
                    {"partition_index": 1, "offset": 2},
                ],
            }
        ],
    )
    moved, missing = response.topics[0].partitions
    assert (moved.error_code, moved.low_watermark) == (ErrorCode.none, 2)
    assert missing.error_code == ErrorCode.unknown_topic_or_partition
    assert api.node.topics.get_log("orders", 0).log_start_offset == 2


@edges(offset_for_leader_epoch)
def test_offset_for_leader_epoch_answers_the_log_end_of_epoch_0(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    produce_to(api, 3, "orders", 0, batch(b"a", b"b"))
    response = api.call(
        offset_for_leader_epoch,
        version,
        replica_id=-1,
        topics=[
            {
                "topic": "orders",
                "partitions": [
                    {"partition": 0, "current_leader_epoch": 0, "leader_epoch": 0},
                    {"partition": 0, "current_leader_epoch": 5, "leader_epoch": 0},
                    {"partition": 2, "current_leader_epoch": 0, "leader_epoch": 0},
                ],
            }
        ],
    )
    current, future_epoch, missing = response.topics[0].partitions
    assert (current.error_code, current.end_offset) == (ErrorCode.none, 2)
    assert getattr(current, "leader_epoch", 0) == 0  # v0 answers no epoch
    # v0-1 carry no current leader epoch to fence with.
    fenced = ErrorCode.unknown_leader_epoch if version >= 2 else ErrorCode.none
    assert future_epoch.error_code == fenced
    assert missing.error_code == ErrorCode.unknown_topic_or_partition


@edges(describe_producers)
def test_describe_producers_lists_the_idempotent_producers_of_a_partition(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    produce_to(api, 3, "orders", 0, batch(b"a", producer_id=42))
    response = api.call(
        describe_producers, version, topics=[{"name": "orders", "partition_indexes": [0, 9]}]
    )
    found, missing = response.topics[0].partitions
    assert found.error_code == ErrorCode.none
    assert [p.producer_id for p in found.active_producers] == [42]
    assert missing.error_code == ErrorCode.unknown_topic_or_partition


def test_list_offsets_v11_answers_the_tiered_special_timestamps_with_nothing(
    api: ApiHarness,
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    produce_to(api, 3, "orders", 0, batch(b"a", b"b"))
    response = api.call(
        list_offsets,
        11,
        replica_id=-1,
        timeout=datetime.timedelta(seconds=1),
        topics=[
            {
                "name": "orders",
                "partitions": [{"partition_index": 0, "timestamp": t} for t in (-5, -6, -4)],
            }
        ],
    )
    assert [(p.error_code, p.offset) for p in response.topics[0].partitions] == [
        (ErrorCode.none, -1),
        (ErrorCode.none, -1),
        (ErrorCode.none, 0),
    ]


def test_fetch_v13_names_topics_by_id_and_refuses_an_unknown_id(api: ApiHarness) -> None:
    orders = api.node.topics.create_topic("orders", 1, {}).topic_id
    produce_to(api, 3, "orders", 0, batch(b"one"))
    stranger = uuid.uuid4()
    response = api.call(
        fetch,
        13,
        max_wait=NO_WAIT,
        min_bytes=1,
        max_bytes=1 << 20,
        session_epoch=-1,
        topics=[
            {
                "topic_id": topic_id,
                "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1024}],
            }
            for topic_id in (orders, stranger)
        ],
    )
    known, unknown = response.responses
    assert known.topic_id == orders and fetched_values(13, known.partitions[0].records) == [b"one"]
    assert unknown.topic_id == stranger
    assert unknown.partitions[0].error_code == ErrorCode.unknown_topic_id
