"""AddPartitionsToTxn (key 24), v0-3: the client form (one transaction per request).

A partition that does not exist gets UNKNOWN_TOPIC_OR_PARTITION and every other partition
OPERATION_NOT_ATTEMPTED (nothing is added), as Kafka answers; otherwise the coordinator's
error (PRODUCER_FENCED, CONCURRENT_TRANSACTIONS, ...) goes to every partition. v4+ (the
broker-to-broker batched form of KIP-890) is not implemented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import TOPIC, TRANSACTIONAL_ID, WRITE, authorized
from katka.api._build import ZERO, make, response_module
from katka.api._transactions import for_version
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 24
VERSIONS = range(0, 4)


async def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    requested = [
        (topic.name, partition)
        for topic in request.v3_and_below_topics
        for partition in topic.partitions
    ]
    errors: dict[tuple[str, int], ErrorCode] = {}
    transactional_id = request.v3_and_below_transactional_id
    for topic, partition in requested:
        if not authorized(ctx, node, WRITE, TRANSACTIONAL_ID, transactional_id):
            errors[(topic, partition)] = ErrorCode.transactional_id_authorization_failed
        elif not authorized(ctx, node, WRITE, TOPIC, topic):
            errors[(topic, partition)] = ErrorCode.topic_authorization_failed
        elif not node.topics.partition_exists(topic, partition):
            errors[(topic, partition)] = ErrorCode.unknown_topic_or_partition
    if errors:
        for key in requested:
            errors.setdefault(key, ErrorCode.operation_not_attempted)
    else:
        error = ErrorCode.none
        try:
            node.transactions.coordinator.add_partitions(
                request.v3_and_below_transactional_id,
                request.v3_and_below_producer_id,
                request.v3_and_below_producer_epoch,
                requested,
            )
            await node.transactions.state_log_durable()
        except KafkaError as exc:
            error = for_version(exc.code, API_KEY, ctx.api_version)
        errors = dict.fromkeys(requested, error)
    topics = []
    for topic in request.v3_and_below_topics:
        results = tuple(
            make(
                m.AddPartitionsToTxnPartitionResult,
                partition_index=partition,
                partition_error_code=errors[(topic.name, partition)],
            )
            for partition in topic.partitions
        )
        topics.append(
            make(m.AddPartitionsToTxnTopicResult, name=topic.name, results_by_partition=results)
        )
    return make(
        m.AddPartitionsToTxnResponse,
        throttle_time=ZERO,
        results_by_topic_v3_and_below=tuple(topics),
    )
