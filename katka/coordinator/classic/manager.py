"""ClassicGroupManager: the classic groups, their parked replies, replay and admin views.

Theory of operation: the manager owns the classic groups (a group id names a classic group or a
group of another protocol, never both) and runs the domain functions of join.py, membership.py
and rebalance.py with the service's Context. It never appends or schedules anything itself:
what an operation decides is in the Context's effects, which the service executes (records,
then timers) before calling `on_executed`, where the parked JoinGroup/SyncGroup replies the
effects name are answered.

Replay: `apply` keeps the last metadata record of every group; during a load it also keeps the
decoded snapshots, and `finish_load` rebuilds each group from its last one (Stable with members
whose sessions restart, or Empty). At run time a group record only makes durable what the
domain already did. Groups that hold only offsets (standalone consumers, admin tools) are Empty
classic groups without a protocol type, as Kafka's "simple" groups; the service `adopt`s them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from katka.coordinator.classic import membership, rebalance
from katka.coordinator.classic.consumer_protocol import PROTOCOL_TYPE
from katka.coordinator.classic.group import ClassicGroup
from katka.coordinator.classic.join import join_group
from katka.coordinator.classic.requests import JoinGroupRequest, SyncGroupRequest
from katka.coordinator.classic.state import COMPLETING, DEAD, EMPTY, PREPARING, STABLE
from katka.coordinator.classic.timeouts import HeartbeatExpiry, JoinExpiry, SyncExpiry
from katka.coordinator.classic.views import describe_group, group_summary
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.effects import Context, Effects, TimerEvent
from katka.coordinator.history import RebalanceRecord
from katka.coordinator.history_records import HistoryStore
from katka.coordinator.offsets import (
    OffsetCommitter,
    OffsetStore,
    TopicPartition,
    expired_partitions,
)
from katka.coordinator.records import (
    ConsumerGroupKey,
    GroupKey,
    GroupSnapshot,
    OffsetValue,
    Record,
    decode_group_value,
    group_key,
    group_record,
    group_tombstone,
)
from katka.coordinator.reply import Reply
from katka.coordinator.results import (
    DescribedGroup,
    GroupSummary,
    JoinGroupResult,
    LeaveGroupResult,
    LeaveMember,
    ListedGroup,
    MemberLeaveResult,
    Parked,
    SyncGroupResult,
)
from katka.errors import ErrorCode, KafkaError

CONSUMING = (PREPARING, COMPLETING, STABLE)

WaiterKey = tuple[str, str]  # (group id, member id)
T = TypeVar("T")


def _park(waiters: dict[WaiterKey, Reply[T]], key: WaiterKey) -> Reply[T]:
    """A reply that a later operation's effects answer; forgotten if its waiter goes away."""
    reply: Reply[T] = Reply()
    waiters[key] = reply

    def forget() -> None:
        if waiters.get(key) is reply:
            del waiters[key]

    reply.on_abandon = forget
    return reply


