"""ListTransactions (key 66), v0-2: transactional ids filtered by state names (unknown names
are echoed back in unknown_state_filters), producer ids, v1 the minimum running time of an
open transaction, v2 a regular expression the id must match (Java's find() semantics)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, TRANSACTIONAL_ID, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.transactions.state import TransactionState

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 66
VERSIONS = range(0, 3)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    states: set[TransactionState] = set()
    unknown: list[str] = []
    for name in request.state_filters:
        state = TransactionState.from_display_name(name)
        if state is None:
            unknown.append(name)
        else:
            states.add(state)
    pattern_text = getattr(request, "transactional_id_pattern", None)
    try:
        pattern = re.compile(pattern_text) if pattern_text else None
    except re.error:
        return make(
            m.ListTransactionsResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.invalid_regular_expression,
            unknown_state_filters=(),
            transaction_states=(),
        )
    found = []
    if not (unknown and not states):  # only unknown states asked for: nothing matches
        found = node.transactions.coordinator.list(
            states or None,
            set(request.producer_id_filters) or None,
            getattr(request, "duration_filter", -1),
        )
    return make(
        m.ListTransactionsResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        unknown_state_filters=tuple(unknown),
        transaction_states=tuple(
            make(
                m.TransactionState,
                transactional_id=metadata.transactional_id,
                producer_id=metadata.producer_id,
                transaction_state=metadata.state.display_name,
            )
            for metadata in found
            if (pattern is None or pattern.search(metadata.transactional_id))
            # Kafka lists the transactional ids the principal may DESCRIBE.
            and authorized(ctx, node, DESCRIBE, TRANSACTIONAL_ID, metadata.transactional_id)
        ),
    )
