"""Rebalance phases, removals, timer expiries and persistence of classic groups.

The join phase (PreparingRebalance) ends when every member has rejoined and no pending member
is outstanding, or when the rebalance timeout (the largest among members) expires; dynamic
members that did not rejoin are then removed, static members are kept until their session
times out. The group then moves to CompletingRebalance with a new generation, or to Empty.
The sync phase ends with the leader's SyncGroup (Stable) or, if some members never send
SyncGroup within the rebalance timeout, by removing them and rebalancing again.

Timer expiries re-check what they captured: a heartbeat expiry acts only if the member still
has the deadline it was scheduled with; join/sync expiries only if the group is still in that
generation's phase.
"""

from __future__ import annotations

import logging

from katka.coordinator.classic.group import ClassicGroup
from katka.coordinator.classic.member import ClassicMember
from katka.coordinator.classic.state import COMPLETING, DEAD, EMPTY, PREPARING, STABLE
from katka.coordinator.classic.timeouts import (
    ClassicTimerEvent,
    HeartbeatExpiry,
    JoinExpiry,
    SyncExpiry,
    heartbeat_key,
    join_key,
    sync_key,
)
from katka.coordinator.effects import Context
from katka.coordinator.history import RebalanceCause, RebalanceTrigger
from katka.coordinator.history_records import history_record
from katka.coordinator.records import GroupSnapshot, MemberSnapshot, Record, group_record
from katka.coordinator.results import JoinGroupResult, SyncGroupResult
from katka.errors import ErrorCode

logger = logging.getLogger("katka.coordinator")


def answer_join(
    ctx: Context, group: ClassicGroup, member: ClassicMember, result: JoinGroupResult
) -> None:
    """Answer the member's parked JoinGroup, if it has one."""
    if member.awaiting_join:
        member.awaiting_join = False
        ctx.fx.join_responses[group.group_id, member.member_id] = result


def answer_sync(
    ctx: Context, group: ClassicGroup, member: ClassicMember, result: SyncGroupResult
) -> None:
    """Answer the member's parked SyncGroup, if it has one."""
    if member.awaiting_sync:
        member.awaiting_sync = False
        ctx.fx.sync_responses[group.group_id, member.member_id] = result


def current_generation(
    group: ClassicGroup, member_id: str, *, with_members: bool
) -> JoinGroupResult:
    return JoinGroupResult(
        error_code=ErrorCode.none,
        member_id=member_id,
        generation_id=group.generation_id,
        protocol_type=group.protocol_type,
        protocol_name=group.protocol_name,
        leader_id=group.leader_id or "",
        members=group.current_member_metadata() if with_members else (),
    )


def cause_of(
    trigger: RebalanceTrigger, member: ClassicMember, reason: str | None
) -> RebalanceCause:
    return RebalanceCause(
        trigger, member.member_id, member.client_id, member.group_instance_id, reason
    )


def maybe_prepare_rebalance_or_complete_join(
    group: ClassicGroup, ctx: Context, cause: RebalanceCause
) -> None:
    if group.can_rebalance():
        prepare_rebalance(group, ctx, cause)
    else:
        maybe_complete_join_phase(group, ctx)


def maybe_prepare_rebalance(group: ClassicGroup, ctx: Context, cause: RebalanceCause) -> None:
    if group.can_rebalance():
        prepare_rebalance(group, ctx, cause)


def prepare_rebalance(group: ClassicGroup, ctx: Context, cause: RebalanceCause) -> None:
    if group.is_state(COMPLETING):
        # Members parked in SyncGroup must rejoin: their generation is over.
        reset_and_propagate_assignment_error(group, ErrorCode.rebalance_in_progress, ctx)
    ctx.fx.cancel(sync_key(group.group_id))
    initial = group.is_state(EMPTY)
    group.history.on_prepare(cause, ctx.now_ms)
    group.transition_to(PREPARING, ctx.now_ms)
    logger.info(
        "preparing to rebalance group %s with old generation %d (trigger=%s member=%s reason=%r)",
        group.group_id,
        group.generation_id,
        cause.trigger.value,
        cause.member_id,
        cause.reason,
    )
    if initial:
        # Kafka's InitialDelayedJoin: wait for more members before the first assignment.
        delay = ctx.config.group_initial_rebalance_delay_ms
        remaining = max(group.rebalance_timeout_ms - delay, 0)
        ctx.fx.schedule(
            join_key(group.group_id),
            ctx.now_ms + delay,
            JoinExpiry(group.group_id, group.generation_id, delay, remaining),
        )
    elif group.has_all_members_joined():
        ctx.fx.cancel(join_key(group.group_id))
        complete_join(group, ctx)
    else:
        _schedule_join_expiry(group, ctx)


