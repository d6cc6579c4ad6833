"""ShareGroupHeartbeat (key 76), v1: join, stay in and leave a share group (KIP-932).

The client generates its member id; epoch 0 joins (with the subscribed topic names), -1 leaves.
The assignment is answered by topic id, and every member gets partitions even when members
outnumber partitions (coordinator/share/assignor.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module, timedelta_ms
from katka.api._partitions import by_topic
from katka.api.context import RequestContext
from katka.coordinator.share.manager import ShareHeartbeat

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 76
VERSIONS = range(1, 2)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    names = request.subscribed_topic_names
    result = node.coordinator.share_group_heartbeat(
        ShareHeartbeat(
            group_id=request.group_id,
            member_id=request.member_id,
            member_epoch=request.member_epoch,
            rack_id=request.rack_id,
            subscribed_topic_names=None if names is None else tuple(names),
            client_id=ctx.client_id,
            client_host=f"/{ctx.client_host}",
        )
    )
    m = response_module(ctx)
    assignment = None
    if result.assignment is not None:
        ids = []
        for topic, partition in sorted(result.assignment):
            info = node.topics.catalog.get(topic)
            if info is not None:
                ids.append((info.topic_id, partition))
        assignment = m.Assignment(
            topic_partitions=by_topic(
                ids,
                lambda topic_partition: topic_partition[0],
                lambda topic_partition: topic_partition[1],
                lambda topic_id, partitions: m.TopicPartitions(
                    topic_id=topic_id, partitions=partitions
                ),
            )
        )
    return make(
        m.ShareGroupHeartbeatResponse,
        throttle_time=ZERO,
        error_code=result.error_code,
        error_message=result.error_message,
        member_id=result.member_id,
        member_epoch=result.member_epoch,
        heartbeat_interval=timedelta_ms(result.heartbeat_interval_ms),
        assignment=assignment,
    )
