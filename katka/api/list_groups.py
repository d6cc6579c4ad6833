"""ListGroups (key 16), v0-5: v4 filters by state, v5 by type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import CLUSTER, DESCRIBE, GROUP, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 16
VERSIONS = range(0, 6)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    result = node.coordinator.list_groups(
        getattr(request, "states_filter", ()), getattr(request, "types_filter", ())
    )
    return make(
        m.ListGroupsResponse,
        throttle_time=ZERO,
        error_code=result.error_code,
        groups=tuple(
            make(
                m.ListedGroup,
                group_id=g.group_id,
                protocol_type=g.protocol_type,
                group_state=g.group_state,
                group_type=g.group_type,
            )
            for g in result.groups
            # Kafka: DESCRIBE on the cluster lists every group, else those one may DESCRIBE.
            if authorized(ctx, node, DESCRIBE, CLUSTER)
            or authorized(ctx, node, DESCRIBE, GROUP, g.group_id)
        ),
    )
