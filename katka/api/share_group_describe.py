"""ShareGroupDescribe (key 77), v1: a share group's state, epochs and members with their
subscriptions and assignments (KIP-932). An id that names no share group answers
GROUP_ID_NOT_FOUND, as Kafka does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.coordinator.share.manager import ShareGroup
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 77
VERSIONS = range(1, 2)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    groups = []
    for group_id in request.group_ids:
        group = node.coordinator.share.groups.get(group_id)
        if not node.coordinator.is_active:
            groups.append(_error(m, group_id, ErrorCode.coordinator_load_in_progress, None))
        elif group is None:
            message = f"Group {group_id} is not a share group."
            groups.append(_error(m, group_id, ErrorCode.group_id_not_found, message))
        else:
            groups.append(_described(m, node, group))
    return make(m.ShareGroupDescribeResponse, throttle_time=ZERO, groups=tuple(groups))


def _error(m: Any, group_id: str, code: ErrorCode, message: str | None) -> Any:
    return make(
        m.DescribedGroup,
        error_code=code,
        error_message=message,
        group_id=group_id,
        group_state="Dead",
        group_epoch=-1,
        assignment_epoch=-1,
        assignor_name="",
        members=(),
    )


def _described(m: Any, node: Node, group: ShareGroup) -> Any:
    def assignment(partitions: frozenset[tuple[str, int]]) -> Any:
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(partitions):
            by_topic.setdefault(topic, []).append(partition)
        topics = []
        for topic, indexes in by_topic.items():
            info = node.topics.catalog.get(topic)
            if info is not None:
                topics.append(
                    make(
                        m.TopicPartitions,
                        topic_id=info.topic_id,
                        topic_name=topic,
                        partitions=tuple(indexes),
                    )
                )
        return make(m.Assignment, topic_partitions=tuple(topics))

    return make(
        m.DescribedGroup,
        error_code=ErrorCode.none,
        error_message=None,
        group_id=group.group_id,
        group_state=group.state,
        group_epoch=group.group_epoch,
        assignment_epoch=group.assignment_epoch,
        assignor_name="simple",
        members=tuple(
            make(
                m.Member,
                member_id=member.member_id,
                rack_id=member.rack_id,
                member_epoch=member.member_epoch,
                client_id=member.client_id,
                client_host=member.client_host,
                subscribed_topic_names=member.subscribed,
                assignment=assignment(member.assignment),
            )
            for member in group.members.values()
        ),
    )
