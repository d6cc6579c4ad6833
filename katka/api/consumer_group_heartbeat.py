"""ConsumerGroupHeartbeat (key 68), v0-1: the KIP-848 consumer group protocol.

v0 lets the coordinator name a new member (empty member id); v1 requires the client to
generate it and adds SubscribedTopicRegex. Null request fields mean "unchanged since the last
heartbeat"; the assignment is answered by topic id. Answers UNSUPPORTED_VERSION when
`group.coordinator.rebalance.protocols` leaves out "consumer", as Kafka does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, GROUP, READ, TOPIC, authorized
from katka.api._build import ZERO, make, millis, response_module, timedelta_ms
from katka.api._group_heartbeats import heartbeat_response
from katka.api.context import RequestContext
from katka.coordinator.consumer.group import Partitions
from katka.coordinator.consumer.heartbeat import HeartbeatRequest
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 68
VERSIONS = range(0, 2)


def _owned(topic_partitions: Any) -> Partitions | None:
    if topic_partitions is None:
        return None
    return frozenset(
        (t.topic_id, int(p))
        for t in topic_partitions
        if t.topic_id is not None
        for p in t.partitions
    )


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    names = request.subscribed_topic_names
    # Kafka: READ on the group, and DESCRIBE on every subscribed topic.
    if not authorized(ctx, node, READ, GROUP, request.group_id):
        return _refused(ctx, request, ErrorCode.group_authorization_failed)
    if names and not all(authorized(ctx, node, DESCRIBE, TOPIC, name) for name in names):
        return _refused(ctx, request, ErrorCode.topic_authorization_failed)
    result = node.coordinator.consumer_group_heartbeat(
        HeartbeatRequest(
            group_id=request.group_id,
            member_id=request.member_id,
            member_epoch=request.member_epoch,
            instance_id=request.instance_id,
            rack_id=request.rack_id,
            rebalance_timeout_ms=millis(request.rebalance_timeout),
            subscribed_topic_names=None if names is None else tuple(names),
            subscribed_topic_regex=getattr(request, "subscribed_topic_regex", None),
            server_assignor=request.server_assignor,
            owned_partitions=_owned(request.topic_partitions),
            client_id=ctx.client_id,
            client_host=f"/{ctx.client_host}",
            member_id_required=ctx.api_version >= 1,
        )
    )
    m = response_module(ctx)
    assigned = None if result.assignment is None else sorted(result.assignment)
    return heartbeat_response(m, m.ConsumerGroupHeartbeatResponse, result, assigned)


def _refused(ctx: RequestContext, request: Any, error: ErrorCode) -> Any:
    return make(
        response_module(ctx).ConsumerGroupHeartbeatResponse,
        throttle_time=ZERO,
        error_code=error,
        error_message=None,
        member_id=request.member_id,
        member_epoch=request.member_epoch,
        heartbeat_interval=timedelta_ms(0),
        assignment=None,
    )
