"""ConsumerGroupService: the KIP-848 consumer groups, composed into GroupCoordinator.

Theory of operation: the service owns the consumer groups (classic groups stay in
GroupCoordinator; a group id is one or the other) and executes what consumer.py decides:
records go to the coordinator's internal log through `append` (which also applies them), and
named timers (session and rebalance timeouts) are scheduled on the coordinator's Timers.

Recovery is replay, as for classic groups: during load `apply` keeps the latest value of every
consumer group key, and `finish_load` rebuilds each group whose metadata record (key 3) is live:
members with their epochs, subscriptions and assignments, the target assignment and its epoch.
Every member gets a fresh session timeout and members still revoking a fresh rebalance timeout,
as Kafka's onLoaded does. At run time records only make durable what the domain already did.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from katka.clock import Clock
from katka.coordinator.classic.state import GroupState
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer import heartbeat as consumer
from katka.coordinator.consumer.group import (
    GROUP_TYPE,
    LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    PROTOCOL_TYPE,
    ConsumerGroup,
    ConsumerGroupState,
    ConsumerMember,
    MemberState,
    Partitions,
    member_topics,
)
from katka.coordinator.consumer.heartbeat import (
    HeartbeatRequest,
    HeartbeatResponse,
)
from katka.coordinator.consumer.timeouts import (
    RebalanceExpiry,
    SessionExpiry,
    rebalance_key,
    session_key,
)
from katka.coordinator.effects import Context, Effects, TimerEvent
from katka.coordinator.history import RebalanceRecord
from katka.coordinator.offsets import (
    OffsetStore,
    PartitionExists,
    TopicPartition,
    expired_partitions,
)
from katka.coordinator.records import (
    CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION,
    CONSUMER_GROUP_METADATA_KEY_VERSION,
    CONSUMER_MEMBER_METADATA_KEY_VERSION,
    CONSUMER_TARGET_MEMBER_KEY_VERSION,
    CONSUMER_TARGET_METADATA_KEY_VERSION,
    ConsumerGroupKey,
    Record,
    consumer_group_tombstones,
    consumer_member_tombstones,
    decode_consumer_current_assignment,
    decode_consumer_group_metadata,
    decode_consumer_member_metadata,
    decode_consumer_target_member,
    decode_consumer_target_metadata,
)
from katka.coordinator.results import (
    GroupSummary,
    ListedGroup,
    MemberSummary,
    OffsetDeleteResult,
    PartitionResult,
)
from katka.coordinator.timers import Timers
from katka.coordinator.topics import TopicImage
from katka.errors import ErrorCode, KafkaError

logger = logging.getLogger("katka.coordinator")

Append = Callable[[list[Record]], None]


@dataclass(frozen=True, slots=True)
class DescribedConsumerMember:
    member_id: str
    instance_id: str | None
    rack_id: str | None
    member_epoch: int
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    assignment: tuple[tuple[uuid.UUID, str, tuple[int, ...]], ...]  # (topic id, name, parts)
    target_assignment: tuple[tuple[uuid.UUID, str, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class DescribedConsumerGroup:
    group_id: str
    error_code: ErrorCode
    error_message: str | None = None
    group_state: str = ""
    group_epoch: int = -1
    assignment_epoch: int = -1
    assignor_name: str = ""
    members: tuple[DescribedConsumerMember, ...] = ()


class ConsumerGroupService:
    def __init__(
        self,
        config: CoordinatorConfig,
        clock: Clock,
        timers: Timers,
        topics: TopicImage,
        append: Append,
        offsets: Callable[[], OffsetStore],
    ) -> None:
        self.config = config
        self._clock = clock
        self._timers = timers
        self.topics = topics
        self._append = append
        self._offsets = offsets  # the coordinator's store (replaced on every load)
        self.groups: dict[str, ConsumerGroup] = {}
        self.values: dict[bytes, bytes] = {}  # the latest value of every live consumer key
        self._loading: dict[ConsumerGroupKey, bytes] | None = None

    # --- replay ---------------------------------------------------------------------------

    def start_load(self) -> None:
        self.groups.clear()
        self.values.clear()
        self._loading = {}

    def apply(self, raw_key: bytes, key: ConsumerGroupKey, value: bytes | None) -> None:
        if value is None:
            self.values.pop(raw_key, None)
        else:
            self.values[raw_key] = value
        if self._loading is not None:
            if value is None:
                self._loading.pop(key, None)
            else:
                self._loading[key] = value

    def finish_load(self) -> None:
        loaded, self._loading = self._loading or {}, None
        by_group: dict[str, dict[ConsumerGroupKey, bytes]] = {}
        for key, value in loaded.items():
            by_group.setdefault(key.group_id, {})[key] = value
        ctx = self._context()
        for group_id, values in by_group.items():
            group = self._load_group(group_id, values)
            if group is None:
                continue
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
        self._execute(ctx.fx)

    def _load_group(
        self, group_id: str, values: Mapping[ConsumerGroupKey, bytes]
    ) -> ConsumerGroup | None:
        metadata = values.get(ConsumerGroupKey(CONSUMER_GROUP_METADATA_KEY_VERSION, group_id))
        if metadata is None:
            return None  # member records without a group: a deleted group's leftovers
        group = ConsumerGroup(
            group_id, self._clock.now_ms(), history_size=self.config.rebalance_history_size
        )
        meta = decode_consumer_group_metadata(metadata)
        group.group_epoch = meta.epoch
        group.subscription_metadata = meta.subscription_metadata
        target_epoch = values.get(ConsumerGroupKey(CONSUMER_TARGET_METADATA_KEY_VERSION, group_id))
        if target_epoch is not None:
            group.assignment_epoch = decode_consumer_target_metadata(target_epoch)
        members: dict[str, ConsumerMember] = {}
        for key, value in sorted(values.items(), key=lambda kv: (kv[0].member_id, kv[0].kind)):
            if key.kind == CONSUMER_MEMBER_METADATA_KEY_VERSION:
                member = members.setdefault(key.member_id, ConsumerMember(key.member_id))
                member.apply_metadata(decode_consumer_member_metadata(value))
            elif key.kind == CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION and key.member_id in members:
                current = decode_consumer_current_assignment(value)
                member = members[key.member_id]
                member.member_epoch = current.member_epoch
                member.previous_member_epoch = current.previous_member_epoch
                member.state = MemberState(current.state)
                member.assigned = current.assigned_partitions
                member.pending_revocation = current.partitions_pending_revocation
            elif key.kind == CONSUMER_TARGET_MEMBER_KEY_VERSION and key.member_id in members:
                group.target[key.member_id] = decode_consumer_target_member(value)
        for member in members.values():
            group.add_member(member)
        group.assignor_name = group.preferred_assignor(self.config.consumer_assignors[0])
        return group

    def live_records(self) -> list[Record]:
        return list(self.values.items())

    # --- ConsumerGroupHeartbeat ---------------------------------------------------------------

    def heartbeat(self, req: HeartbeatRequest) -> HeartbeatResponse:
        """A validated request; the caller resolved conflicts with classic groups."""
        ctx = self._context()
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
                created = True
            if req.member_epoch in (LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH):
                response = consumer.leave(group, req, ctx)
            else:
                response = consumer.heartbeat(group, req, ctx)
        except KafkaError as error:
            return HeartbeatResponse.error(error)
        if created:
            self.groups[req.group_id] = group
        self._execute(ctx.fx)
        return response

    # --- offsets ----------------------------------------------------------------------------

    def validate_offset_commit(
        self, group: ConsumerGroup, member_id: str, member_epoch: int, api_version: int
    ) -> ErrorCode | None:
        """Kafka 4.0's ConsumerGroup.validateOffsetCommit; None means the commit may proceed."""
        if member_epoch < 0 and group.is_empty:
            return None  # admin tools and standalone consumers
        member = group.members.get(member_id)
        if member is None:
            return ErrorCode.unknown_member_id
        if api_version < 9:
            # Members of the consumer protocol must use OffsetCommit v9+.
            return ErrorCode.unsupported_version
        if member_epoch != member.member_epoch:
            return ErrorCode.stale_member_epoch
        return None

    @staticmethod
    def validate_offset_fetch(
        group: ConsumerGroup, member_id: str | None, member_epoch: int
    ) -> ErrorCode | None:
        """Kafka's ConsumerGroup.validateOffsetFetch (OffsetFetch v9+)."""
        if member_id is None and member_epoch < 0:
            return None
        member = group.members.get(member_id or "")
        if member is None:
            return ErrorCode.unknown_member_id
        if member_epoch != member.member_epoch:
            return ErrorCode.stale_member_epoch
        return None

    def expire_offsets(self) -> int:
        """Kafka: a consumer group's offsets expire counted from their commit, unless a member
        subscribes to their topic; an empty group goes once its last offset has expired."""
        removed = 0
        store = self._offsets()
        for group in list(self.groups.values()):
            committed = store.group_offsets(group.group_id)
            unsubscribed = {
                tp: value
                for tp, value in committed.items()
                if not group.is_subscribed_to_topic(tp[0])
            }
            expired = expired_partitions(
                unsubscribed,
                protocol_type=None,
                state=GroupState.EMPTY,
                state_changed_ms=None,
                subscribed_topics=None,
                now_ms=self._clock.now_ms(),
                retention_ms=self.config.offsets_retention_ms,
            )
            removed += len(expired)
            tombstones = store.tombstones(group.group_id, expired)
            if group.is_empty and len(expired) == len(committed):
                self.delete_group(group.group_id, tombstones)
            else:
                self._append(tombstones)
        return removed

    def delete_offsets(
        self,
        group_id: str,
        partitions: Sequence[TopicPartition],
        partition_exists: PartitionExists,
    ) -> OffsetDeleteResult:
        """OffsetDelete: refused per partition for topics a member subscribes to."""
        subscribed = self.subscribed_topics(group_id)
        results = []
        for topic, partition in partitions:
            code = ErrorCode.none
            if not partition_exists(topic, partition):
                code = ErrorCode.unknown_topic_or_partition
            elif topic in subscribed:
                code = ErrorCode.group_subscribed_to_topic
            results.append(PartitionResult(topic, partition, code))
        eligible = [(r.topic, r.partition) for r in results if r.error_code is ErrorCode.none]
        self._append(self._offsets().tombstones(group_id, eligible))
        return OffsetDeleteResult(ErrorCode.none, tuple(results))

    # --- admin ------------------------------------------------------------------------------

    def delete_group_and_offsets(self, group_id: str) -> ErrorCode:
        """DeleteGroups: only an empty group may go, and its offsets with it."""
        if not self.is_empty(group_id):
            return ErrorCode.non_empty_group
        self.delete_group(group_id, self._offsets().tombstones(group_id))
        return ErrorCode.none

    def delete_group(self, group_id: str, extra_records: Iterable[Record] = ()) -> None:
        """Remove a group (it must be empty): its records and `extra_records` (its offsets)."""
        group = self.groups.pop(group_id)
        records = list(extra_records)
        for member_id in list(group.members):
            records.extend(consumer_member_tombstones(group_id, member_id))
            self._timers.cancel(session_key(group_id, member_id))
            self._timers.cancel(rebalance_key(group_id, member_id))
        records.extend(consumer_group_tombstones(group_id))
        group.dead = True
        self._append(records)
        logger.info("consumer group %s deleted", group_id)

    def describe(
        self, group_ids: Sequence[str], classic: Iterable[str] = ()
    ) -> list[DescribedConsumerGroup]:
        """ConsumerGroupDescribe; `classic` names the classic groups (not consumer groups)."""
        classic = set(classic)
        return [self._describe(group_id, group_id in classic) for group_id in group_ids]

    def _describe(self, group_id: str, classic: bool) -> DescribedConsumerGroup:
        group = self.groups.get(group_id)
        if classic:
            message = f"Group {group_id} is not a consumer group."
            return DescribedConsumerGroup(group_id, ErrorCode.group_id_not_found, message)
        if group is None:
            return DescribedConsumerGroup(
                group_id, ErrorCode.group_id_not_found, f"Group {group_id} not found."
            )
        return DescribedConsumerGroup(
            group_id,
            ErrorCode.none,
            group_state=group.state.value,
            group_epoch=group.group_epoch,
            assignment_epoch=group.assignment_epoch,
            assignor_name=group.assignor_name
            or group.preferred_assignor(self.config.consumer_assignors[0]),
            members=tuple(
                DescribedConsumerMember(
                    member_id=m.member_id,
                    instance_id=m.instance_id,
                    rack_id=m.rack_id,
                    member_epoch=m.member_epoch,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    subscribed_topic_names=m.subscribed_topic_names,
                    subscribed_topic_regex=m.subscribed_topic_regex,
                    assignment=self._named(m.assigned),
                    target_assignment=self._named(group.target.get(m.member_id, frozenset())),
                )
                for m in group.members.values()
            ),
        )

    def _named(self, partitions: Partitions) -> tuple[tuple[uuid.UUID, str, tuple[int, ...]], ...]:
        by_topic: dict[uuid.UUID, list[int]] = {}
        for topic_id, partition in sorted(partitions):
            by_topic.setdefault(topic_id, []).append(partition)
        result = []
        for topic_id, ids in by_topic.items():
            topic = self.topics.by_id(topic_id)
            result.append((topic_id, topic.name if topic is not None else "", tuple(ids)))
        return tuple(result)

    def listed(self, states: set[str]) -> list[ListedGroup]:
        return [
            ListedGroup(g.group_id, PROTOCOL_TYPE, g.state.value, GROUP_TYPE)
            for g in self.groups.values()
            if not states or g.state.value.lower() in states
        ]

    def summaries(self) -> list[GroupSummary]:
        return [
            GroupSummary(
                group_id=g.group_id,
                state=g.state.value,
                protocol_type=PROTOCOL_TYPE,
                protocol_name=g.assignor_name,
                generation_id=g.group_epoch,
                leader_id="",
                members=tuple(
                    MemberSummary(
                        m.member_id,
                        m.instance_id,
                        m.client_id,
                        m.client_host,
                        len(m.assigned),
                        self.config.consumer_session_timeout_ms,
                    )
                    for m in g.members.values()
                ),
                committed_partitions=len(self._offsets().group_offsets(g.group_id)),
                state_changed_ms=g.state_changed_ms,
            )
            for g in self.groups.values()
        ]

    def rebalance_history(self, group_id: str) -> list[RebalanceRecord] | None:
        group = self.groups.get(group_id)
        return None if group is None else list(group.history.entries)

    def subscribed_topics(self, group_id: str) -> frozenset[str]:
        group = self.groups.get(group_id)
        if group is None:
            return frozenset()
        return frozenset(t for m in group.members.values() for t in member_topics(m, self.topics))

    def is_empty(self, group_id: str) -> bool:
        group = self.groups.get(group_id)
        return group is None or group.state is ConsumerGroupState.EMPTY

    # --- plumbing ---------------------------------------------------------------------------

    def shutdown(self) -> None:
        for group in self.groups.values():
            for member_id in group.members:
                self._timers.cancel(session_key(group.group_id, member_id))
                self._timers.cancel(rebalance_key(group.group_id, member_id))

    def _context(self) -> Context:
        return Context(self._clock.now_ms(), self.config, self.topics)

    def _execute(self, fx: Effects) -> None:
        if fx.records:
            self._append(fx.records)
        for op in fx.timer_ops:
            if op.deadline_ms is None or op.event is None:
                self._timers.cancel(op.key)
            else:
                self._timers.schedule(
                    op.key, op.deadline_ms, functools.partial(self._on_timer, op.event)
                )

    def _on_timer(self, event: TimerEvent) -> None:
        group = self.groups.get(event.group_id)
        if group is None or not isinstance(event, SessionExpiry | RebalanceExpiry):
            return  # the group is gone: a stale timer
        ctx = self._context()
        consumer.on_timer(group, event, ctx)
        self._execute(ctx.fx)
