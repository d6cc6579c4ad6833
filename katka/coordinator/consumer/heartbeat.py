"""The KIP-848 consumer group protocol: ConsumerGroupHeartbeat as plain functions.

Theory of operation (Kafka 4.0's GroupMetadataManager.consumerGroupHeartbeat and
CurrentAssignmentBuilder). Every heartbeat runs three steps against a group and a Context
(now_ms, config, the topic image and an effects collector), never awaiting anything:
  1. update the member (a member joins with epoch 0; null request fields mean "unchanged") and
     bump the group epoch if a subscription, or the metadata of a subscribed topic, changed;
  2. if the group epoch is ahead of the target assignment epoch, run the server-side assignor
     (assignors.py) for the whole group and persist what changed;
  3. reconcile this member towards its target (reconciliation.py).
Leaving (epoch -1) and session or rebalance timeouts remove the member and bump the group epoch;
a static member's epoch -2 keeps its place (and partitions) until its session times out, and a
new member with the same instance id takes over its assignment without a new target.

Errors are raised as KafkaError before the group is touched; records (records.py) and named
timers are collected in the effects and executed by the service (manager.py routes them).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer.group import (
    LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    NO_PARTITIONS,
    ConsumerGroup,
    ConsumerMember,
    MemberState,
    Partitions,
    compile_regex,
    subscription_metadata,
)
from katka.coordinator.consumer.reconciliation import (
    bump_group_epoch,
    maybe_complete_history,
    reconcile,
    update_target_assignment,
)
from katka.coordinator.consumer.timeouts import (
    ConsumerTimerEvent,
    RebalanceExpiry,
    SessionExpiry,
    rebalance_key,
    session_key,
)
from katka.coordinator.effects import Context
from katka.coordinator.history import RebalanceCause, RebalanceTrigger
from katka.coordinator.records import (
    consumer_current_assignment_record,
    consumer_member_metadata_record,
    consumer_member_tombstones,
    consumer_target_member_record,
)
from katka.errors import ErrorCode, KafkaError

logger = logging.getLogger("katka.coordinator")


@dataclass(frozen=True, slots=True)
class HeartbeatRequest:
    """ConsumerGroupHeartbeat's fields; None means "unchanged since the last heartbeat"."""

    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: tuple[str, ...] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    owned_partitions: Partitions | None = None
    client_id: str = ""
    client_host: str = ""
    # ConsumerGroupHeartbeat v1+: clients name themselves; v0 lets the coordinator name them.
    member_id_required: bool = True


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    error_code: ErrorCode
    error_message: str | None = None
    member_id: str | None = None
    member_epoch: int = 0
    heartbeat_interval_ms: int = 0
    assignment: Partitions | None = None  # None: unchanged, not sent

    @classmethod
    def error(cls, error: KafkaError) -> HeartbeatResponse:
        return cls(error.code, error.message)


# --- validation ------------------------------------------------------------------------------


def validate_request(req: HeartbeatRequest, config: CoordinatorConfig) -> None:
    """Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid; raises KafkaError."""

    def invalid(message: str) -> KafkaError:
        return KafkaError(ErrorCode.invalid_request, message)

    if (
        req.member_id_required
        or req.member_epoch > 0
        or req.member_epoch == LEAVE_GROUP_MEMBER_EPOCH
    ) and not req.member_id:
        raise invalid("MemberId can't be empty.")
    if not req.group_id:
        raise invalid("GroupId can't be empty.")
    if req.instance_id == "":
        raise invalid("InstanceId can't be empty.")
    if req.rack_id == "":
        raise invalid("RackId can't be empty.")
    if req.member_epoch == 0:
        if req.rebalance_timeout_ms == -1:
            raise invalid("RebalanceTimeoutMs must be provided in first request.")
        if req.owned_partitions is None or req.owned_partitions:
            raise invalid("TopicPartitions must be empty when (re-)joining.")
        if req.subscribed_topic_names is None and req.subscribed_topic_regex is None:
            raise invalid(
                "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null "
                "when (re-)joining."
            )
    elif req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
        if req.instance_id is None:
            raise invalid("InstanceId can't be null.")
    elif req.member_epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH:
        raise invalid("MemberEpoch is invalid.")
    if req.subscribed_topic_regex and compile_regex(req.subscribed_topic_regex) is None:
        raise KafkaError(
            ErrorCode.invalid_regular_expression,
            f"SubscribedTopicRegex `{req.subscribed_topic_regex}` is not a valid regular "
            "expression.",
        )
    if req.server_assignor is not None and req.server_assignor not in config.consumer_assignors:
        raise KafkaError(
            ErrorCode.unsupported_assignor,
            f"ServerAssignor {req.server_assignor} is not supported. Supported assignors: "
            f"{', '.join(config.consumer_assignors)}.",
        )


