"""DescribeClientQuotas (key 48), v0-1: the configured quotas of the entities the filter
matches (kafka-configs.sh --describe --entity-type users/clients/ips). A filter naming a type
twice or an unknown match type is INVALID_REQUEST, as in Kafka."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.quotas.store import CLIENT_ID, IP, USER, matches

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 48
VERSIONS = range(0, 2)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    components: dict[str, tuple[int, str | None]] = {}
    error = None
    for c in request.components:
        if c.entity_type in components or c.match_type not in (0, 1, 2):
            error = f"Invalid filter component for {c.entity_type}"
        elif c.entity_type not in (USER, CLIENT_ID, IP):
            error = f"Unknown entity type {c.entity_type}"
        components[c.entity_type] = (c.match_type, c.match)
    if error is not None:
        return make(
            m.DescribeClientQuotasResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.invalid_request,
            error_message=error,
            entries=None,
        )
    store = node.quotas.store
    entries = tuple(
        make(
            m.EntryData,
            entity=tuple(
                make(m.EntityData, entity_type=kind, entity_name=name) for kind, name in entity
            ),
            values=tuple(make(m.ValueData, key=k, value=v) for k, v in sorted(values.items())),
        )
        for entity, values in store.entries().items()
        if matches(entity, components, request.strict)
    )
    return make(
        m.DescribeClientQuotasResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        error_message=None,
        entries=entries,
    )
