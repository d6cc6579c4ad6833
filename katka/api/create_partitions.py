"""CreatePartitions (key 37), v0-3: grow a topic; never shrink; validate_only. More than
`katka.max.partitions.per.request` new partitions in all: POLICY_VIOLATION for the whole
request, as Kafka's controller answers; new partitions are created in slices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import ALTER, TOPIC, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 37
VERSIONS = range(0, 4)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    return node.topics.run_to_completion(_grow(ctx, request, node))


def _added_partitions(request: Any, node: Node) -> int:
    added = 0
    for topic in request.topics:
        info = node.topics.catalog.get(topic.name)
        added += max(topic.count - (info.partitions if info is not None else 0), 0)
    return added


async def _grow(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results = []
    try:
        node.topics.check_request_partitions(_added_partitions(request, node))
        refused = None
    except KafkaError as exc:
        refused = exc
    for topic in request.topics:
        error, message = ErrorCode.none, None
        try:
            if refused is not None:
                raise refused
            if not authorized(ctx, node, ALTER, TOPIC, topic.name):
                raise KafkaError(ErrorCode.topic_authorization_failed)
            if topic.assignments is not None and any(
                list(a.broker_ids) != [node.node_id] for a in topic.assignments
            ):
                raise KafkaError(ErrorCode.invalid_replica_assignment, "Only broker 1 exists")
            if request.validate_only:
                node.topics.validate_partition_increase(topic.name, topic.count)
            else:
                await node.topics.create_partitions_in_slices(topic.name, topic.count)
        except KafkaError as exc:
            error, message = exc.code, exc.message
        results.append(
            make(
                m.CreatePartitionsTopicResult,
                name=topic.name,
                error_code=error,
                error_message=message,
            )
        )
    return make(m.CreatePartitionsResponse, throttle_time=ZERO, results=tuple(results))
