"""WriteTxnMarkers (key 27), v0-2 (v0, Kafka 3.9's oldest, was dropped by 4.0): write
COMMIT/ABORT markers into partitions on request.

Kafka's coordinators send it to partition leaders; katka's coordinator writes its markers
directly, so here it serves admin tools: kafka-transactions.sh abort (and kafka-python's
abort_transaction) end a hanging transaction whose producer id and epoch DescribeProducers
showed. A marker older than the partition's producer epoch gets INVALID_PRODUCER_EPOCH.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import CLUSTER, CLUSTER_ACTION, authorized
from katka.api._build import make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 27
VERSIONS = range(0, 3)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results = []
    for marker in request.markers:
        topics = []
        for topic in marker.topics:
            partitions = []
            for index in topic.partition_indexes:
                error = ErrorCode.none
                try:
                    if not authorized(ctx, node, CLUSTER_ACTION, CLUSTER):
                        raise KafkaError(ErrorCode.cluster_authorization_failed)
                    node.write_marker(
                        (topic.name, index),
                        marker.producer_id,
                        marker.producer_epoch,
                        marker.transaction_result,
                        marker.coordinator_epoch,
                    )
                except KafkaError as exc:
                    error = exc.code
                except OSError:
                    error = ErrorCode.kafka_storage_error
                partitions.append(
                    make(
                        m.WritableTxnMarkerPartitionResult, partition_index=index, error_code=error
                    )
                )
            topics.append(
                make(m.WritableTxnMarkerTopicResult, name=topic.name, partitions=tuple(partitions))
            )
        results.append(
            make(m.WritableTxnMarkerResult, producer_id=marker.producer_id, topics=tuple(topics))
        )
    return make(m.WriteTxnMarkersResponse, markers=tuple(results))
