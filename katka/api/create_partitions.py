"""CreatePartitions (key 37), v0-3: grow a topic; never shrink; validate_only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 37
VERSIONS = range(0, 4)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results = []
    for topic in request.topics:
        error, message = ErrorCode.none, None
        try:
            if topic.assignments is not None and any(
                list(a.broker_ids) != [node.node_id] for a in topic.assignments
            ):
                raise KafkaError(ErrorCode.invalid_replica_assignment, "Only broker 1 exists")
            if request.validate_only:
                node.topics.validate_partition_increase(topic.name, topic.count)
            else:
                node.topics.create_partitions(topic.name, topic.count)
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
