"""ConsumerGroupManager: the KIP-848 consumer groups, their replay and admin views.

Theory of operation: the manager owns the consumer groups (a group id names a consumer group or
a group of another protocol, never both) and runs what heartbeat.py and reconciliation.py
decide with the service's Context; the service executes the effects (records through the one
write path, then the named session and rebalance timers).

Recovery is replay, as for classic groups: `apply` keeps the latest value of every consumer
group key (the live records), during a load also by decoded key, and `finish_load` rebuilds each
group that has a live record (load.py). Every member gets a fresh session timeout and
members still revoking a fresh rebalance timeout, as Kafka's onLoaded does. At run time records
only make durable what the domain already did.
"""

from __future__ import annotations

import logging

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer import heartbeat as consumer
from katka.coordinator.consumer.group import (
    GROUP_TYPE,
    LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    PROTOCOL_TYPE,
    ConsumerGroup,
    ConsumerGroupState,
    MemberState,
    member_topics,
)
from katka.coordinator.consumer.heartbeat import HeartbeatRequest, HeartbeatResponse
from katka.coordinator.consumer.load import load_group
from katka.coordinator.consumer.timeouts import (
    RebalanceExpiry,
    SessionExpiry,
    rebalance_key,
    session_key,
)
from katka.coordinator.consumer.views import DescribedConsumerGroup, describe_group, group_summary
from katka.coordinator.effects import Context, Effects, TimerEvent
from katka.coordinator.history import RebalanceRecord
from katka.coordinator.history_records import HistoryStore
from katka.coordinator.offsets import OffsetCommitter, OffsetStore, expired_partitions
from katka.coordinator.records import (
    ConsumerGroupKey,
    GroupKey,
    Record,
    consumer_group_tombstones,
    consumer_member_tombstones,
)
from katka.coordinator.results import GroupSummary, ListedGroup
from katka.coordinator.topics import TopicImage
from katka.errors import ErrorCode, KafkaError

logger = logging.getLogger("katka.coordinator")


