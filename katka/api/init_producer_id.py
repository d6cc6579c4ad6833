"""InitProducerId (key 22), v0-5: a producer id and epoch for idempotent and transactional
producers.

Without a transactional id: a fresh producer id; a v3+ request that names its current id and
epoch gets the epoch bumped (KIP-360), so an idempotent producer recovers from
OUT_OF_ORDER_SEQUENCE_NUMBER without losing its id. With one: the transaction coordinator
bumps the epoch (fencing older producers of the id, aborting their open transaction first)
and checks transaction.timeout.ms against transaction.max.timeout.ms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import CLUSTER, IDEMPOTENT_WRITE, TRANSACTIONAL_ID, WRITE, authorized
from katka.api._build import ZERO, make, millis, response_module
from katka.api._transactions import for_version
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.transactions.coordinator import ProducerIdAndEpoch

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 22
VERSIONS = range(0, 6)
MAX_EPOCH = 32766


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    if request.transactional_id is not None:
        if not authorized(ctx, node, WRITE, TRANSACTIONAL_ID, request.transactional_id):
            return _response(ctx, ErrorCode.transactional_id_authorization_failed, -1, -1)
        return _transactional(ctx, request, node)
    # Idempotence: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic (Kafka 2.8+).
    if not (
        authorized(ctx, node, IDEMPOTENT_WRITE, CLUSTER)
        or node.authorizer.may_write_some_topic(ctx.principal, ctx.client_host)
    ):
        return _response(ctx, ErrorCode.cluster_authorization_failed, -1, -1)
    producer_id = getattr(request, "producer_id", -1)
    epoch = getattr(request, "producer_epoch", -1)
    if producer_id >= 0 and 0 <= epoch < MAX_EPOCH:
        new_id, new_epoch = producer_id, epoch + 1
    else:
        new_id, new_epoch = node.producer_ids.next_producer_id(), 0
    return _response(ctx, ErrorCode.none, new_id, new_epoch)


async def _transactional(ctx: RequestContext, request: Any, node: Node) -> Any:
    producer_id = getattr(request, "producer_id", -1)
    epoch = getattr(request, "producer_epoch", -1)
    expected = ProducerIdAndEpoch(producer_id, epoch) if producer_id >= 0 else None
    try:
        result = await node.transactions.init_producer_id(
            request.transactional_id, millis(request.transaction_timeout), expected
        )
    except KafkaError as error:
        return _response(ctx, for_version(error.code, API_KEY, ctx.api_version), -1, -1)
    return _response(ctx, ErrorCode.none, result.producer_id, result.producer_epoch)


def _response(ctx: RequestContext, error: ErrorCode, producer_id: int, epoch: int) -> Any:
    m = response_module(ctx)
    return make(
        m.InitProducerIdResponse,
        throttle_time=ZERO,
        error_code=error,
        producer_id=producer_id,
        producer_epoch=epoch,
    )
