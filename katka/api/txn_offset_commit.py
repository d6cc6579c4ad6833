"""TxnOffsetCommit (key 28), v0-3: a consumer's offsets inside the producer's transaction.

The producer must have added the group's `__consumer_offsets` partition (AddOffsetsToTxn) in
its current epoch, else INVALID_TXN_STATE (or INVALID_PRODUCER_EPOCH / PRODUCER_FENCED when
fenced). v3 carries the consumer's member id and generation: a zombie that lost its
partitions in a rebalance is refused (ILLEGAL_GENERATION, KIP-447). The offsets are written to
`__consumer_offsets` at once and become visible only when the transaction commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import GROUP, READ, TOPIC, TRANSACTIONAL_ID, WRITE, authorized
from katka.api._build import ZERO, make, response_module
from katka.api._partitions import error_codes_by_topic
from katka.api._transactions import for_version
from katka.api.context import RequestContext
from katka.coordinator.results import OffsetCommitPartition, OffsetCommitResult, PartitionResult
from katka.errors import ErrorCode, KafkaError
from katka.metadata.internal_topics import OFFSETS_TOPIC

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 28
VERSIONS = range(0, 4)
OFFSETS_PARTITION = 0


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    offsets = [
        OffsetCommitPartition(
            topic.name,
            p.partition_index,
            p.committed_offset,
            getattr(p, "committed_leader_epoch", -1),
            p.committed_metadata,
        )
        for topic in request.topics
        for p in topic.partitions
    ]
    try:
        if not authorized(ctx, node, WRITE, TRANSACTIONAL_ID, request.transactional_id):
            raise KafkaError(ErrorCode.transactional_id_authorization_failed)
        if not authorized(ctx, node, READ, GROUP, request.group_id):
            raise KafkaError(ErrorCode.group_authorization_failed)
        if any(not authorized(ctx, node, READ, TOPIC, o.topic) for o in offsets):
            raise KafkaError(ErrorCode.topic_authorization_failed)
        transactions = node.transactions.coordinator
        if transactions.transactional_id_of(request.producer_id) != request.transactional_id:
            raise KafkaError(
                ErrorCode.invalid_producer_id_mapping,
                f"producer id {request.producer_id} is not {request.transactional_id!r}'s",
            )
        transactions.validate_transactional_write(
            request.producer_id, request.producer_epoch, (OFFSETS_TOPIC, OFFSETS_PARTITION)
        )
        result = node.coordinator.commit_offsets(
            request.group_id,
            getattr(request, "member_id", ""),
            getattr(request, "generation_id", -1),
            offsets,
            group_instance_id=getattr(request, "group_instance_id", None),
            producer=(request.producer_id, request.producer_epoch),
        )
    except KafkaError as error:
        code = for_version(error.code, API_KEY, ctx.api_version)
        result = OffsetCommitResult(
            tuple(PartitionResult(o.topic, o.partition, code) for o in offsets)
        )
    m = response_module(ctx)
    response = make(
        m.TxnOffsetCommitResponse,
        throttle_time=ZERO,
        topics=error_codes_by_topic(
            result.partitions,
            m.TxnOffsetCommitResponsePartition,
            m.TxnOffsetCommitResponseTopic,
        ),
    )
    return node.durability.reply_when_durable(
        [node.topics.get_log(OFFSETS_TOPIC, OFFSETS_PARTITION)], response
    )
