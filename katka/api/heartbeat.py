"""Heartbeat (key 12), v0-4."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import GROUP, READ, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 12
VERSIONS = range(0, 5)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    if not authorized(ctx, node, READ, GROUP, request.group_id):
        return make(
            response_module(ctx).HeartbeatResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.group_authorization_failed,
        )
    result = node.coordinator.heartbeat(
        request.group_id,
        request.member_id,
        request.generation_id,
        getattr(request, "group_instance_id", None),
    )
    return make(
        response_module(ctx).HeartbeatResponse, throttle_time=ZERO, error_code=result.error_code
    )
