"""DeleteRecords (key 21), v0-2: move the log start offset; -1 means the high watermark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DELETE, TOPIC, authorized
from katka.api._build import ZERO, make, response_module
from katka.api._partitions import answer_partitions
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 21
VERSIONS = range(0, 3)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)

    def partition(requested: Any, error: ErrorCode, low_watermark: int = -1) -> Any:
        return make(
            m.DeleteRecordsPartitionResult,
            partition_index=requested.partition_index,
            low_watermark=low_watermark,
            error_code=error,
        )

    def answer(topic: Any, requested: Any) -> Any:
        if not authorized(ctx, node, DELETE, TOPIC, topic.name):
            raise KafkaError(ErrorCode.topic_authorization_failed, "Topic authorization failed.")
        partition_log = node.topics.get_log(topic.name, requested.partition_index)
        offset = requested.offset
        if offset == -1:
            offset = partition_log.high_watermark
        if offset < 0:
            raise KafkaError(ErrorCode.offset_out_of_range)
        low_watermark = partition_log.delete_records_before(offset)
        # a fetch parked below the new log start must now answer OFFSET_OUT_OF_RANGE
        node.appends.notify(((topic.name, requested.partition_index),))
        return partition(requested, ErrorCode.none, low_watermark)

    topics = answer_partitions(
        request.topics,
        lambda topic: topic.partitions,
        answer,
        lambda _topic, requested, error, _message: partition(requested, error),
        lambda topic, partitions: make(
            m.DeleteRecordsTopicResult, name=topic.name, partitions=partitions
        ),
    )
    return make(m.DeleteRecordsResponse, throttle_time=ZERO, topics=topics)
