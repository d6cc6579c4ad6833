"""DescribeGroups (key 15), v0-6. A group that does not exist (or is not a classic group) is
described as Dead; v6 (KIP-1043) adds GROUP_ID_NOT_FOUND with Kafka's message for it, which
Kafka 4.x's admin client turns into "Group G not found." where older versions saw an empty Dead
group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, GROUP, authorized, enabled
from katka.api._authorized_operations import GROUP_OPERATIONS, NOT_REQUESTED, authorized_operations
from katka.api._build import ZERO, make, make_from, response_module
from katka.api.context import RequestContext
from katka.coordinator.results import DescribedGroup
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 15
VERSIONS = range(0, 7)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    # v3+: every group operation when asked for, as Kafka reports them without an authorizer.
    operations = authorized_operations(
        GROUP_OPERATIONS, getattr(request, "include_authorized_operations", False)
    )
    groups = tuple(
        make_from(
            m.DescribedGroup,
            group,
            members=tuple(make_from(m.DescribedGroupMember, member) for member in group.members),
            **_not_found(ctx, group),
            authorized_operations=node.authorizer.authorized_operations(
                ctx.principal, ctx.client_host, GROUP, group.group_id
            )
            if enabled(node) and operations != NOT_REQUESTED
            else operations,
        )
        for group in _authorized_groups(ctx, node, list(request.groups))
    )
    return make(m.DescribeGroupsResponse, throttle_time=ZERO, groups=groups)


def _not_found(ctx: RequestContext, group: DescribedGroup) -> dict[str, Any]:
    if ctx.api_version < 6 or group.exists or group.error_code != ErrorCode.none:
        return {}
    return {
        "error_code": ErrorCode.group_id_not_found,
        "error_message": f"Group {group.group_id} not found.",
    }


def _authorized_groups(ctx: RequestContext, node: Node, group_ids: list[str]) -> list[Any]:
    """The groups described, in request order; those the principal may not DESCRIBE are
    GROUP_AUTHORIZATION_FAILED without being looked at, as Kafka answers."""
    allowed = [g for g in group_ids if authorized(ctx, node, DESCRIBE, GROUP, g)]
    described = {g.group_id: g for g in node.coordinator.describe_groups(allowed)}
    return [
        described[g]
        if g in described
        else DescribedGroup(g, ErrorCode.group_authorization_failed, "", "", "")
        for g in group_ids
    ]