def _fenced_epoch(received: int, member: ConsumerMember, owned: Partitions | None) -> None:
    """Kafka's throwIfConsumerGroupMemberEpochIsInvalid."""
    if received > member.member_epoch:
        raise KafkaError(
            ErrorCode.fenced_member_epoch,
            f"The consumer group member has a greater member epoch ({received}) than the one "
            f"known by the group coordinator ({member.member_epoch}). The member must abandon "
            "all its partitions and rejoin.",
        )
    if received < member.member_epoch and (
        # The response carrying the new epoch may have been lost: accept the previous epoch
        # while the member owns nothing beyond its current assignment.
        received != member.previous_member_epoch or owned is None or not owned <= member.assigned
    ):
        raise KafkaError(
            ErrorCode.fenced_member_epoch,
            f"The consumer group member has a smaller member epoch ({received}) than the one "
            f"known by the group coordinator ({member.member_epoch}). The member must abandon "
            "all its partitions and rejoin.",
        )


def _unknown_member(group: ConsumerGroup, member_id: str) -> KafkaError:
    return KafkaError(
        ErrorCode.unknown_member_id,
        f"Member {member_id} is not a member of group {group.group_id}.",
    )


def _static_member_checks(group: ConsumerGroup, req: HeartbeatRequest) -> ConsumerMember:
    """A non-joining static member must be the current holder of its instance id."""
    assert req.instance_id is not None
    member = group.static_member(req.instance_id)
    if member is None:
        raise KafkaError(ErrorCode.unknown_member_id, f"Instance id {req.instance_id} is unknown.")
    if member.member_id != req.member_id:
        raise KafkaError(
            ErrorCode.fenced_instance_id,
            f"Static member {req.member_id} with instance id {req.instance_id} was fenced by "
            f"member {member.member_id}.",
        )
    return member


# --- heartbeat -------------------------------------------------------------------------------


