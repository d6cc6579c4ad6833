"""DescribeProducers (key 61), v0: the active producers of each partition as its producer
state holds them (what kafka-transactions.sh describe-producers and find-hanging read):
epoch, last sequence and timestamp, and the first offset of an open transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import READ, TOPIC, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.transactions.coordinator import COORDINATOR_EPOCH

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 61
VERSIONS = range(0, 1)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    topics = []
    for topic in request.topics:
        partitions = []
        for index in topic.partition_indexes:
            error, message, producers = ErrorCode.none, None, []
            try:
                if not authorized(ctx, node, READ, TOPIC, topic.name):
                    raise KafkaError(ErrorCode.topic_authorization_failed)
                partition_log = node.topics.get_log(topic.name, index)
                state = partition_log.producer_state
                ongoing = state.transactions.ongoing
                for entry in state.producers.values():
                    last = entry.batches[-1] if entry.batches else None
                    producers.append(
                        make(
                            m.ProducerState,
                            producer_id=entry.producer_id,
                            producer_epoch=entry.producer_epoch,
                            last_sequence=entry.last_sequence,
                            last_timestamp=last.timestamp_ms if last is not None else -1,
                            coordinator_epoch=COORDINATOR_EPOCH,
                            current_txn_start_offset=ongoing.get(entry.producer_id, -1),
                        )
                    )
            except KafkaError as exc:
                error, message = exc.code, exc.message
            partitions.append(
                make(
                    m.PartitionResponse,
                    partition_index=index,
                    error_code=error,
                    error_message=message,
                    active_producers=tuple(producers),
                )
            )
        topics.append(make(m.TopicResponse, name=topic.name, partitions=tuple(partitions)))
    return make(m.DescribeProducersResponse, throttle_time=ZERO, topics=tuple(topics))
