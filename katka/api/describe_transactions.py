"""DescribeTransactions (key 65), v0: the coordinator's view of transactional ids (what
kafka-transactions.sh describe shows). An unknown id gets TRANSACTIONAL_ID_NOT_FOUND."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, TRANSACTIONAL_ID, authorized
from katka.api._build import ZERO, make, response_module, timedelta_ms
from katka.api._partitions import by_topic
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 65
VERSIONS = range(0, 1)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    states = []
    for transactional_id in request.transactional_ids:
        try:
            if not authorized(ctx, node, DESCRIBE, TRANSACTIONAL_ID, transactional_id):
                raise KafkaError(ErrorCode.transactional_id_authorization_failed)
            metadata = node.transactions.coordinator.describe(transactional_id)
        except KafkaError as error:
            states.append(
                make(
                    m.TransactionState,
                    error_code=error.code,
                    transactional_id=transactional_id,
                    transaction_state="",
                    transaction_timeout=ZERO,
                    transaction_start_time=_datetime(-1),
                    producer_id=-1,
                    producer_epoch=-1,
                    topics=(),
                )
            )
            continue
        states.append(
            make(
                m.TransactionState,
                error_code=ErrorCode.none,
                transactional_id=transactional_id,
                transaction_state=metadata.state.display_name,
                transaction_timeout=timedelta_ms(metadata.transaction_timeout_ms),
                transaction_start_time=_datetime(metadata.transaction_start_ms),
                producer_id=metadata.producer_id,
                producer_epoch=metadata.producer_epoch,
                topics=by_topic(
                    metadata.sorted_partitions(),
                    lambda topic_partition: topic_partition[0],
                    lambda topic_partition: topic_partition[1],
                    lambda topic, partitions: make(m.TopicData, topic=topic, partitions=partitions),
                ),
            )
        )
    return make(
        m.DescribeTransactionsResponse, throttle_time=ZERO, transaction_states=tuple(states)
    )


def _datetime(ms: int) -> datetime.datetime:
    """Kafka sends -1 for "no transaction started"; the wire field is not nullable."""
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
