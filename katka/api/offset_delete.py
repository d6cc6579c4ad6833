"""OffsetDelete (key 47), v0: refused per partition with GROUP_SUBSCRIBED_TO_TOPIC while
the group's members subscribe to the topic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api._partitions import by_topic
from katka.api.context import RequestContext

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 47
VERSIONS = range(0, 1)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    result = node.coordinator.delete_offsets(
        request.group_id,
        [(t.name, p.partition_index) for t in request.topics for p in t.partitions],
    )
    return make(
        m.OffsetDeleteResponse,
        error_code=result.error_code,
        throttle_time=ZERO,
        topics=by_topic(
            result.partitions,
            lambda p: p.topic,
            lambda p: make(
                m.OffsetDeleteResponsePartition,
                partition_index=p.partition,
                error_code=p.error_code,
            ),
            lambda name, partitions: make(
                m.OffsetDeleteResponseTopic, name=name, partitions=partitions
            ),
        ),
    )