def _schedule_join_expiry(group: ClassicGroup, ctx: Context) -> None:
    ctx.fx.schedule(
        join_key(group.group_id),
        ctx.now_ms + group.rebalance_timeout_ms,
        JoinExpiry(group.group_id, group.generation_id),
    )


def maybe_complete_join_phase(group: ClassicGroup, ctx: Context) -> None:
    # The initial delayed join never completes early: it waits for more members.
    if (
        group.is_state(PREPARING)
        and group.has_all_members_joined()
        and group.previous_state is not EMPTY
    ):
        ctx.fx.cancel(join_key(group.group_id))
        complete_join(group, ctx)


def complete_join(group: ClassicGroup, ctx: Context) -> None:
    for member in group.not_yet_rejoined_members():
        # Static members are kept: they may come back within their session timeout.
        if not member.is_static:
            logger.info(
                "group %s removed member %s that did not rejoin within the rebalance timeout",
                group.group_id,
                member.member_id,
            )
            group.remove(member.member_id)
            ctx.fx.cancel(heartbeat_key(group.group_id, member.member_id))
            group.history.on_member_removed(
                member.member_id, member.group_instance_id, RebalanceTrigger.POLL_TIMEOUT
            )
    if group.is_state(DEAD):
        return
    if not group.maybe_elect_new_joined_leader() and group.members:
        # Only static members remain and none rejoined: wait for them or their session timeout.
        logger.warning("group %s could not complete rebalance: no members rejoined", group.group_id)
        _schedule_join_expiry(group, ctx)
        return
    group.init_next_generation(ctx.now_ms)
    if group.is_state(EMPTY):
        logger.info("group %s with generation %d is now empty", group.group_id, group.generation_id)
        ctx.fx.records.append(group_metadata_record(group))
        complete_history(group, ctx)
        return
    logger.info(
        "stabilized group %s generation %d with %d members; awaiting the leader's assignment",
        group.group_id,
        group.generation_id,
        group.size,
    )
    for member in group.all_members():
        answer_join(
            ctx,
            group,
            member,
            current_generation(
                group, member.member_id, with_members=group.is_leader(member.member_id)
            ),
        )
        schedule_heartbeat(group, member, ctx)
        member.is_new = False
        group.pending_sync_members.add(member.member_id)
    ctx.fx.schedule(
        sync_key(group.group_id),
        ctx.now_ms + group.rebalance_timeout_ms,
        SyncExpiry(group.group_id, group.generation_id),
    )


def reset_and_propagate_assignment_error(
    group: ClassicGroup, error: ErrorCode, ctx: Context
) -> None:
    for member in group.all_members():
        member.assignment = b""
    propagate_assignment(group, error, ctx)


def propagate_assignment(group: ClassicGroup, error: ErrorCode, ctx: Context) -> None:
    ok = error is ErrorCode.none
    for member in group.all_members():
        if member.awaiting_sync:
            answer_sync(
                ctx,
                group,
                member,
                SyncGroupResult(
                    error,
                    group.protocol_type if ok else None,
                    group.protocol_name if ok else None,
                    member.assignment,
                ),
            )
            # Expiries seen while the member was parked were ignored; expect heartbeats now.
            schedule_heartbeat(group, member, ctx)


def complete_history(
    group: ClassicGroup, ctx: Context, *, outcome: str | None = None, persist: bool = True
) -> None:
    """Close the open rebalance (outcome: the group's state) and record it in the log."""
    entry = group.history.complete(
        group_id=group.group_id,
        generation_id=group.generation_id,
        outcome=outcome or group.state.value,
        protocol_name=group.protocol_name,
        members=group.assignment_sizes(),
        now_ms=ctx.now_ms,
    )
    if entry is not None and persist:
        ctx.fx.records.append(history_record(group.group_id, group.history, entry))


def schedule_heartbeat(
    group: ClassicGroup, member: ClassicMember, ctx: Context, timeout_ms: int | None = None
) -> None:
    deadline = ctx.now_ms + (member.session_timeout_ms if timeout_ms is None else timeout_ms)
    member.heartbeat_deadline_ms = deadline
    ctx.fx.schedule(
        heartbeat_key(group.group_id, member.member_id),
        deadline,
        HeartbeatExpiry(group.group_id, member.member_id, deadline),
    )


