"""AlterShareGroupOffsets (key 91), v0: set an empty share group's start offsets (what
kafka-share-groups.sh --reset-offsets does); the share partitions start over there, their
in-flight state forgotten. A group id no group has yet becomes an empty share group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api._share import share_group_error
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 91
VERSIONS = range(0, 1)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    group_id = request.group_id
    coordinator = node.coordinator
    if coordinator.is_active and group_id:
        listed = coordinator.list_groups().groups
        if not any(g.group_id == group_id for g in listed):
            coordinator.share.create_empty(group_id)
    error = share_group_error(node, group_id, must_be_empty=True)
    topics = []
    if error is None:
        for topic in request.topics:
            info = node.topics.catalog.get(topic.topic_name)
            answers = []
            for partition in topic.partitions:
                code = ErrorCode.none
                if info is None or not 0 <= partition.partition_index < info.partitions:
                    code = ErrorCode.unknown_topic_or_partition
                elif partition.start_offset < 0:
                    code = ErrorCode.invalid_request
                else:
                    coordinator.share_partitions.reset(
                        (group_id, info.topic_id, partition.partition_index),
                        partition.start_offset,
                    )
                answers.append(
                    make(
                        m.AlterShareGroupOffsetsResponsePartition,
                        partition_index=partition.partition_index,
                        error_code=code,
                        error_message=None,
                    )
                )
            topics.append(
                make(
                    m.AlterShareGroupOffsetsResponseTopic,
                    topic_name=topic.topic_name,
                    topic_id=info.topic_id if info is not None else None,
                    partitions=tuple(answers),
                )
            )
    return make(
        m.AlterShareGroupOffsetsResponse,
        throttle_time=ZERO,
        error_code=error or ErrorCode.none,
        error_message=None,
        responses=tuple(topics),
    )
