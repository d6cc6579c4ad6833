"""DeleteGroups (key 42), v0-2: only Empty groups; their committed offsets go too."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 42
VERSIONS = range(0, 3)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results = tuple(
        make(m.DeletableGroupResult, group_id=r.group_id, error_code=r.error_code)
        for r in node.coordinator.delete_groups(list(request.groups_names))
    )
    return make(m.DeleteGroupsResponse, throttle_time=ZERO, results=results)
