"""Target assignment and reconciliation of KIP-848 consumer groups.

Theory of operation (Kafka 4.0's TargetAssignmentBuilder and CurrentAssignmentBuilder): when the
group epoch moves ahead of the target assignment epoch, the server-side assignor (assignors.py)
computes a new target for the whole group and only what changed is persisted. Each member then
converges on its own heartbeats: partitions it must give up are revoked first (the member keeps
its epoch until its heartbeat no longer reports them), partitions still owned by another member
are withheld until released, everything else is handed over with the target epoch. So no
partition is ever owned twice, and members that have not converged keep consuming what they own.

The rebalance history of a consumer group (history.py) opens with each group epoch bump and
closes when every member has converged, the group empties, or a newer epoch supersedes it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from katka.coordinator.consumer.assignors import ASSIGNORS, MemberSpec
from katka.coordinator.consumer.group import (
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    NO_PARTITIONS,
    ConsumerGroup,
    ConsumerGroupState,
    ConsumerMember,
    MemberState,
    Partitions,
    member_topics,
)
from katka.coordinator.consumer.timeouts import RebalanceExpiry, rebalance_key
from katka.coordinator.effects import Context
from katka.coordinator.history import RebalanceCause
from katka.coordinator.history_records import history_record
from katka.coordinator.records import (
    ConsumerGroupMetadataValue,
    consumer_current_assignment_record,
    consumer_group_metadata_records,
    consumer_target_member_record,
    consumer_target_metadata_record,
)

logger = logging.getLogger("katka.coordinator")


# --- group epoch and target assignment ----------------------------------------------------------


def bump_group_epoch(
    group: ConsumerGroup,
    metadata: tuple[tuple[str, uuid.UUID, int], ...],
    cause: RebalanceCause,
    ctx: Context,
) -> None:
    if group.history.in_progress is not None:
        # A newer epoch arrived before every member converged to the previous one.
        _complete_history(group, "Superseded", group.group_epoch, ctx)
    group.group_epoch += 1
    group.subscription_metadata = metadata
    ctx.fx.records.extend(
        consumer_group_metadata_records(
            group.group_id, ConsumerGroupMetadataValue(group.group_epoch, metadata)
        )
    )
    group.history.on_prepare(cause, ctx.now_ms)
    logger.info(
        "consumer group %s bumped its epoch to %d (trigger=%s member=%s%s)",
        group.group_id,
        group.group_epoch,
        cause.trigger.value,
        cause.member_id or "-",
        f" reason={cause.reason!r}" if cause.reason else "",
    )


def update_target_assignment(group: ConsumerGroup, ctx: Context) -> None:
    assignor_name = group.preferred_assignor(ctx.config.consumer_assignors[0])
    topic_ids = {topic_id: partitions for _, topic_id, partitions in group.subscription_metadata}
    ids_by_name = {name: topic_id for name, topic_id, _ in group.subscription_metadata}
    specs = {
        m.member_id: MemberSpec(
            m.member_id,
            m.instance_id,
            frozenset(
                ids_by_name[name] for name in member_topics(m, ctx.topics) if name in ids_by_name
            ),
            group.target.get(m.member_id, NO_PARTITIONS),
        )
        for m in group.members.values()
    }
    new_target = ASSIGNORS[assignor_name](specs, topic_ids)
    for member_id, partitions in new_target.items():
        if group.target.get(member_id) != partitions:
            group.target[member_id] = partitions
            ctx.fx.records.append(
                consumer_target_member_record(group.group_id, member_id, partitions)
            )
    group.assignment_epoch = group.group_epoch
    group.assignor_name = assignor_name
    ctx.fx.records.append(
        consumer_target_metadata_record(group.group_id, group.assignment_epoch, ctx.now_ms)
    )
    logger.info(
        "consumer group %s computed a new target assignment for epoch %d with the %s assignor: %s",
        group.group_id,
        group.assignment_epoch,
        assignor_name,
        {m: len(p) for m, p in new_target.items()},
    )


# --- reconciliation (Kafka's CurrentAssignmentBuilder) -----------------------------------------


@dataclass(frozen=True, slots=True)
class NextAssignment:
    state: MemberState
    member_epoch: int
    assigned: Partitions
    pending_revocation: Partitions


def _owns_any(owned: Partitions | None, partitions: Partitions) -> bool:
    # A member that did not report what it owns is assumed to still own everything.
    return owned is None or not owned.isdisjoint(partitions)


def compute_next_assignment(
    group: ConsumerGroup,
    member: ConsumerMember,
    member_epoch: int,
    owned: Partitions | None,
) -> NextAssignment:
    target = group.target.get(member.member_id, NO_PARTITIONS)
    target_epoch = group.assignment_epoch
    kept = member.assigned & target
    to_revoke = member.assigned - kept
    to_assign = target - kept
    # A partition another member still owns is withheld until that member releases it.
    unreleased = frozenset(
        tp for tp in to_assign if group.owner(tp) not in (None, member.member_id)
    )
    to_assign -= unreleased
    if to_revoke and _owns_any(owned, to_revoke):
        return NextAssignment(MemberState.UNREVOKED_PARTITIONS, member_epoch, kept, to_revoke)
    state = MemberState.UNRELEASED_PARTITIONS if unreleased else MemberState.STABLE
    return NextAssignment(state, target_epoch, kept | to_assign, NO_PARTITIONS)


def reconcile(
    group: ConsumerGroup, member: ConsumerMember, owned: Partitions | None, ctx: Context
) -> bool:
    """Move `member` one step towards its target; True if anything changed (and was recorded)."""
    if member.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
        return False
    if member.is_reconciled_to(group.assignment_epoch):
        return False
    if member.state is MemberState.UNREVOKED_PARTITIONS:
        if _owns_any(owned, member.pending_revocation):
            return False
        step = compute_next_assignment(group, member, member.member_epoch + 1, owned)
    else:
        step = compute_next_assignment(group, member, member.member_epoch, owned)
    unchanged = (
        step.state is member.state
        and step.member_epoch == member.member_epoch
        and step.assigned == member.assigned
        and step.pending_revocation == member.pending_revocation
    )
    if unchanged:
        return False
    member.previous_member_epoch, member.member_epoch = member.member_epoch, step.member_epoch
    member.state = step.state
    group.set_assignment(member, step.assigned, step.pending_revocation, ctx.now_ms)
    ctx.fx.records.append(
        consumer_current_assignment_record(
            group.group_id, member.member_id, member.assignment_value()
        )
    )
    logger.info(
        "consumer group %s member %s: epoch=%d previous_epoch=%d state=%s assigned=%d "
        "pending_revocation=%d",
        group.group_id,
        member.member_id,
        member.member_epoch,
        member.previous_member_epoch,
        member.state.value,
        len(member.assigned),
        len(member.pending_revocation),
    )
    if member.state is MemberState.UNREVOKED_PARTITIONS:
        ctx.fx.schedule(
            rebalance_key(group.group_id, member.member_id),
            ctx.now_ms + member.rebalance_timeout_ms,
            RebalanceExpiry(group.group_id, member.member_id, member.member_epoch),
        )
    else:
        ctx.fx.cancel(rebalance_key(group.group_id, member.member_id))
    return True


# --- history ---------------------------------------------------------------------------------


def maybe_complete_history(group: ConsumerGroup, ctx: Context) -> None:
    """Close the open rebalance once every member converged (Stable), or the group emptied."""
    state = group.note_state(ctx.now_ms)
    if group.history.in_progress is None:
        return
    if state is ConsumerGroupState.STABLE:
        _complete_history(group, "Stable", group.assignment_epoch, ctx)
    elif state is ConsumerGroupState.EMPTY:
        _complete_history(group, "Empty", group.group_epoch, ctx)


def _complete_history(group: ConsumerGroup, outcome: str, epoch: int, ctx: Context) -> None:
    pauses = group.pauses
    still_paused = [ctx.now_ms - released for released in pauses.released_ms.values()]
    stopped = max([pauses.longest_pause_ms, *still_paused]) if outcome != "Empty" else 0
    entry = group.history.complete(
        group_id=group.group_id,
        generation_id=epoch,
        outcome=outcome,
        protocol_name=group.assignor_name or None,
        members=group.assignment_sizes(),
        now_ms=ctx.now_ms,
        stopped_ms=stopped,
    )
    if entry is not None:
        ctx.fx.records.append(history_record(group.group_id, group.history, entry))
    if outcome != "Superseded":
        pauses.longest_pause_ms = 0
        if outcome == "Empty":
            pauses.released_ms.clear()
