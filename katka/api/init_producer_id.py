"""InitProducerId (key 22), v0-5: a fresh producer id for idempotent producers.

Transactional ids are refused (katka does not implement transactions). A v3+ request that
names its current producer id and epoch gets the epoch bumped (KIP-360), so an idempotent
producer can recover from an OUT_OF_ORDER_SEQUENCE_NUMBER without losing its id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.broker import Broker

API_KEY = 22
VERSIONS = range(0, 6)
MAX_EPOCH = 32766


def handle(ctx: RequestContext, request: Any, broker: Broker) -> Any:
    m = response_module(ctx)
    if request.transactional_id is not None:
        return make(
            m.InitProducerIdResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.transactional_id_authorization_failed,
            producer_id=-1,
            producer_epoch=-1,
        )
    producer_id = getattr(request, "producer_id", -1)
    epoch = getattr(request, "producer_epoch", -1)
    if producer_id >= 0 and 0 <= epoch < MAX_EPOCH:
        new_id, new_epoch = producer_id, epoch + 1
    else:
        new_id, new_epoch = broker.producer_ids.next_producer_id(), 0
    return make(
        m.InitProducerIdResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        producer_id=new_id,
        producer_epoch=new_epoch,
    )