def remove_member_and_update_group(
    group: ClassicGroup, member: ClassicMember, ctx: Context, cause: RebalanceCause
) -> None:
    # A new member may time out while parked in JoinGroup: answer so it retries the join.
    answer_join(ctx, group, member, JoinGroupResult.error(ErrorCode.unknown_member_id))
    # Deviation: Kafka drops a parked SyncGroup of a removed member; we answer it.
    answer_sync(ctx, group, member, SyncGroupResult(ErrorCode.unknown_member_id))
    group.remove(member.member_id)
    ctx.fx.cancel(heartbeat_key(group.group_id, member.member_id))
    group.history.on_member_removed(member.member_id, member.group_instance_id, cause.trigger)
    if group.is_state(STABLE, COMPLETING):
        maybe_prepare_rebalance(group, ctx, cause)
    elif group.is_state(PREPARING):
        maybe_complete_join_phase(group, ctx)


def remove_pending_member(group: ClassicGroup, member_id: str, ctx: Context) -> None:
    group.remove(member_id)
    ctx.fx.cancel(heartbeat_key(group.group_id, member_id))
    maybe_complete_join_phase(group, ctx)


def fence_for_offset_reset(group: ClassicGroup, ctx: Context) -> None:
    """katka's live offset reset (docs/admin-api.md): end the current generation, so no member
    resumes from, or commits, the positions it had before the new committed offsets.

    The generation moves on at once: a heartbeat, commit or SyncGroup of the old one answers
    ILLEGAL_GENERATION, which Kafka's clients take as a lost assignment (dropped without a
    commit) before they rejoin and fetch the committed offsets. A member parked in JoinGroup or
    SyncGroup would come out of this rebalance still holding its partitions (cooperative), so
    it is removed (UNKNOWN_MEMBER_ID) and rejoins as a new member. The record says the group is
    empty at the new generation: after a crash every member rejoins as well.
    """
    cause = RebalanceCause(RebalanceTrigger.OFFSET_RESET, reason="offsets reset while consuming")
    if group.history.in_progress is not None:
        complete_history(group, ctx, outcome="Superseded")
    group.history.on_prepare(cause, ctx.now_ms)
    for member in list(group.members.values()):
        if member.awaiting_join or member.awaiting_sync:
            answer_join(ctx, group, member, JoinGroupResult.error(ErrorCode.unknown_member_id))
            answer_sync(ctx, group, member, SyncGroupResult(ErrorCode.unknown_member_id))
            group.remove(member.member_id)
            ctx.fx.cancel(heartbeat_key(group.group_id, member.member_id))
            group.history.on_member_removed(
                member.member_id, member.group_instance_id, RebalanceTrigger.OFFSET_RESET
            )
    group.pending_sync_members.clear()
    group.generation_id += 1
    logger.info(
        "offsets of group %s reset while consuming: generation %d fenced, members rejoin",
        group.group_id,
        group.generation_id - 1,
    )
    fenced = GroupSnapshot(group.protocol_type, group.generation_id, None, None, ctx.now_ms)
    ctx.fx.records.append(group_record(group.group_id, fenced))
    if not group.is_state(PREPARING):
        prepare_rebalance(group, ctx, cause)
    elif group.has_all_members_joined():
        ctx.fx.cancel(join_key(group.group_id))
        complete_join(group, ctx)
    else:
        _schedule_join_expiry(group, ctx)  # the one scheduled captured the old generation


# --- timers ------------------------------------------------------------------------------


def on_timer(group: ClassicGroup, event: ClassicTimerEvent, ctx: Context) -> None:
    """Run a fired timer; events whose generation or member deadline moved on do nothing."""
    if group.is_state(DEAD):
        return
    if isinstance(event, HeartbeatExpiry):
        _on_heartbeat_expiry(group, event, ctx)
    elif isinstance(event, JoinExpiry):
        _on_join_expiry(group, event, ctx)
    else:
        _on_sync_expiry(group, event, ctx)


def _on_heartbeat_expiry(group: ClassicGroup, event: HeartbeatExpiry, ctx: Context) -> None:
    if event.pending:
        if group.pending_members.get(event.member_id) == event.deadline_ms:
            logger.info(
                "pending member %s of group %s removed after session timeout",
                event.member_id,
                group.group_id,
            )
            remove_pending_member(group, event.member_id, ctx)
        return
    member = group.members.get(event.member_id)
    if member is None or member.heartbeat_deadline_ms != event.deadline_ms:
        return
    if not member.has_satisfied_heartbeat():
        logger.info(
            "member %s of group %s failed its session timeout; removing it",
            member.member_id,
            group.group_id,
        )
        remove_member_and_update_group(
            group, member, ctx, cause_of(RebalanceTrigger.SESSION_TIMEOUT, member, None)
        )


