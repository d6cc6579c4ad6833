"""EndTxn (key 26), v0-3: commit or abort the producer's transaction.

The reply comes after both phases (PrepareX durable, every marker written, CompleteX), so
a read_committed consumer sees a committed transaction as soon as its producer returns from
commit_transaction(). Kafka replies after phase one; its clients retry AddPartitionsToTxn on
CONCURRENT_TRANSACTIONS until phase two ends, so they see no difference but speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import TRANSACTIONAL_ID, WRITE, authorized
from katka.api._build import ZERO, make, response_module
from katka.api._transactions import for_version
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 26
VERSIONS = range(0, 4)


async def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    error = ErrorCode.none
    try:
        if not authorized(ctx, node, WRITE, TRANSACTIONAL_ID, request.transactional_id):
            raise KafkaError(ErrorCode.transactional_id_authorization_failed)
        await node.transactions.end_transaction(
            request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            request.committed,
        )
    except KafkaError as exc:
        error = for_version(exc.code, API_KEY, ctx.api_version)
    return make(m.EndTxnResponse, throttle_time=ZERO, error_code=error)
