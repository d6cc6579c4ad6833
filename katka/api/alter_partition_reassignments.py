"""AlterPartitionReassignments (key 45), v0-1, as a one-node Kafka answers: replicas [this
node] is where the partition already is (NONE, nothing to move); any other broker
INVALID_REPLICA_ASSIGNMENT; a cancellation (null replicas) NO_REASSIGNMENT_IN_PROGRESS; an
unknown partition UNKNOWN_TOPIC_OR_PARTITION."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 45
VERSIONS = range(0, 2)


def _outcome(node: Node, topic: str, partition: Any) -> tuple[ErrorCode, str | None]:
    if not node.topics.partition_exists(topic, partition.partition_index):
        return ErrorCode.unknown_topic_or_partition, "The partition does not exist."
    if partition.replicas is None:
        return ErrorCode.no_reassignment_in_progress, "No ongoing reassignment to cancel."
    if list(partition.replicas) != [node.node_id]:
        return (
            ErrorCode.invalid_replica_assignment,
            f"The manual partition assignment includes brokers other than {node.node_id}, the "
            "only registered broker.",
        )
    return ErrorCode.none, None


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    responses = []
    for topic in request.topics:
        partitions = []
        for partition in topic.partitions:
            error, message = _outcome(node, topic.name, partition)
            partitions.append(
                make(
                    m.ReassignablePartitionResponse,
                    partition_index=partition.partition_index,
                    error_code=error,
                    error_message=message,
                )
            )
        responses.append(
            make(m.ReassignableTopicResponse, name=topic.name, partitions=tuple(partitions))
        )
    return make(
        m.AlterPartitionReassignmentsResponse,
        throttle_time=ZERO,
        allow_replication_factor_change=getattr(request, "allow_replication_factor_change", True),
        error_code=ErrorCode.none,
        error_message=None,
        responses=tuple(responses),
    )