def heartbeat(group: ConsumerGroup, req: HeartbeatRequest, ctx: Context) -> HeartbeatResponse:
    """A validated heartbeat (not a leave) for an existing or just created group."""
    member_id = req.member_id or str(uuid.uuid4())  # v0: the coordinator names new members
    if (
        len(group.members) >= ctx.config.consumer_max_size
        and member_id not in group.members
        and not _is_static_rejoin(group, req)
    ):
        raise KafkaError(
            ErrorCode.group_max_size_reached,
            "The consumer group has reached its maximum capacity of "
            f"{ctx.config.consumer_max_size} members.",
        )
    member, previous = _get_or_create_member(group, req, member_id, ctx)
    assigned_before = member.assigned
    joined = previous is None
    cause = _cause(RebalanceTrigger.JOIN if joined else RebalanceTrigger.METADATA_CHANGE, member)

    # 1. Update the member; bump the group epoch if what the assignor sees changed.
    def subscription(m: ConsumerMember) -> tuple[object, ...]:
        return (m.subscribed_topic_names, m.subscribed_topic_regex, m.server_assignor)

    # A static member taking over compares with the member it replaces.
    subscription_before = ((), None, None) if previous is None else subscription(previous)
    metadata_before = None if previous is not member else member.metadata_value()
    _update_member(group, member, req)
    if member.metadata_value() != metadata_before:
        ctx.fx.records.append(
            consumer_member_metadata_record(
                group.group_id, member.member_id, member.metadata_value()
            )
        )
    bump = subscription(member) != subscription_before
    metadata = subscription_metadata(group.subscribed_topic_names(ctx.topics), ctx.topics)
    if metadata != group.subscription_metadata:
        if not bump and not joined:
            cause = _cause(RebalanceTrigger.METADATA_CHANGE, member, "topic metadata changed")
        bump = True
    if bump:
        bump_group_epoch(group, metadata, cause, ctx)

    # 2. A new target assignment when the group epoch moved on.
    if group.group_epoch > group.assignment_epoch:
        update_target_assignment(group, ctx)

    # 3. Move the member towards its target.
    owned = req.owned_partitions if req.member_epoch != 0 else NO_PARTITIONS
    changed = reconcile(group, member, owned, ctx)
    if joined and not changed:
        ctx.fx.records.append(
            consumer_current_assignment_record(
                group.group_id, member.member_id, member.assignment_value()
            )
        )
    schedule_session_timeout(group, member, ctx)
    maybe_complete_history(group, ctx)
    send_assignment = (
        req.owned_partitions is not None
        or req.member_epoch == 0
        or member.assigned != assigned_before
    )
    return HeartbeatResponse(
        ErrorCode.none,
        member_id=member.member_id,
        member_epoch=member.member_epoch,
        heartbeat_interval_ms=ctx.heartbeat_interval_ms(group.group_id),
        assignment=member.assigned if send_assignment else None,
    )


def _is_static_rejoin(group: ConsumerGroup, req: HeartbeatRequest) -> bool:
    if req.instance_id is None or req.member_epoch != 0:
        return False
    existing = group.static_member(req.instance_id)
    return existing is not None and existing.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH


def _get_or_create_member(
    group: ConsumerGroup, req: HeartbeatRequest, member_id: str, ctx: Context
) -> tuple[ConsumerMember, ConsumerMember | None]:
    """The member and what it was before this heartbeat: None if new, else the old object.

    A static member replacing a departed one (-2) comes back as (new member, old member).
    """
    joining = req.member_epoch == 0
    if req.instance_id is not None and not (joining and member_id in group.members):
        if not joining:
            member = _static_member_checks(group, req)
            _fenced_epoch(req.member_epoch, member, req.owned_partitions)
            return member, member
        existing = group.static_member(req.instance_id)
        if existing is None:
            logger.info(
                "static member %s with instance id %s joins consumer group %s",
                member_id,
                req.instance_id,
                group.group_id,
            )
            return _new_member(group, member_id), None
        if existing.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            raise KafkaError(
                ErrorCode.unreleased_instance_id,
                f"Static member {member_id} with instance id {req.instance_id} cannot join the "
                f"group because the instance id is owned by {existing.member_id} member.",
            )
        return _replace_static_member(group, existing, member_id, ctx), existing
    known = group.members.get(member_id)
    if known is None:
        if not joining:
            raise _unknown_member(group, member_id)
        logger.info("member %s joins consumer group %s", member_id, group.group_id)
        return _new_member(group, member_id), None
    member = known
    if not joining:
        _fenced_epoch(req.member_epoch, member, req.owned_partitions)
    else:
        # Deviation: Kafka fences a known member rejoining with epoch 0; clients rejoin that
        # way after FENCED_MEMBER_EPOCH with their member id, having released everything, so
        # we hand them their current assignment instead of fencing them again.
        logger.info("member %s rejoins consumer group %s", member_id, group.group_id)
    return member, member


def _new_member(group: ConsumerGroup, member_id: str) -> ConsumerMember:
    member = ConsumerMember(member_id)
    group.add_member(member)
    return member


