"""OffsetForLeaderEpoch (key 23), v0-4 (v0-1 carry no current leader epoch; v0 answers no
leader epoch): every partition has had one leader epoch, 0, so
its end offset is the log end offset; older epochs than 0 do not exist (KIP-320 clients use
this to validate their position after a metadata change)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, TOPIC, authorized
from katka.api._build import ZERO, make, response_module
from katka.api._partitions import answer_partitions
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 23
VERSIONS = range(0, 5)
LEADER_EPOCH = 0


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)

    def partition(requested: Any, error: ErrorCode, epoch: int = -1, end_offset: int = -1) -> Any:
        return make(
            m.EpochEndOffset,
            error_code=error,
            partition=requested.partition,
            leader_epoch=epoch,
            end_offset=end_offset,
        )

    def answer(topic: Any, requested: Any) -> Any:
        if not authorized(ctx, node, DESCRIBE, TOPIC, topic.topic):
            raise KafkaError(ErrorCode.topic_authorization_failed, "Topic authorization failed.")
        partition_log = node.topics.get_log(topic.topic, requested.partition)
        if getattr(requested, "current_leader_epoch", -1) > LEADER_EPOCH:
            raise KafkaError(ErrorCode.unknown_leader_epoch)
        if requested.leader_epoch < LEADER_EPOCH:
            return partition(requested, ErrorCode.none)  # an epoch before the first
        return partition(requested, ErrorCode.none, LEADER_EPOCH, partition_log.log_end_offset)

    topics = answer_partitions(
        request.topics,
        lambda topic: topic.partitions,
        answer,
        lambda _topic, requested, error, _message: partition(requested, error),
        lambda topic, partitions: make(
            m.OffsetForLeaderTopicResult, topic=topic.topic, partitions=partitions
        ),
    )
    return make(m.OffsetForLeaderEpochResponse, throttle_time=ZERO, topics=topics)