class ClassicGroupManager:
    group_type = "classic"  # ListGroups v5+
    record_key = GroupKey

    def __init__(
        self, config: CoordinatorConfig, offsets: OffsetStore, histories: HistoryStore
    ) -> None:
        self.config = config
        self._offsets = offsets
        self._histories = histories
        self.groups: dict[str, ClassicGroup] = {}
        self._values: dict[str, bytes] = {}  # the last group metadata record per group
        self._loading: dict[str, GroupSnapshot] | None = None
        self._join_waiters: dict[WaiterKey, Reply[JoinGroupResult]] = {}
        self._sync_waiters: dict[WaiterKey, Reply[SyncGroupResult]] = {}

    # --- ownership -------------------------------------------------------------------------

    def owns(self, group_id: str) -> bool:
        return group_id in self.groups

    def is_empty(self, group_id: str) -> bool:
        group = self.groups.get(group_id)
        return group is None or (group.is_state(EMPTY) and not group.pending_members)

    def remove_group(self, group_id: str, ctx: Context) -> None:
        """Forget a group and its metadata record (its offsets are the caller's business)."""
        group = self.groups.pop(group_id)
        rebalance.mark_dead(group, ctx)
        if group_id in self._values:
            ctx.fx.records.append(group_tombstone(group_id))
        ctx.fx.records.extend(self._histories.tombstones(group_id))

    def delete_group(self, group_id: str, ctx: Context) -> ErrorCode:
        """DeleteGroups: only an Empty group may go."""
        if not self.groups[group_id].is_state(EMPTY):
            return ErrorCode.non_empty_group
        self.remove_group(group_id, ctx)
        return ErrorCode.none

    def adopt(self, group_id: str, now_ms: int) -> None:
        """Offsets without a group: an Empty group without a protocol keeps them."""
        self.groups[group_id] = self._new_group(group_id, now_ms)

    # --- replay -----------------------------------------------------------------------------

    def start_load(self) -> None:
        self.groups.clear()
        self._values.clear()
        self._loading = {}

    def apply(self, key: bytes, decoded: GroupKey | ConsumerGroupKey, value: bytes | None) -> None:
        group_id = decoded.group_id
        if value is None:
            self._values.pop(group_id, None)
        else:
            self._values[group_id] = value
        if self._loading is not None:
            if value is None:
                self._loading.pop(group_id, None)
            else:
                self._loading[group_id] = decode_group_value(value)

    def finish_load(self, ctx: Context) -> None:
        loaded, self._loading = self._loading or {}, None
        for group_id, snapshot in loaded.items():
            group = rebalance.load_group(group_id, snapshot, ctx)
            self._histories.restore_into(group_id, group.history)
            self.groups[group_id] = group

    def live_records(self) -> list[Record]:
        return [(group_key(group_id), value) for group_id, value in self._values.items()]

    # --- JoinGroup / SyncGroup / Heartbeat / LeaveGroup ---------------------------------------

    def join_group(self, req: JoinGroupRequest, ctx: Context) -> Reply[JoinGroupResult]:
        group = self.groups.get(req.group_id)
        created = group is None
        if group is None:
            if req.member_id:
                return Reply(JoinGroupResult.error(ErrorCode.unknown_member_id, req.member_id))
            group = self._new_group(req.group_id, ctx.now_ms)
            self.groups[req.group_id] = group
        first_record = len(ctx.fx.records)
        result = join_group(group, req, ctx)
        if created:
            self._maybe_discard_unused(group)
            if self.groups.get(req.group_id) is group:
                # Kafka writes a new group's existence first: an empty group at generation 0.
                empty = GroupSnapshot(None, 0, None, None, ctx.now_ms)
                ctx.fx.records.insert(first_record, group_record(req.group_id, empty))
        if not isinstance(result, Parked):
            return Reply(result)
        key = (req.group_id, result.member_id)
        previous = self._join_waiters.get(key)
        reply = _park(self._join_waiters, key)
        if previous is not None:
            # A retried JoinGroup replaces the parked one (Kafka drops the old future).
            previous.complete(
                JoinGroupResult.error(ErrorCode.rebalance_in_progress, result.member_id)
            )
        return reply

    def sync_group(self, req: SyncGroupRequest, ctx: Context) -> Reply[SyncGroupResult]:
        group = self.groups.get(req.group_id)
        if group is None:
            return Reply(SyncGroupResult(ErrorCode.unknown_member_id))
        result = membership.sync_group(group, req, ctx)
        if not isinstance(result, Parked):
            return Reply(result)
        return _park(self._sync_waiters, (req.group_id, result.member_id))

    def heartbeat(
        self,
        group_id: str,
        member_id: str,
        generation_id: int,
        group_instance_id: str | None,
        ctx: Context,
    ) -> ErrorCode:
        group = self.groups.get(group_id)
        if group is None:
            return ErrorCode.unknown_member_id
        return membership.heartbeat(group, member_id, group_instance_id, generation_id, ctx)

    def leave_group(
        self, group_id: str, members: Sequence[LeaveMember], ctx: Context
    ) -> LeaveGroupResult:
        group = self.groups.get(group_id)
        if group is None:
            return LeaveGroupResult(
                ErrorCode.none,
                tuple(
                    MemberLeaveResult(m.member_id, m.group_instance_id, ErrorCode.unknown_member_id)
                    for m in members
                ),
            )
        return membership.leave_group(group, members, ctx)

    def on_executed(self, fx: Effects) -> None:
        """Answer the parked requests the executed effects name."""
        for key, join_result in fx.join_responses.items():
            join_reply = self._join_waiters.pop(key, None)
            if join_reply is not None:
                join_reply.complete(join_result)
        for key, sync_result in fx.sync_responses.items():
            sync_reply = self._sync_waiters.pop(key, None)
            if sync_reply is not None:
                sync_reply.complete(sync_result)

    def on_timer(self, event: TimerEvent, ctx: Context) -> None:
        group = self.groups.get(event.group_id)
        if group is not None and isinstance(event, HeartbeatExpiry | JoinExpiry | SyncExpiry):
            rebalance.on_timer(group, event, ctx)

    def shutdown(self) -> None:
        """Answer every parked request with COORDINATOR_NOT_AVAILABLE."""
        joins, self._join_waiters = self._join_waiters, {}
        syncs, self._sync_waiters = self._sync_waiters, {}
        for (_, member_id), join_reply in joins.items():
            join_reply.complete(
                JoinGroupResult.error(ErrorCode.coordinator_not_available, member_id)
            )
        for sync_reply in syncs.values():
            sync_reply.complete(SyncGroupResult(ErrorCode.coordinator_not_available))

    # --- offsets ----------------------------------------------------------------------------

    def validate_offset_commit(
        self, group_id: str, committer: OffsetCommitter, ctx: Context
    ) -> ErrorCode | None:
        group = self.groups.get(group_id)
        if group is None:
            if committer.generation_id < 0:
                return None  # a simple group: adopted when its first offset is applied
            if committer.member_epoch_capable:
                return ErrorCode.group_id_not_found
            return ErrorCode.illegal_generation
        return membership.validate_offset_commit(
            group, committer.member_id, committer.group_instance_id, committer.generation_id, ctx
        )

    def validate_offset_fetch(
        self, group_id: str, member_id: str | None, member_epoch: int
    ) -> ErrorCode | None:
        return None  # OffsetFetch's member checks are for consumer groups only, as in Kafka

    def validate_offset_delete(self, group_id: str) -> frozenset[str]:
        """The topics whose offsets must stay; raises when none may be deleted.

        An Empty group may drop any offset; a consumer group that is consuming may drop offsets
        only of topics none of its members subscribes to; other non-empty groups may not.
        """
        group = self.groups[group_id]
        if not group.is_state(*CONSUMING):
            return frozenset()
        if group.protocol_type != PROTOCOL_TYPE:
            raise KafkaError(ErrorCode.non_empty_group)
        return group.subscribed_topics or frozenset()

    def prepare_offset_reset(self, group_id: str, live: bool, ctx: Context) -> ErrorCode | None:
        """An inactive group takes new offsets as they are; an active one only `live`, its
        generation fenced (rebalance.fence_for_offset_reset)."""
        group = self.groups.get(group_id)
        if group is None or group.is_state(EMPTY):
            return None
        if not live:
            return ErrorCode.non_empty_group
        rebalance.fence_for_offset_reset(group, ctx)
        return None

    def expire_offsets(self, ctx: Context) -> int:
        """Tombstone expired offsets (KIP-211 rules); Empty groups left without any go too."""
        removed = 0
        for group in list(self.groups.values()):
            committed = self._offsets.group_offsets(group.group_id)
            expired = self._expired(group, committed, ctx.now_ms)
            ctx.fx.records.extend(self._offsets.tombstones(group.group_id, expired))
            removed += len(expired)
            if (
                group.is_state(EMPTY)
                and len(expired) == len(committed)
                and not group.pending_members
            ):
                self.remove_group(group.group_id, ctx)
        return removed

    def _expired(
        self, group: ClassicGroup, offsets: Mapping[TopicPartition, OffsetValue], now_ms: int
    ) -> list[TopicPartition]:
        retention_ms = self.config.offsets_retention_ms
        if group.protocol_type is None:  # standalone consumers: counted from each commit
            return expired_partitions(offsets, now_ms=now_ms, retention_ms=retention_ms)
        if group.is_state(EMPTY):
            return expired_partitions(
                offsets,
                now_ms=now_ms,
                retention_ms=retention_ms,
                empty_since_ms=group.state_changed_ms,
            )
        if (
            group.protocol_type == PROTOCOL_TYPE
            and group.subscribed_topics is not None
            and group.is_state(STABLE)
        ):
            return expired_partitions(
                offsets,
                now_ms=now_ms,
                retention_ms=retention_ms,
                protected_topics=group.subscribed_topics,
            )
        return []

    # --- admin ------------------------------------------------------------------------------

    def describe(self, group_id: str) -> DescribedGroup:
        group = self.groups.get(group_id)
        if group is None:
            return DescribedGroup(group_id, ErrorCode.none, DEAD.value, "", "", exists=False)
        return describe_group(group)

    def listed(self, states: set[str]) -> list[ListedGroup]:
        return [
            ListedGroup(g.group_id, g.protocol_type or "", g.state.value, self.group_type)
            for g in self.groups.values()
            if not states or g.state.value.lower() in states
        ]

    def summaries(self) -> list[GroupSummary]:
        return [
            group_summary(g, len(self._offsets.group_offsets(g.group_id)))
            for g in self.groups.values()
        ]

    def rebalance_history(self, group_id: str) -> list[RebalanceRecord]:
        group = self.groups.get(group_id)
        return [] if group is None else list(group.history.entries)

    # --- plumbing ---------------------------------------------------------------------------

    def _new_group(self, group_id: str, now_ms: int) -> ClassicGroup:
        group = ClassicGroup(group_id, now_ms, history_size=self.config.rebalance_history_size)
        self._histories.restore_into(group_id, group.history)
        return group

    def _maybe_discard_unused(self, group: ClassicGroup) -> None:
        """Forget a group a failed first request created (nothing refers to it)."""
        if (
            group.is_state(EMPTY)
            and not group.members
            and not group.pending_members
            and group.generation_id == 0
            and not self._offsets.has_offsets(group.group_id)
            and self.groups.get(group.group_id) is group
        ):
            del self.groups[group.group_id]
