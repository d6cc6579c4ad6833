"""Classic group requests of members of a generation: SyncGroup, Heartbeat, LeaveGroup, and
the group's verdict on an OffsetCommit.

As in join.py, every function takes a group, plain request values and a Context and returns
the caller's answer (or `Parked`); the rebalance mechanics they trigger live in rebalance.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from katka.coordinator.classic.group import ClassicGroup
from katka.coordinator.classic.member import ClassicMember
from katka.coordinator.classic.rebalance import (
    cause_of,
    complete_history,
    group_metadata_record,
    propagate_assignment,
    remove_member_and_update_group,
    remove_pending_member,
    schedule_heartbeat,
)
from katka.coordinator.classic.requests import SyncGroupRequest
from katka.coordinator.classic.state import COMPLETING, DEAD, EMPTY, PREPARING, STABLE
from katka.coordinator.classic.timeouts import sync_key
from katka.coordinator.effects import Context
from katka.coordinator.history import RebalanceTrigger
from katka.coordinator.results import (
    LeaveGroupResult,
    LeaveMember,
    MemberLeaveResult,
    Parked,
    SyncGroupResult,
)
from katka.errors import ErrorCode

logger = logging.getLogger("katka.coordinator")


def sync_group(
    group: ClassicGroup, req: SyncGroupRequest, ctx: Context
) -> SyncGroupResult | Parked:
    if group.is_state(DEAD):
        return SyncGroupResult(ErrorCode.coordinator_not_available)
    error = group.validate_current_member(req.member_id, req.group_instance_id)
    if error is not None:
        return SyncGroupResult(error)
    if req.generation_id != group.generation_id:
        return SyncGroupResult(ErrorCode.illegal_generation)
    if (req.protocol_type is not None and req.protocol_type != group.protocol_type) or (
        req.protocol_name is not None and req.protocol_name != group.protocol_name
    ):
        return SyncGroupResult(ErrorCode.inconsistent_group_protocol)
    if group.is_state(EMPTY):
        return SyncGroupResult(ErrorCode.unknown_member_id)
    if group.is_state(PREPARING):
        return SyncGroupResult(ErrorCode.rebalance_in_progress)
    member = group.get(req.member_id)
    _remove_pending_sync_member(group, req.member_id, ctx)
    if group.is_state(STABLE):
        schedule_heartbeat(group, member, ctx)
        return SyncGroupResult(
            ErrorCode.none, group.protocol_type, group.protocol_name, member.assignment
        )
    member.awaiting_sync = True
    if group.is_leader(req.member_id):
        logger.info(
            "assignment received from leader %s for group %s generation %d (%d members)",
            req.member_id,
            group.group_id,
            group.generation_id,
            group.size,
        )
        # Members the leader left out get an empty assignment; unknown ids are dropped.
        for member_id, each in group.members.items():
            each.assignment = req.assignments.get(member_id, b"")
        ctx.fx.records.append(group_metadata_record(group))
        propagate_assignment(group, ErrorCode.none, ctx)
        group.transition_to(STABLE, ctx.now_ms)
        complete_history(group, ctx)
    return Parked(req.member_id)


def _remove_pending_sync_member(group: ClassicGroup, member_id: str, ctx: Context) -> None:
    group.pending_sync_members.discard(member_id)
    if not group.pending_sync_members:
        ctx.fx.cancel(sync_key(group.group_id))


def heartbeat(
    group: ClassicGroup,
    member_id: str,
    group_instance_id: str | None,
    generation_id: int,
    ctx: Context,
) -> ErrorCode:
    if group.is_state(DEAD):
        return ErrorCode.coordinator_not_available
    error = group.validate_current_member(member_id, group_instance_id)
    if error is not None:
        return error
    if generation_id != group.generation_id:
        return ErrorCode.illegal_generation
    if group.is_state(EMPTY):
        return ErrorCode.unknown_member_id
    schedule_heartbeat(group, group.get(member_id), ctx)
    # Since Kafka 2.x a heartbeat after the JoinGroup response (CompletingRebalance) is fine.
    if group.is_state(PREPARING):
        return ErrorCode.rebalance_in_progress
    return ErrorCode.none


def leave_group(
    group: ClassicGroup, leaving: Sequence[LeaveMember], ctx: Context
) -> LeaveGroupResult:
    if group.is_state(DEAD):
        return LeaveGroupResult(ErrorCode.coordinator_not_available)
    results = []
    for identity in leaving:
        error: ErrorCode | None = ErrorCode.none
        if identity.member_id == "":
            # Administrative removal by group.instance.id (LeaveGroup v3+, KIP-345).
            current = (
                group.static_members.get(identity.group_instance_id)
                if identity.group_instance_id is not None
                else None
            )
            if current is None:
                error = ErrorCode.unknown_member_id
            else:
                _remove_leaving_member(group, group.get(current), identity.reason, ctx)
        elif group.is_pending(identity.member_id):
            remove_pending_member(group, identity.member_id, ctx)
        else:
            error = group.validate_current_member(identity.member_id, identity.group_instance_id)
            if error is None:
                _remove_leaving_member(group, group.get(identity.member_id), identity.reason, ctx)
        results.append(
            MemberLeaveResult(
                identity.member_id, identity.group_instance_id, error or ErrorCode.none
            )
        )
    return LeaveGroupResult(ErrorCode.none, tuple(results))


def _remove_leaving_member(
    group: ClassicGroup, member: ClassicMember, reason: str | None, ctx: Context
) -> None:
    logger.info(
        "member %s left group %s through LeaveGroup (reason: %s)",
        member.member_id,
        group.group_id,
        reason or "no reason provided",
    )
    remove_member_and_update_group(
        group, member, ctx, cause_of(RebalanceTrigger.LEAVE, member, reason)
    )


def validate_offset_commit(
    group: ClassicGroup,
    member_id: str,
    group_instance_id: str | None,
    generation_id: int,
    ctx: Context,
) -> ErrorCode | None:
    """The group-level verdict on an OffsetCommit; None means the partitions may be written."""
    if group.is_state(DEAD):
        return ErrorCode.coordinator_not_available
    if generation_id < 0 and group.is_state(EMPTY):
        # Admin tools and consumers without group management commit with generation -1.
        return None
    if generation_id >= 0 or member_id or group_instance_id is not None:
        error = group.validate_current_member(member_id, group_instance_id)
        if error is not None:
            return error
        if generation_id != group.generation_id:
            return ErrorCode.illegal_generation
    elif not group.is_state(EMPTY):
        return ErrorCode.unknown_member_id  # only members may commit for a non-empty group
    if group.is_state(COMPLETING):
        # The member has its generation but not its assignment yet.
        return ErrorCode.rebalance_in_progress
    if member_id in group and group.is_state(STABLE, PREPARING):
        # A commit proves the member is alive (Kafka extends its session on commit).
        schedule_heartbeat(group, group.get(member_id), ctx)
    return None
