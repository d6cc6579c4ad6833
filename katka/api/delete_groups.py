"""DeleteGroups (key 42), v0-2: only Empty groups; their committed offsets go too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DELETE, GROUP, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 42
VERSIONS = range(0, 3)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    names = list(dict.fromkeys(request.groups_names))
    allowed = [g for g in names if authorized(ctx, node, DELETE, GROUP, g)]
    deleted = {r.group_id: r.error_code for r in node.coordinator.delete_groups(allowed)}
    results = tuple(
        make(
            m.DeletableGroupResult,
            group_id=g,
            error_code=deleted.get(g, ErrorCode.group_authorization_failed),
        )
        for g in names
    )
    return make(m.DeleteGroupsResponse, throttle_time=ZERO, results=results)
