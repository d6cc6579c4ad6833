"""AlterClientQuotas (key 49), v0-1: set or remove quota values of entities (user, client-id,
both, or ip; a null name is the default entity); kept in the data directory. Each entry is
validated whole (known keys for its entity type, positive values, whole byte rates) and
answered on its own; validate_only changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.quotas.store import entity_of

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 49
VERSIONS = range(0, 2)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    store = node.quotas.store
    results = []
    changed = False
    for entry in request.entries:
        error, message = ErrorCode.none, None
        try:
            entity = entity_of((e.entity_type, e.entity_name) for e in entry.entity)
            ops = [(op.key, float(op.value), op.remove) for op in entry.ops]
            store.validate(entity, ops)
            if not request.validate_only:
                store.alter(entity, ops)
                changed = True
        except KafkaError as exc:
            error, message = exc.code, exc.message
        results.append(
            make(
                m.EntryData,
                error_code=error,
                error_message=message,
                entity=tuple(
                    make(m.EntityData, entity_type=e.entity_type, entity_name=e.entity_name)
                    for e in entry.entity
                ),
            )
        )
    if changed:
        store.save()
    return make(m.AlterClientQuotasResponse, throttle_time=ZERO, entries=tuple(results))
