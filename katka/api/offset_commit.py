"""OffsetCommit (key 8), v0-9. Results keep the request's topic order. The reply waits for the
fsync of __consumer_offsets when the durability policy says so, as produce replies do.

Older versions, as Kafka 3.9 served them (4.0 dropped v0-1, KIP-896):
- v2-4 carry a retention time: other than -1, the offsets expire at now + retention (the
  record's expire timestamp), whatever offsets.retention.minutes says.
- v1 carries a commit timestamp per partition (-1: now), which retention counts from; sarama
  1.22's consumer groups commit with v1.
- v0 has no generation or member id: a commit from outside any generation, as an admin's.
  Kafka 3.9 kept v0 offsets in ZooKeeper (apart from v1+ offsets; refused in KRaft mode);
  katka has no ZooKeeper and keeps them with every other commit, so v0 and v1+ clients see
  the same offsets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import GROUP, READ, TOPIC, authorized
from katka.api._build import ZERO, make, millis, response_module
from katka.api._partitions import error_codes_by_topic
from katka.api.context import RequestContext
from katka.coordinator.results import OffsetCommitPartition, PartitionResult
from katka.errors import ErrorCode
from katka.metadata.internal_topics import OFFSETS_TOPIC

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 8
VERSIONS = range(0, 10)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    offsets = [
        OffsetCommitPartition(
            topic.name,
            p.partition_index,
            p.committed_offset,
            getattr(p, "committed_leader_epoch", -1),
            p.committed_metadata,
            getattr(p, "commit_timestamp", -1),
        )
        for topic in request.topics
        for p in topic.partitions
    ]
    # Kafka: READ on the group, then READ on each topic; refused partitions are not committed.
    if not authorized(ctx, node, READ, GROUP, request.group_id):
        refused = {(o.topic, o.partition): ErrorCode.group_authorization_failed for o in offsets}
    else:
        refused = {
            (o.topic, o.partition): ErrorCode.topic_authorization_failed
            for o in offsets
            if not authorized(ctx, node, READ, TOPIC, o.topic)
        }
    offsets = [o for o in offsets if (o.topic, o.partition) not in refused]
    retention = getattr(request, "retention_time", None)
    result = node.coordinator.commit_offsets(
        request.group_id,
        getattr(request, "member_id", ""),
        getattr(request, "generation_id_or_member_epoch", -1),
        offsets,
        group_instance_id=getattr(request, "group_instance_id", None),
        member_epoch_capable=ctx.api_version >= 9,
        retention_time_ms=-1 if retention is None else millis(retention),
    )
    m = response_module(ctx)
    response = make(
        m.OffsetCommitResponse,
        throttle_time=ZERO,
        topics=error_codes_by_topic(
            [
                *result.partitions,
                *(PartitionResult(t, p, code) for (t, p), code in refused.items()),
            ],
            m.OffsetCommitResponsePartition,
            m.OffsetCommitResponseTopic,
        ),
    )
    # The commit's records are in __consumer_offsets: the reply waits as a produce's would
    # (`--fsync always` promises durability across power loss for commits too).
    return node.durability.reply_when_durable([node.topics.get_log(OFFSETS_TOPIC, 0)], response)
