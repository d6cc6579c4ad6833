"""ElectLeaders (key 43), v0-2: every partition's one replica already leads, so each named
partition answers ELECTION_NOT_NEEDED (unknown ones UNKNOWN_TOPIC_OR_PARTITION). Asked for all
partitions (null), Kafka's controller lists only partitions whose election did something: none."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 43
VERSIONS = range(0, 3)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results = []
    for topic in request.topic_partitions or ():
        partitions = []
        for partition in topic.partitions:
            if node.topics.partition_exists(topic.topic, partition):
                error = ErrorCode.election_not_needed
                message = "Leader election not needed for topic partition."
            else:
                error = ErrorCode.unknown_topic_or_partition
                message = "The partition does not exist."
            partitions.append(
                make(
                    m.PartitionResult,
                    partition_id=partition,
                    error_code=error,
                    error_message=message,
                )
            )
        results.append(
            make(m.ReplicaElectionResult, topic=topic.topic, partition_result=tuple(partitions))
        )
    return make(
        m.ElectLeadersResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        replica_election_results=tuple(results),
    )
