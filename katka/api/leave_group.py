"""LeaveGroup (key 13), v0-5; v3+ batches members (by member id or group instance id)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import GROUP, READ, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.coordinator.results import LeaveMember
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 13
VERSIONS = range(0, 6)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    if not authorized(ctx, node, READ, GROUP, request.group_id):
        return make(
            response_module(ctx).LeaveGroupResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.group_authorization_failed,
            members=(),
        )
    if ctx.api_version < 3:
        members = [LeaveMember(request.member_id)]
    else:
        members = [
            LeaveMember(m.member_id, m.group_instance_id, getattr(m, "reason", None))
            for m in request.members
        ]
    result = node.coordinator.leave_group(request.group_id, members)
    m = response_module(ctx)
    error = result.error_code
    if ctx.api_version < 3 and error == ErrorCode.none and result.members:
        error = result.members[0].error_code
    return make(
        m.LeaveGroupResponse,
        throttle_time=ZERO,
        error_code=error,
        members=tuple(
            make(
                m.MemberResponse,
                member_id=member.member_id,
                group_instance_id=member.group_instance_id,
                error_code=member.error_code,
            )
            for member in result.members
        )
        if ctx.api_version >= 3
        else (),
    )
