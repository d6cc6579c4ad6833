"""DescribeTopicPartitions (key 75), v0 (KIP-966): Metadata's partition view, paginated. Topics
go by name (all of them when none is named), from the cursor's topic and partition on, at most
min(response_partition_limit, max.request.partition.size.limit) partitions per answer; when
more remain, next_cursor names the first one left out. An unknown topic answers
UNKNOWN_TOPIC_OR_PARTITION; a cursor on a topic not in the named list is INVALID_REQUEST."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, TOPIC, authorized
from katka.api._authorized_operations import TOPIC_OPERATIONS
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 75
VERSIONS = range(0, 1)
LEADER_EPOCH = 0
ZERO_UUID = uuid.UUID(int=0)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    catalog = node.topics.catalog
    named = sorted({t.name for t in request.topics})
    # Listing every topic shows only those one may DESCRIBE, as Metadata does.
    names = named or sorted(
        info.name for info in catalog if authorized(ctx, node, DESCRIBE, TOPIC, info.name)
    )
    cursor = request.cursor
    if cursor is not None and named and cursor.topic_name not in named:
        return make(
            m.DescribeTopicPartitionsResponse,
            throttle_time=ZERO,
            topics=tuple(
                _topic(m, ErrorCode.invalid_request, name, ZERO_UUID, False, ()) for name in named
            ),
            next_cursor=None,
        )
    remaining = min(
        request.response_partition_limit, node.config.get_int("max.request.partition.size.limit")
    )
    topics = []
    next_cursor = None
    for name in names:
        if cursor is not None and name < cursor.topic_name:
            continue
        if remaining <= 0:
            next_cursor = make(m.Cursor, topic_name=name, partition_index=0)
            break
        if not authorized(ctx, node, DESCRIBE, TOPIC, name):
            topics.append(
                _topic(m, ErrorCode.topic_authorization_failed, name, ZERO_UUID, False, ())
            )
            continue
        info = catalog.get(name)
        if info is None:
            topics.append(
                _topic(m, ErrorCode.unknown_topic_or_partition, name, ZERO_UUID, False, ())
            )
            continue
        first = cursor.partition_index if cursor is not None and name == cursor.topic_name else 0
        last = min(info.partitions, first + remaining)
        partitions = tuple(_partition(m, node, p) for p in range(first, last))
        remaining -= len(partitions)
        topics.append(_topic(m, ErrorCode.none, name, info.topic_id, info.internal, partitions))
        if last < info.partitions:
            next_cursor = make(m.Cursor, topic_name=name, partition_index=last)
            break
    return make(
        m.DescribeTopicPartitionsResponse,
        throttle_time=ZERO,
        topics=tuple(topics),
        next_cursor=next_cursor,
    )


def _topic(
    m: Any,
    error: ErrorCode,
    name: str,
    topic_id: uuid.UUID,
    internal: bool,
    partitions: tuple[Any, ...],
) -> Any:
    return make(
        m.DescribeTopicPartitionsResponseTopic,
        error_code=error,
        name=name,
        topic_id=topic_id,
        is_internal=internal,
        partitions=partitions,
        topic_authorized_operations=TOPIC_OPERATIONS,
    )


def _partition(m: Any, node: Node, partition: int) -> Any:
    return make(
        m.DescribeTopicPartitionsResponsePartition,
        error_code=ErrorCode.none,
        partition_index=partition,
        leader_id=node.node_id,
        leader_epoch=LEADER_EPOCH,
        replica_nodes=(node.node_id,),
        isr_nodes=(node.node_id,),
        eligible_leader_replicas=(),
        last_known_elr=(),
        offline_replicas=(),
    )
