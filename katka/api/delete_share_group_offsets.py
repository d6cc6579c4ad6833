"""DeleteShareGroupOffsets (key 92), v0: forget an empty share group's state for whole
topics (kafka-share-groups.sh --delete-offsets); the next fetch starts at
share.auto.offset.reset again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api._share import share_group_error
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 92
VERSIONS = range(0, 1)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    group_id = request.group_id
    error = share_group_error(node, group_id, must_be_empty=True)
    topics = []
    if error is None:
        share = node.coordinator.share_partitions
        for topic in request.topics:
            info = node.topics.catalog.get(topic.topic_name)
            code = ErrorCode.none
            if info is None:
                code = ErrorCode.unknown_topic_or_partition
            else:
                keys = [k for k in share.existing(group_id) if k[1] == info.topic_id]
                share.delete_group(group_id, keys)
            topics.append(
                make(
                    m.DeleteShareGroupOffsetsResponseTopic,
                    topic_name=topic.topic_name,
                    topic_id=info.topic_id if info is not None else None,
                    error_code=code,
                    error_message=None,
                )
            )
    return make(
        m.DeleteShareGroupOffsetsResponse,
        throttle_time=ZERO,
        error_code=error or ErrorCode.none,
        error_message=None,
        responses=tuple(topics),
    )
