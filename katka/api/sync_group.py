"""SyncGroup (key 14), v0-5: followers are parked until the leader sends the assignment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import GROUP, READ, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.coordinator.classic.requests import SyncGroupRequest
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 14
VERSIONS = range(0, 6)


async def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    if not authorized(ctx, node, READ, GROUP, request.group_id):
        return make(
            response_module(ctx).SyncGroupResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.group_authorization_failed,
            protocol_type=None,
            protocol_name=None,
            assignment=b"",
        )
    reply = node.coordinator.sync_group(
        SyncGroupRequest(
            group_id=request.group_id,
            member_id=request.member_id,
            generation_id=request.generation_id,
            group_instance_id=getattr(request, "group_instance_id", None),
            protocol_type=getattr(request, "protocol_type", None),
            protocol_name=getattr(request, "protocol_name", None),
            assignments={a.member_id: a.assignment for a in request.assignments},
        )
    )
    result = await reply.wait()
    m = response_module(ctx)
    return make(
        m.SyncGroupResponse,
        throttle_time=ZERO,
        error_code=result.error_code,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol_name,
        assignment=result.assignment,
    )
