"""The classic group protocol's JoinGroup (Kafka's ClassicGroup join semantics).

Theory of operation (Kafka's GroupCoordinator/ClassicGroup semantics, Kafka 3.x-4.x):
every function takes a group, plain request values and a Context (now_ms, config, and an
Effects collector) and returns the caller's answer, or `Parked` when the answer must wait for
the rebalance. Effects carry what the outside world must do: records to append, answers for
other members' parked JoinGroup/SyncGroup requests, and named timers to (re)schedule/cancel.
Nothing here awaits, sleeps or touches a socket; the service executes the effects.

SyncGroup, Heartbeat and LeaveGroup live in membership.py; the rebalance phases, removals,
timer expiries and group persistence in rebalance.py; the timer events in timeouts.py.
"""

from __future__ import annotations

import logging

from katka.coordinator.classic.group import ClassicGroup
from katka.coordinator.classic.member import ClassicMember
from katka.coordinator.classic.rebalance import (
    answer_join,
    answer_sync,
    cause_of,
    current_generation,
    group_metadata_record,
    maybe_complete_join_phase,
    maybe_prepare_rebalance,
    maybe_prepare_rebalance_or_complete_join,
    prepare_rebalance,
    schedule_heartbeat,
)
from katka.coordinator.classic.requests import JoinGroupRequest
from katka.coordinator.classic.state import (
    COMPLETING,
    DEAD,
    EMPTY,
    PREPARING,
    STABLE,
    IllegalStateTransition,
)
from katka.coordinator.classic.timeouts import HeartbeatExpiry, heartbeat_key
from katka.coordinator.effects import Context
from katka.coordinator.history import RebalanceCause, RebalanceTrigger
from katka.coordinator.results import JoinGroupResult, Parked, SyncGroupResult
from katka.errors import ErrorCode

logger = logging.getLogger("katka.coordinator")


def join_group(
    group: ClassicGroup, req: JoinGroupRequest, ctx: Context
) -> JoinGroupResult | Parked:
    cfg = ctx.config
    if not (
        cfg.group_min_session_timeout_ms
        <= req.session_timeout_ms
        <= cfg.group_max_session_timeout_ms
    ):
        return JoinGroupResult.error(ErrorCode.invalid_session_timeout, req.member_id)
    result: JoinGroupResult | Parked
    if not _accept_joining_member(group, req.member_id, cfg.group_max_size):
        if group.remove(req.member_id) is not None:
            ctx.fx.cancel(heartbeat_key(group.group_id, req.member_id))
        result = JoinGroupResult.error(ErrorCode.group_max_size_reached)
    elif req.member_id == "":
        result = _join_new_member(group, req, ctx)
    else:
        result = _join_existing_member(group, req, ctx)
    maybe_complete_join_phase(group, ctx)
    return result


def _accept_joining_member(group: ClassicGroup, member_id: str, max_size: int) -> bool:
    if group.is_state(EMPTY, DEAD):
        return True
    if group.is_state(PREPARING):
        # Count awaiting members: the group may already exceed a lowered max size, and this
        # keeps out the last members to rejoin.
        member = group.members.get(member_id)
        return (member is not None and member.awaiting_join) or group.num_awaiting_join() < max_size
    return member_id in group or group.size < max_size


def _join_new_member(
    group: ClassicGroup, req: JoinGroupRequest, ctx: Context
) -> JoinGroupResult | Parked:
    if group.is_state(DEAD):
        return JoinGroupResult.error(ErrorCode.coordinator_not_available)
    if not group.supports_protocols(req.protocol_type, req.protocol_names):
        return JoinGroupResult.error(ErrorCode.inconsistent_group_protocol)
    new_member_id = group.generate_member_id(req.client_id, req.group_instance_id)
    if req.group_instance_id is not None:
        old_member_id = group.static_members.get(req.group_instance_id)
        if old_member_id is not None:
            return _update_static_member_and_rebalance(
                group, old_member_id, new_member_id, req, ctx
            )
        return _add_member_and_rebalance(group, new_member_id, req, ctx)
    if req.require_known_member_id:
        # KIP-394: hand out the id and wait for the member to rejoin with it, so a client
        # that times out and retries does not leave a ghost member in the rebalance.
        deadline = ctx.now_ms + req.session_timeout_ms
        group.pending_members[new_member_id] = deadline
        ctx.fx.schedule(
            heartbeat_key(group.group_id, new_member_id),
            deadline,
            HeartbeatExpiry(group.group_id, new_member_id, deadline, pending=True),
        )
        return JoinGroupResult.error(ErrorCode.member_id_required, new_member_id)
    return _add_member_and_rebalance(group, new_member_id, req, ctx)