def _on_join_expiry(group: ClassicGroup, event: JoinExpiry, ctx: Context) -> None:
    if not group.is_state(PREPARING) or group.generation_id != event.generation_id:
        return
    if event.initial_delay_ms is not None and group.new_member_added and event.remaining_ms != 0:
        # New members keep arriving: wait another delay, up to the rebalance timeout.
        group.new_member_added = False
        delay = min(ctx.config.group_initial_rebalance_delay_ms, event.remaining_ms)
        remaining = max(event.remaining_ms - event.initial_delay_ms, 0)
        ctx.fx.schedule(
            join_key(group.group_id),
            ctx.now_ms + delay,
            JoinExpiry(group.group_id, group.generation_id, delay, remaining),
        )
        return
    complete_join(group, ctx)


def _on_sync_expiry(group: ClassicGroup, event: SyncExpiry, ctx: Context) -> None:
    if group.generation_id != event.generation_id or not group.is_state(COMPLETING, STABLE):
        return
    if not group.pending_sync_members:
        return
    missing = [group.members[m] for m in sorted(group.pending_sync_members) if m in group.members]
    logger.info(
        "group %s removes members %s that did not send SyncGroup within the rebalance timeout",
        group.group_id,
        [m.member_id for m in missing],
    )
    for member in missing:
        group.remove(member.member_id)
        ctx.fx.cancel(heartbeat_key(group.group_id, member.member_id))
        group.history.on_member_removed(
            member.member_id, member.group_instance_id, RebalanceTrigger.POLL_TIMEOUT
        )
    group.pending_sync_members.clear()
    first = missing[0] if missing else None
    cause = (
        cause_of(RebalanceTrigger.POLL_TIMEOUT, first, None)
        if first is not None
        else RebalanceCause(RebalanceTrigger.POLL_TIMEOUT)
    )
    prepare_rebalance(group, ctx, cause)


# --- persistence -------------------------------------------------------------------------


def snapshot_of(group: ClassicGroup) -> GroupSnapshot:
    protocol = group.protocol_name
    return GroupSnapshot(
        protocol_type=group.protocol_type,
        generation_id=group.generation_id,
        protocol_name=protocol,
        leader_id=group.leader_id,
        current_state_timestamp_ms=group.state_changed_ms,
        members=tuple(
            MemberSnapshot(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                rebalance_timeout_ms=m.rebalance_timeout_ms,
                session_timeout_ms=m.session_timeout_ms,
                subscription=m.metadata(protocol) if protocol is not None else b"",
                assignment=m.assignment,
            )
            for m in group.members.values()
        ),
    )


def group_metadata_record(group: ClassicGroup) -> Record:
    return group_record(group.group_id, snapshot_of(group))


def load_group(group_id: str, snapshot: GroupSnapshot, ctx: Context) -> ClassicGroup:
    """Rebuild a group from its last metadata record, as Kafka does on coordinator load.

    A group with members comes back Stable at its stored generation and every member gets a
    fresh session timeout: live members keep heartbeating, dead ones expire and the group
    rebalances.
    """
    has_members = bool(snapshot.members) and snapshot.protocol_name is not None
    group = ClassicGroup(
        group_id,
        snapshot.current_state_timestamp_ms,
        state=STABLE if has_members else EMPTY,
        history_size=ctx.config.rebalance_history_size,
    )
    group.generation_id = snapshot.generation_id
    if has_members:
        assert snapshot.protocol_name is not None
        for m in snapshot.members:
            group.add(
                ClassicMember(
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    rebalance_timeout_ms=m.rebalance_timeout_ms,
                    session_timeout_ms=m.session_timeout_ms,
                    protocol_type=snapshot.protocol_type or "",
                    protocols=((snapshot.protocol_name, m.subscription),),
                    assignment=m.assignment,
                )
            )
        group.protocol_name = snapshot.protocol_name
        if snapshot.leader_id in group.members:
            group.leader_id = snapshot.leader_id
    group.protocol_type = snapshot.protocol_type
    group.subscribed_topics = group.compute_subscribed_topics()
    for member in group.all_members():
        schedule_heartbeat(group, member, ctx)
    return group


def mark_dead(group: ClassicGroup, ctx: Context) -> None:
    """The group is being removed (DeleteGroups, or an Empty group with no offsets left)."""
    for member_id in list(group.pending_members):
        ctx.fx.cancel(heartbeat_key(group.group_id, member_id))
    group.pending_members.clear()
    ctx.fx.cancel(join_key(group.group_id))
    ctx.fx.cancel(sync_key(group.group_id))
    group.transition_to(DEAD, ctx.now_ms)
    complete_history(group, ctx, persist=False)  # the group's records go with it
