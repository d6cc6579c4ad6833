"""AddOffsetsToTxn (key 25), v0-3: adds the group's `__consumer_offsets` partition to the
transaction, so its TxnOffsetCommit offsets commit or abort with it (KIP-98, KIP-447)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import GROUP, READ, TRANSACTIONAL_ID, WRITE, authorized
from katka.api._build import ZERO, make, response_module
from katka.api._transactions import for_version
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.metadata.internal_topics import OFFSETS_TOPIC

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 25
VERSIONS = range(0, 4)
OFFSETS_PARTITION = 0  # katka's __consumer_offsets has one partition: every group maps to it


async def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    error = ErrorCode.none
    try:
        if not authorized(ctx, node, WRITE, TRANSACTIONAL_ID, request.transactional_id):
            raise KafkaError(ErrorCode.transactional_id_authorization_failed)
        if not authorized(ctx, node, READ, GROUP, request.group_id):
            raise KafkaError(ErrorCode.group_authorization_failed)
        if not request.group_id:
            raise KafkaError(ErrorCode.invalid_group_id, "empty group id")
        node.transactions.coordinator.add_partitions(
            request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            [(OFFSETS_TOPIC, OFFSETS_PARTITION)],
        )
        await node.transactions.state_log_durable()
    except KafkaError as exc:
        error = for_version(exc.code, API_KEY, ctx.api_version)
    return make(m.AddOffsetsToTxnResponse, throttle_time=ZERO, error_code=error)
