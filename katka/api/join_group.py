"""JoinGroup (key 11), v0-9. The reply is parked until the join phase completes, without
blocking the connection's other requests or other clients (the connection keeps order).
v0 has no rebalance timeout: it equals the session timeout, as in Kafka. v4+ requires a known
member id (KIP-394), v9+ lets a static leader skip the assignment (KIP-814)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import GROUP, READ, authorized
from katka.api._build import ZERO, make, millis, response_module
from katka.api.context import RequestContext
from katka.coordinator.classic.requests import JoinGroupRequest
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 11
VERSIONS = range(0, 10)


async def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    if not authorized(ctx, node, READ, GROUP, request.group_id):
        return make(
            response_module(ctx).JoinGroupResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.group_authorization_failed,
            generation_id=-1,
            protocol_type=None,
            protocol_name="" if ctx.api_version < 7 else None,
            leader="",
            skip_assignment=False,
            member_id="",
            members=(),
        )
    session_timeout_ms = millis(request.session_timeout)
    rebalance_timeout = getattr(request, "rebalance_timeout", None)
    reply = node.coordinator.join_group(
        JoinGroupRequest(
            group_id=request.group_id,
            member_id=request.member_id,
            client_id=ctx.client_id,
            client_host=f"/{ctx.client_host}",
            session_timeout_ms=session_timeout_ms,
            rebalance_timeout_ms=millis(rebalance_timeout)
            if rebalance_timeout is not None
            else session_timeout_ms,
            protocol_type=request.protocol_type,
            protocols=tuple((p.name, p.metadata) for p in request.protocols),
            group_instance_id=getattr(request, "group_instance_id", None),
            require_known_member_id=ctx.api_version >= 4,
            supports_skipping_assignment=ctx.api_version >= 9,
            reason=getattr(request, "reason", None),
        )
    )
    result = await reply.wait()
    m = response_module(ctx)
    protocol_name = result.protocol_name
    if protocol_name is None and ctx.api_version < 7:
        protocol_name = ""
    return make(
        m.JoinGroupResponse,
        throttle_time=ZERO,
        error_code=result.error_code,
        generation_id=result.generation_id,
        protocol_type=result.protocol_type,
        protocol_name=protocol_name,
        leader=result.leader_id,
        skip_assignment=result.skip_assignment,
        member_id=result.member_id,
        members=tuple(
            make(
                m.JoinGroupResponseMember,
                member_id=member.member_id,
                group_instance_id=member.group_instance_id,
                metadata=member.metadata,
            )
            for member in result.members
        ),
    )