def _replace_static_member(
    group: ConsumerGroup, old: ConsumerMember, member_id: str, ctx: Context
) -> ConsumerMember:
    """The new member takes over the old one's assignment and target, at epoch 0."""
    logger.info(
        "static member %s with instance id %s rejoins consumer group %s, replacing %s",
        member_id,
        old.instance_id,
        group.group_id,
        old.member_id,
    )
    target = group.target.get(old.member_id, NO_PARTITIONS)
    ctx.fx.records.extend(consumer_member_tombstones(group.group_id, old.member_id))
    cancel_timers(group, old.member_id, ctx)
    group.remove_member(old.member_id)
    member = ConsumerMember(
        member_id,
        instance_id=old.instance_id,
        rack_id=old.rack_id,
        client_id=old.client_id,
        client_host=old.client_host,
        subscribed_topic_names=old.subscribed_topic_names,
        subscribed_topic_regex=old.subscribed_topic_regex,
        server_assignor=old.server_assignor,
        rebalance_timeout_ms=old.rebalance_timeout_ms,
        assigned=old.assigned,
    )
    group.add_member(member)
    group.target[member_id] = target
    ctx.fx.records.append(consumer_target_member_record(group.group_id, member_id, target))
    return member


def _update_member(group: ConsumerGroup, member: ConsumerMember, req: HeartbeatRequest) -> None:
    if req.instance_id is not None and req.instance_id != member.instance_id:
        group.update_instance_id(member, req.instance_id)
    if req.rack_id is not None:
        member.rack_id = req.rack_id
    if req.rebalance_timeout_ms != -1:
        member.rebalance_timeout_ms = req.rebalance_timeout_ms
    if req.server_assignor is not None:
        member.server_assignor = req.server_assignor
    if req.subscribed_topic_names is not None:
        member.subscribed_topic_names = tuple(sorted(set(req.subscribed_topic_names)))
    if req.subscribed_topic_regex is not None:
        member.subscribed_topic_regex = req.subscribed_topic_regex or None  # "" clears it
    member.client_id = req.client_id
    member.client_host = req.client_host


def _cause(
    trigger: RebalanceTrigger, member: ConsumerMember | None, reason: str | None = None
) -> RebalanceCause:
    if member is None:
        return RebalanceCause(trigger, reason=reason)
    return RebalanceCause(trigger, member.member_id, member.client_id, member.instance_id, reason)


# --- leaving, fencing and timers ----------------------------------------------------------------


def leave(group: ConsumerGroup, req: HeartbeatRequest, ctx: Context) -> HeartbeatResponse:
    """Epoch -1 (leave) or -2 (a static member's temporary leave)."""
    if req.instance_id is None:
        member = group.members.get(req.member_id)
        if member is None:
            raise _unknown_member(group, req.member_id)
        logger.info("member %s left consumer group %s", member.member_id, group.group_id)
        fence_member(group, member, _cause(RebalanceTrigger.LEAVE, member), ctx)
    else:
        member = _static_member_checks(group, req)
        if req.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            logger.info(
                "static member %s with instance id %s temporarily left consumer group %s",
                member.member_id,
                member.instance_id,
                group.group_id,
            )
            # It keeps its place and its partitions until its session times out.
            member.previous_member_epoch = member.member_epoch
            member.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH
            member.state = MemberState.STABLE
            group.set_assignment(member, member.assigned, NO_PARTITIONS, ctx.now_ms)
            ctx.fx.cancel(rebalance_key(group.group_id, member.member_id))
            ctx.fx.records.append(
                consumer_current_assignment_record(
                    group.group_id, member.member_id, member.assignment_value()
                )
            )
        else:
            logger.info(
                "static member %s with instance id %s left consumer group %s",
                member.member_id,
                member.instance_id,
                group.group_id,
            )
            fence_member(group, member, _cause(RebalanceTrigger.LEAVE, member), ctx)
    maybe_complete_history(group, ctx)
    return HeartbeatResponse(ErrorCode.none, member_id=req.member_id, member_epoch=req.member_epoch)


