"""ListOffsets (key 2), v1-8: earliest (-2), latest (-1), max timestamp (-3, v7+),
earliest local (-4, v8+: the same as earliest, there is no tiered storage), or the first
offset whose timestamp is >= the given one (or -1/-1 when none is). Latest is the last stable
offset for read_committed (isolation_level 1), as in Kafka.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 2
VERSIONS = range(1, 9)
LATEST, EARLIEST, MAX_TIMESTAMP, EARLIEST_LOCAL = -1, -2, -3, -4
LEADER_EPOCH = 0
READ_COMMITTED = 1


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    read_committed = getattr(request, "isolation_level", 0) == READ_COMMITTED
    topics = []
    for topic in request.topics:
        partitions = []
        for requested in topic.partitions:
            error, timestamp, offset = ErrorCode.none, -1, -1
            try:
                partition_log = node.topics.get_log(topic.name, requested.partition_index)
                if getattr(requested, "current_leader_epoch", -1) > LEADER_EPOCH:
                    raise KafkaError(ErrorCode.unknown_leader_epoch)
                wanted = requested.timestamp
                if wanted == LATEST:
                    offset = (
                        partition_log.last_stable_offset
                        if read_committed
                        else partition_log.high_watermark
                    )
                elif wanted in (EARLIEST, EARLIEST_LOCAL):
                    offset = partition_log.log_start_offset
                elif wanted == MAX_TIMESTAMP:
                    found = partition_log.max_timestamp()
                    if found is not None:
                        offset, timestamp = found.offset, found.timestamp_ms
                elif wanted < 0:
                    raise KafkaError(
                        ErrorCode.invalid_request, f"unknown special timestamp {wanted}"
                    )
                else:
                    found = partition_log.offset_for_timestamp(wanted)
                    if found is not None:
                        offset, timestamp = found.offset, found.timestamp_ms
            except KafkaError as exc:
                error = exc.code
            partitions.append(
                make(
                    m.ListOffsetsPartitionResponse,
                    partition_index=requested.partition_index,
                    error_code=error,
                    timestamp=timestamp,
                    offset=offset,
                    leader_epoch=LEADER_EPOCH if error == ErrorCode.none and offset >= 0 else -1,
                )
            )
        topics.append(
            make(m.ListOffsetsTopicResponse, name=topic.name, partitions=tuple(partitions))
        )
    return make(m.ListOffsetsResponse, throttle_time=ZERO, topics=tuple(topics))