def _join_existing_member(
    group: ClassicGroup, req: JoinGroupRequest, ctx: Context
) -> JoinGroupResult | Parked:
    member_id = req.member_id
    if group.is_state(DEAD):
        return JoinGroupResult.error(ErrorCode.coordinator_not_available, member_id)
    if not group.supports_protocols(req.protocol_type, req.protocol_names):
        return JoinGroupResult.error(ErrorCode.inconsistent_group_protocol, member_id)
    if group.is_pending(member_id):
        return _add_member_and_rebalance(group, member_id, req, ctx)
    instance_not_found = (
        req.group_instance_id is not None and req.group_instance_id not in group.static_members
    )
    if group.is_static_member_fenced(req.group_instance_id, member_id):
        return JoinGroupResult.error(ErrorCode.fenced_instance_id, member_id)
    if member_id not in group or instance_not_found:
        return JoinGroupResult.error(ErrorCode.unknown_member_id, member_id)
    member = group.get(member_id)
    cause = cause_of(RebalanceTrigger.METADATA_CHANGE, member, req.reason)
    if group.is_state(PREPARING):
        return _update_member_and_rebalance(group, member, req, ctx, cause)
    if group.is_state(COMPLETING):
        if member.matches(req.protocols):
            # The member lost its JoinGroup response: answer again for this generation.
            return current_generation(group, member_id, with_members=group.is_leader(member_id))
        return _update_member_and_rebalance(group, member, req, ctx, cause)
    if group.is_state(STABLE):
        if group.is_leader(member_id) or not member.matches(req.protocols):
            # A leader rejoins to pick up changes that do not show in metadata (new topics
            # or partitions matching its subscription), so it always rebalances.
            return _update_member_and_rebalance(group, member, req, ctx, cause)
        return current_generation(group, member_id, with_members=False)
    return JoinGroupResult.error(ErrorCode.unknown_member_id, member_id)


def _add_member_and_rebalance(
    group: ClassicGroup, member_id: str, req: JoinGroupRequest, ctx: Context
) -> Parked:
    member = ClassicMember(
        member_id=member_id,
        group_instance_id=req.group_instance_id,
        client_id=req.client_id,
        client_host=req.client_host,
        rebalance_timeout_ms=req.rebalance_timeout_ms,
        session_timeout_ms=req.session_timeout_ms,
        protocol_type=req.protocol_type,
        protocols=req.protocols,
        is_new=True,
        awaiting_join=True,
        joined_ms=ctx.now_ms,
    )
    if group.is_state(PREPARING) and group.previous_state is EMPTY:
        group.new_member_added = True  # extends the initial delayed join
    group.add(member)
    # New members cannot heartbeat yet; bound how long a vanished one can hold the rebalance.
    schedule_heartbeat(group, member, ctx, ctx.config.new_member_join_timeout_ms)
    maybe_prepare_rebalance_or_complete_join(
        group, ctx, cause_of(RebalanceTrigger.JOIN, member, req.reason)
    )
    return Parked(member_id)


def _update_member_and_rebalance(
    group: ClassicGroup,
    member: ClassicMember,
    req: JoinGroupRequest,
    ctx: Context,
    cause: RebalanceCause,
) -> Parked:
    group.update_member(
        member, req.protocols, req.rebalance_timeout_ms, req.session_timeout_ms, awaiting_join=True
    )
    maybe_prepare_rebalance_or_complete_join(group, ctx, cause)
    return Parked(member.member_id)


def _update_static_member_and_rebalance(
    group: ClassicGroup, old_member_id: str, new_member_id: str, req: JoinGroupRequest, ctx: Context
) -> JoinGroupResult | Parked:
    """A known static member restarted: it takes over its old identity and assignment."""
    assert req.group_instance_id is not None
    current_leader = group.leader_id
    old = group.get(old_member_id)
    # Fence a duplicate still parked with the old id (Kafka's replaceStaticMember).
    answer_join(ctx, group, old, JoinGroupResult.error(ErrorCode.fenced_instance_id, old_member_id))
    answer_sync(ctx, group, old, SyncGroupResult(ErrorCode.fenced_instance_id))
    member = group.replace_static_member(req.group_instance_id, old_member_id, new_member_id)
    member.client_id, member.client_host = req.client_id, req.client_host
    ctx.fx.cancel(heartbeat_key(group.group_id, old_member_id))
    schedule_heartbeat(group, member, ctx)
    group.update_member(
        member, req.protocols, req.rebalance_timeout_ms, req.session_timeout_ms, awaiting_join=True
    )
    cause = cause_of(RebalanceTrigger.STATIC_MEMBER_CHANGE, member, req.reason)
    logger.info(
        "static member %s of group %s rejoined in state %s; member id %s replaces %s",
        req.group_instance_id,
        group.group_id,
        group.state.value,
        new_member_id,
        old_member_id,
    )
    if group.is_state(STABLE):
        if group.protocol_name == group.select_protocol():
            # No rebalance: persist the new member id and hand back the current generation.
            ctx.fx.records.append(group_metadata_record(group))
            member.awaiting_join = False
            if group.is_leader(new_member_id) and req.supports_skipping_assignment:
                # KIP-814: the leader learns the members but must not re-assign.
                return JoinGroupResult(
                    ErrorCode.none,
                    new_member_id,
                    group.generation_id,
                    group.protocol_type,
                    group.protocol_name,
                    new_member_id,
                    True,
                    group.current_member_metadata(),
                )
            # Older clients get the old leader id so a restarted leader does not assign.
            return JoinGroupResult(
                ErrorCode.none,
                new_member_id,
                group.generation_id,
                group.protocol_type,
                group.protocol_name,
                current_leader or "",
            )
        maybe_prepare_rebalance(group, ctx, cause)
    elif group.is_state(COMPLETING):
        # KAFKA-9801: the leader may already be assigning with the old member id, which would
        # leave the new id without an assignment; start over.
        prepare_rebalance(group, ctx, cause)
    elif not group.is_state(PREPARING):
        raise IllegalStateTransition(
            f"static member rejoined group {group.group_id} in state {group.state.value}"
        )
    return Parked(new_member_id)
