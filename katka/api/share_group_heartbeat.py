"""ShareGroupHeartbeat (key 76), v1: join, stay in and leave a share group (KIP-932).

The client generates its member id; epoch 0 joins (with the subscribed topic names), -1 leaves.
The assignment is answered by topic id, and every member gets partitions even when members
outnumber partitions (coordinator/share/assignor.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import response_module
from katka.api._group_heartbeats import heartbeat_response
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
    assigned = None
    if result.assignment is not None:
        assigned = []
        for topic, partition in sorted(result.assignment):
            info = node.topics.catalog.get(topic)
            if info is not None:
                assigned.append((info.topic_id, partition))
    return heartbeat_response(m, m.ShareGroupHeartbeatResponse, result, assigned)
