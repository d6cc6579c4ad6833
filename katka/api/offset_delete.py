"""OffsetDelete (key 47), v0: refused per partition with GROUP_SUBSCRIBED_TO_TOPIC while
the group's members subscribe to the topic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DELETE, GROUP, READ, TOPIC, authorized
from katka.api._build import ZERO, make, response_module
from katka.api._partitions import error_codes_by_topic
from katka.api.context import RequestContext
from katka.coordinator.results import PartitionResult
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 47
VERSIONS = range(0, 1)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    if not authorized(ctx, node, DELETE, GROUP, request.group_id):
        return make(
            m.OffsetDeleteResponse,
            error_code=ErrorCode.group_authorization_failed,
            throttle_time=ZERO,
            topics=(),
        )
    wanted = [(t.name, p.partition_index) for t in request.topics for p in t.partitions]
    refused = [
        PartitionResult(name, index, ErrorCode.topic_authorization_failed)
        for name, index in wanted
        if not authorized(ctx, node, READ, TOPIC, name)
    ]
    result = node.coordinator.delete_offsets(
        request.group_id,
        [(name, index) for name, index in wanted if authorized(ctx, node, READ, TOPIC, name)],
    )
    return make(
        m.OffsetDeleteResponse,
        error_code=result.error_code,
        throttle_time=ZERO,
        topics=error_codes_by_topic(
            [*result.partitions, *(refused if result.error_code == ErrorCode.none else [])],
            m.OffsetDeleteResponsePartition,
            m.OffsetDeleteResponseTopic,
        ),
    )
