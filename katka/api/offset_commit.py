"""OffsetCommit (key 8), v2-9. v2-4 carry a retention time that Kafka ignores since
KIP-211; so do we. Results keep the request's topic order. The reply waits for the
fsync of __consumer_offsets when the durability policy says so, as produce replies do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api._partitions import by_topic
from katka.api.context import RequestContext
from katka.coordinator.internal_log import OFFSETS_TOPIC
from katka.coordinator.results import OffsetCommitPartition

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
    result = node.coordinator.commit_offsets(
        request.group_id,
        request.member_id,
        request.generation_id_or_member_epoch,
        offsets,
        group_instance_id=getattr(request, "group_instance_id", None),
        member_epoch_capable=ctx.api_version >= 9,
    )
    m = response_module(ctx)
    response = make(
        m.OffsetCommitResponse,
        throttle_time=ZERO,
        topics=by_topic(
            result.partitions,
            lambda p: p.topic,
            lambda p: make(
                m.OffsetCommitResponsePartition,
                partition_index=p.partition,
                error_code=p.error_code,
            ),
            lambda name, partitions: make(
                m.OffsetCommitResponseTopic, name=name, partitions=partitions
            ),
        ),
    )
    # The commit's records are in __consumer_offsets: the reply waits as a produce's would
    # (`--fsync always` promises durability across power loss for commits too).
    return node.durability.reply_when_durable([node.topics.get_log(OFFSETS_TOPIC, 0)], response)