class ConsumerGroupManager:
    group_type = GROUP_TYPE  # ListGroups v5+
    record_key = ConsumerGroupKey

    def __init__(
        self,
        config: CoordinatorConfig,
        offsets: OffsetStore,
        histories: HistoryStore,
        topics: TopicImage,
    ) -> None:
        self.config = config
        self._offsets = offsets
        self._histories = histories
        self.topics = topics
        self.groups: dict[str, ConsumerGroup] = {}
        self._values: dict[bytes, bytes] = {}  # the latest value of every live consumer key
        self._loading: dict[ConsumerGroupKey, bytes] | None = None

    # --- ownership -------------------------------------------------------------------------

    def owns(self, group_id: str) -> bool:
        return group_id in self.groups

    def is_empty(self, group_id: str) -> bool:
        group = self.groups.get(group_id)
        return group is None or group.state is ConsumerGroupState.EMPTY

    def remove_group(self, group_id: str, ctx: Context) -> None:
        """Forget an empty group and tombstone its records (its offsets are the caller's)."""
        group = self.groups.pop(group_id)
        for member_id in list(group.members):
            ctx.fx.records.extend(consumer_member_tombstones(group_id, member_id))
            ctx.fx.cancel(session_key(group_id, member_id))
            ctx.fx.cancel(rebalance_key(group_id, member_id))
        ctx.fx.records.extend(consumer_group_tombstones(group_id))
        ctx.fx.records.extend(self._histories.tombstones(group_id))
        group.dead = True
        logger.info("consumer group %s deleted", group_id)

    def delete_group(self, group_id: str, ctx: Context) -> ErrorCode:
        """DeleteGroups: only an empty group may go."""
        if not self.is_empty(group_id):
            return ErrorCode.non_empty_group
        self.remove_group(group_id, ctx)
        return ErrorCode.none

    # --- replay -----------------------------------------------------------------------------

    def start_load(self) -> None:
        self.groups.clear()
        self._values.clear()
        self._loading = {}

    def apply(self, key: bytes, decoded: GroupKey | ConsumerGroupKey, value: bytes | None) -> None:
        assert isinstance(decoded, ConsumerGroupKey)
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = value
        if self._loading is not None:
            if value is None:
                self._loading.pop(decoded, None)
            else:
                self._loading[decoded] = value

    def finish_load(self, ctx: Context) -> None:
        loaded, self._loading = self._loading or {}, None
        by_group: dict[str, dict[ConsumerGroupKey, bytes]] = {}
        for key, value in loaded.items():
            by_group.setdefault(key.group_id, {})[key] = value
        for group_id, values in by_group.items():
            group = load_group(group_id, values, self.config, ctx.now_ms)
            self._histories.restore_into(group_id, group.history)
            self.groups[group_id] = group
            for member in group.members.values():
                consumer.schedule_session_timeout(group, member, ctx)
                if member.state is MemberState.UNREVOKED_PARTITIONS:
                    ctx.fx.schedule(
                        rebalance_key(group_id, member.member_id),
                        ctx.now_ms + member.rebalance_timeout_ms,
                        RebalanceExpiry(group_id, member.member_id, member.member_epoch),
                    )
            group.note_state(ctx.now_ms)
            logger.info(
                "loaded consumer group %s at epoch %d with %d members",
                group_id,
                group.group_epoch,
                len(group.members),
            )

    def live_records(self) -> list[Record]:
        return list(self._values.items())

    # --- ConsumerGroupHeartbeat -----------------------------------------------------------------

    def heartbeat(self, req: HeartbeatRequest, ctx: Context) -> HeartbeatResponse:
        """A validated request; the service resolved conflicts with other protocols."""
        group = self.groups.get(req.group_id)
        created = False
        try:
            if group is None:
                if req.member_epoch != 0:
                    raise KafkaError(
                        ErrorCode.group_id_not_found, f"Consumer group {req.group_id} not found."
                    )
                group = ConsumerGroup(
                    req.group_id, ctx.now_ms, history_size=self.config.rebalance_history_size
                )
                self._histories.restore_into(req.group_id, group.history)
                created = True
            if req.member_epoch in (LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH):
                response = consumer.leave(group, req, ctx)
            else:
                response = consumer.heartbeat(group, req, ctx)
        except KafkaError as error:
            ctx.fx = Effects()  # a refused heartbeat changes nothing
            return HeartbeatResponse.error(error)
        if created:
            self.groups[req.group_id] = group
        return response

    def describe(self, group_id: str) -> DescribedConsumerGroup:
        group = self.groups.get(group_id)
        if group is None:
            return DescribedConsumerGroup(
                group_id, ErrorCode.group_id_not_found, f"Group {group_id} not found."
            )
        return describe_group(group, self.topics, self.config)

    def on_executed(self, fx: Effects) -> None:
        pass  # no request of this protocol is ever parked

    def on_timer(self, event: TimerEvent, ctx: Context) -> None:
        group = self.groups.get(event.group_id)
        if group is not None and isinstance(event, SessionExpiry | RebalanceExpiry):
            consumer.on_timer(group, event, ctx)

    def shutdown(self) -> None:
        pass  # no request of this protocol is ever parked; the service cancels the timers

    # --- offsets ----------------------------------------------------------------------------

    def validate_offset_commit(
        self, group_id: str, committer: OffsetCommitter, ctx: Context
    ) -> ErrorCode | None:
        """Kafka 4.0's ConsumerGroup.validateOffsetCommit; None means the commit may proceed."""
        group = self.groups[group_id]
        if committer.generation_id < 0 and group.is_empty:
            return None  # admin tools and standalone consumers
        member = group.members.get(committer.member_id)
        if member is None:
            return ErrorCode.unknown_member_id
        if not committer.member_epoch_capable:
            return ErrorCode.unsupported_version  # members of this protocol use OffsetCommit v9+
        if committer.generation_id != member.member_epoch:
            return ErrorCode.stale_member_epoch
        return None

    def validate_offset_fetch(
        self, group_id: str, member_id: str | None, member_epoch: int
    ) -> ErrorCode | None:
        """Kafka's ConsumerGroup.validateOffsetFetch (OffsetFetch v9+)."""
        if member_id is None and member_epoch < 0:
            return None
        member = self.groups[group_id].members.get(member_id or "")
        if member is None:
            return ErrorCode.unknown_member_id
        if member_epoch != member.member_epoch:
            return ErrorCode.stale_member_epoch
        return None

    def validate_offset_delete(self, group_id: str) -> frozenset[str]:
        """The topics a member subscribes to: their offsets must stay."""
        group = self.groups[group_id]
        return frozenset(t for m in group.members.values() for t in member_topics(m, self.topics))

    def prepare_offset_reset(self, group_id: str, live: bool, ctx: Context) -> ErrorCode | None:
        """An empty group takes new offsets as they are; an active one only `live`, every
        member fenced (heartbeat.fence_for_offset_reset)."""
        group = self.groups.get(group_id)
        if group is None or group.is_empty:
            return None
        if not live:
            return ErrorCode.non_empty_group
        consumer.fence_for_offset_reset(group, ctx)
        return None

    def expire_offsets(self, ctx: Context) -> int:
        """Kafka: a consumer group's offsets expire counted from their commit, unless a member
        subscribes to their topic; an empty group goes once its last offset has expired."""
        removed = 0
        for group in list(self.groups.values()):
            committed = self._offsets.group_offsets(group.group_id)
            expired = expired_partitions(
                committed,
                now_ms=ctx.now_ms,
                retention_ms=self.config.offsets_retention_ms,
                protected_topics=frozenset(
                    topic for topic, _ in committed if group.is_subscribed_to_topic(topic)
                ),
            )
            removed += len(expired)
            ctx.fx.records.extend(self._offsets.tombstones(group.group_id, expired))
            if group.is_empty and len(expired) == len(committed):
                self.remove_group(group.group_id, ctx)
        return removed

    # --- admin ------------------------------------------------------------------------------

    def listed(self, states: set[str]) -> list[ListedGroup]:
        return [
            ListedGroup(g.group_id, PROTOCOL_TYPE, g.state.value, self.group_type)
            for g in self.groups.values()
            if not states or g.state.value.lower() in states
        ]

    def summaries(self) -> list[GroupSummary]:
        return [
            group_summary(g, len(self._offsets.group_offsets(g.group_id)), self.config)
            for g in self.groups.values()
        ]

    def rebalance_history(self, group_id: str) -> list[RebalanceRecord]:
        group = self.groups.get(group_id)
        return [] if group is None else list(group.history.entries)
