"""ConsumerGroupDescribe (key 69), v0-1: KIP-848 consumer groups with epochs and assignments.

A classic group, or a group that does not exist, is answered GROUP_ID_NOT_FOUND (clients then
fall back to DescribeGroups). v1 adds each member's type (1: consumer protocol). Authorized
operations, when asked for, are every group operation (katka has no ACLs; Kafka without an
authorizer reports the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, GROUP, authorized
from katka.api._authorized_operations import GROUP_OPERATIONS, authorized_operations
from katka.api._build import ZERO, make, make_from, response_module
from katka.api.context import RequestContext
from katka.coordinator.consumer.views import DescribedConsumerGroup
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 69
VERSIONS = range(0, 2)
CONSUMER_MEMBER_TYPE = 1


def _assignment(m: Any, partitions: Any) -> Any:
    return m.Assignment(
        topic_partitions=tuple(
            m.TopicPartitions(topic_id=topic_id, topic_name=name, partitions=ids)
            for topic_id, name, ids in partitions
        )
    )


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    operations = authorized_operations(GROUP_OPERATIONS, request.include_authorized_operations)
    groups = tuple(
        make_from(
            m.DescribedGroup,
            group,
            members=tuple(
                make_from(
                    m.Member,
                    member,
                    assignment=_assignment(m, member.assignment),
                    target_assignment=_assignment(m, member.target_assignment),
                    member_type=CONSUMER_MEMBER_TYPE,
                )
                for member in group.members
            ),
            authorized_operations=operations,
        )
        for group in _described(ctx, node, list(request.group_ids))
    )
    return make(m.ConsumerGroupDescribeResponse, throttle_time=ZERO, groups=groups)


def _described(ctx: RequestContext, node: Node, group_ids: list[str]) -> list[Any]:
    """GROUP_AUTHORIZATION_FAILED for groups the principal may not DESCRIBE, as Kafka."""
    allowed = [g for g in group_ids if authorized(ctx, node, DESCRIBE, GROUP, g)]
    described = {g.group_id: g for g in node.coordinator.consumer_group_describe(allowed)}
    return [
        described.get(g) or DescribedConsumerGroup(g, ErrorCode.group_authorization_failed)
        for g in group_ids
    ]
