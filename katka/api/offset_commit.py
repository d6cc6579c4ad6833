"""OffsetCommit (key 8), v2-9. v2-4 carry a retention time that Kafka ignores since
KIP-211; so do we. Results keep the request's topic order. The reply waits for the
fsync of __consumer_offsets when the durability policy says so, as produce replies do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.coordinator.internal_log import OFFSETS_TOPIC
from katka.coordinator.results import OffsetCommitPartition, OffsetCommitResult, PartitionResult
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 8
VERSIONS = range(2, 10)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    offsets = [
        OffsetCommitPartition(
            topic.name,
            p.partition_index,
            p.committed_offset,
            getattr(p, "committed_leader_epoch", -1),
            p.committed_metadata,
        )
        for topic in request.topics
        for p in topic.partitions
    ]
    try:
        result = node.coordinator.commit_offsets(
            request.group_id,
            request.member_id,
            request.generation_id_or_member_epoch,
            offsets,
            group_instance_id=getattr(request, "group_instance_id", None),
            member_epoch_capable=ctx.api_version >= 9,
        )
    except KafkaError as error:
        if error.code != ErrorCode.kafka_storage_error:
            raise
        # The append to __consumer_offsets failed (a full disk): nothing was applied. Kafka
        # answers NOT_COORDINATOR for a storage error here, so the client retries the commit.
        result = OffsetCommitResult(
            tuple(PartitionResult(o.topic, o.partition, ErrorCode.not_coordinator) for o in offsets)
        )
    m = response_module(ctx)
    by_topic: dict[str, list[Any]] = {}
    for partition in result.partitions:
        by_topic.setdefault(partition.topic, []).append(
            make(
                m.OffsetCommitResponsePartition,
                partition_index=partition.partition,
                error_code=partition.error_code,
            )
        )
    response = make(
        m.OffsetCommitResponse,
        throttle_time=ZERO,
        topics=tuple(
            make(m.OffsetCommitResponseTopic, name=name, partitions=tuple(partitions))
            for name, partitions in by_topic.items()
        ),
    )
    # The commit's records are in __consumer_offsets: the reply waits as a produce's would
    # (`--fsync always` promises durability across power loss for commits too).
    return node.durability.reply_when_durable([node.topics.get_log(OFFSETS_TOPIC, 0)], response)
