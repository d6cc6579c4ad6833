"""ListOffsets (key 2), v0-11: earliest (-2), latest (-1), max timestamp (-3, v7+),
earliest local (-4, v8+: the same as earliest, there is no tiered storage), latest tiered (-5,
v9+) and earliest pending upload (-6, v11+: -1/-1, nothing is tiered), or the first
offset whose timestamp is >= the given one (or -1/-1 when none is). v10's timeout is moot: the
answer never waits. Latest is the last stable
offset for read_committed (isolation_level 1), as in Kafka.
v0 (Kafka 4.0 dropped it; Burrow 1.2.1 still sends it) answers the same offset as the only
element of old_style_offsets, whatever max_num_offsets asks (Kafka 3.9 listed segment base
offsets after it; clients ask for one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, TOPIC, authorized
from katka.api._build import ZERO, make, response_module
from katka.api._partitions import answer_partitions
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.storage.base import PartitionLog

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 2
VERSIONS = range(0, 12)
LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL = -1, -2, -3, -4
LATEST_TIERED, EARLIEST_PENDING_UPLOAD = -5, -6
LEADER_EPOCH = 0
READ_COMMITTED = 1


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    read_committed = getattr(request, "isolation_level", 0) == READ_COMMITTED

    def partition(requested: Any, error: ErrorCode, timestamp: int = -1, offset: int = -1) -> Any:
        return make(
            m.ListOffsetsPartitionResponse,
            partition_index=requested.partition_index,
            error_code=error,
            timestamp=timestamp,
            offset=offset,
            leader_epoch=LEADER_EPOCH if error == ErrorCode.none and offset >= 0 else -1,
            old_style_offsets=(offset,) if error == ErrorCode.none and offset >= 0 else (),
        )

    def answer(topic: Any, requested: Any) -> Any:
        if not authorized(ctx, node, DESCRIBE, TOPIC, topic.name):
            raise KafkaError(ErrorCode.topic_authorization_failed, "Topic authorization failed.")
        partition_log = node.topics.get_log(topic.name, requested.partition_index)
        if getattr(requested, "current_leader_epoch", -1) > LEADER_EPOCH:
            raise KafkaError(ErrorCode.unknown_leader_epoch)
        offset, timestamp = _find(partition_log, requested.timestamp, read_committed)
        return partition(requested, ErrorCode.none, timestamp, offset)

    topics = answer_partitions(
        request.topics,
        lambda topic: topic.partitions,
        answer,
        lambda _topic, requested, error, _message: partition(requested, error),
        lambda topic, partitions: make(
            m.ListOffsetsTopicResponse, name=topic.name, partitions=partitions
        ),
    )
    return make(m.ListOffsetsResponse, throttle_time=ZERO, topics=topics)


def _find(partition_log: PartitionLog, wanted: int, read_committed: bool) -> tuple[int, int]:
    """(offset, timestamp) for a requested timestamp or special value; -1s when none is."""
    if wanted == LATEST:
        end = partition_log.last_stable_offset if read_committed else partition_log.high_watermark
        return end, -1
    if wanted in (EARLIEST, EARLIEST_LOCAL):
        return partition_log.log_start_offset, -1
    if wanted in (LATEST_TIERED, EARLIEST_PENDING_UPLOAD):
        return -1, -1  # no tiered storage
    if wanted < 0 and wanted != MAX_TIMESTAMP:
        # Kafka 4.4 answers a negative timestamp it does not know as UNSUPPORTED_VERSION
        # (kafka-consumer-groups --by-duration reaching before 1970 sends one).
        raise KafkaError(ErrorCode.unsupported_version, f"unknown special timestamp {wanted}")
    if wanted == MAX_TIMESTAMP:
        found = partition_log.max_timestamp()
    else:
        found = partition_log.offset_for_timestamp(wanted)
    return (found.offset, found.timestamp_ms) if found is not None else (-1, -1)