def fence_member(
    group: ConsumerGroup, member: ConsumerMember, cause: RebalanceCause, ctx: Context
) -> None:
    """Remove a member (leave, session or rebalance timeout) and bump the group epoch."""
    ctx.fx.records.extend(consumer_member_tombstones(group.group_id, member.member_id))
    cancel_timers(group, member.member_id, ctx)
    group.remove_member(member.member_id, ctx.now_ms)
    group.history.on_member_removed(member.member_id, member.instance_id, cause.trigger)
    metadata = subscription_metadata(group.subscribed_topic_names(ctx.topics), ctx.topics)
    bump_group_epoch(group, metadata, cause, ctx)
    maybe_complete_history(group, ctx)


def fence_for_offset_reset(group: ConsumerGroup, ctx: Context) -> None:
    """katka's live offset reset (docs/admin-api.md): a new group epoch, every member fenced.

    Each member's epoch moves to the new one without an assignment, so its next heartbeat with
    the old epoch answers FENCED_MEMBER_EPOCH (and its commits STALE_MEMBER_EPOCH): Kafka's
    clients drop their partitions as lost, without a commit, and rejoin with epoch 0; the member
    then gets its target back and fetches the committed offsets. Until it rejoins it owns
    nothing and is not reconciled (the group is not Stable), and its rebalance timeout fences
    it for good if it never comes back. The records make the fence hold after a crash.
    """
    cause = RebalanceCause(RebalanceTrigger.OFFSET_RESET, reason="offsets reset while consuming")
    metadata = subscription_metadata(group.subscribed_topic_names(ctx.topics), ctx.topics)
    bump_group_epoch(group, metadata, cause, ctx)
    update_target_assignment(group, ctx)
    for member in group.members.values():
        if member.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            continue  # gone for now: a static member coming back starts afresh anyway
        member.previous_member_epoch = member.member_epoch = group.assignment_epoch
        member.state = MemberState.UNREVOKED_PARTITIONS
        group.set_assignment(member, NO_PARTITIONS, NO_PARTITIONS, ctx.now_ms)
        ctx.fx.records.append(
            consumer_current_assignment_record(
                group.group_id, member.member_id, member.assignment_value()
            )
        )
        ctx.fx.schedule(
            rebalance_key(group.group_id, member.member_id),
            ctx.now_ms + member.rebalance_timeout_ms,
            RebalanceExpiry(group.group_id, member.member_id, member.member_epoch),
        )
    maybe_complete_history(group, ctx)


def cancel_timers(group: ConsumerGroup, member_id: str, ctx: Context) -> None:
    ctx.fx.cancel(session_key(group.group_id, member_id))
    ctx.fx.cancel(rebalance_key(group.group_id, member_id))


def schedule_session_timeout(group: ConsumerGroup, member: ConsumerMember, ctx: Context) -> None:
    deadline = ctx.now_ms + ctx.session_timeout_ms(group.group_id)
    member.session_deadline_ms = deadline
    ctx.fx.schedule(
        session_key(group.group_id, member.member_id),
        deadline,
        SessionExpiry(group.group_id, member.member_id, deadline),
    )


def on_timer(group: ConsumerGroup, event: ConsumerTimerEvent, ctx: Context) -> None:
    """A fired timer; one whose member, deadline or epoch moved on does nothing."""
    member = group.members.get(event.member_id)
    if member is None or group.dead:
        return
    if isinstance(event, SessionExpiry):
        if member.session_deadline_ms != event.deadline_ms:
            return
        logger.info(
            "member %s of consumer group %s failed its session timeout; fencing it",
            member.member_id,
            group.group_id,
        )
        fence_member(group, member, _cause(RebalanceTrigger.SESSION_TIMEOUT, member), ctx)
        return
    if (
        member.state is not MemberState.UNREVOKED_PARTITIONS
        or member.member_epoch != event.member_epoch
    ):
        return
    logger.info(
        "member %s of consumer group %s did not revoke its partitions within %d ms; fencing it",
        member.member_id,
        group.group_id,
        member.rebalance_timeout_ms,
    )
    fence_member(
        group,
        member,
        _cause(
            RebalanceTrigger.POLL_TIMEOUT, member, "rebalance timeout: revocation not acknowledged"
        ),
        ctx,
    )
