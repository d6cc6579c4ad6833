"""ListPartitionReassignments (key 46), v0: no reassignment is ever under way on one node, so
the answer lists none (kafka-reassign-partitions.sh --list prints "No partition
reassignments found")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 46
VERSIONS = range(0, 1)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    return make(
        m.ListPartitionReassignmentsResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        error_message=None,
        topics=(),
    )
