"""Recovery is replay, checked as a property: after any sequence of coordinator operations
(classic and KIP-848 members joining, syncing, heartbeating, leaving and timing out, offset
commits, live offset resets, deletions and expiry, compaction, topics growing), a coordinator
rebuilt from the internal log after each operation holds the same state as the live one.

"The same state" is what Kafka's coordinator persists: every committed offset; every consumer
group with its epochs, target assignment and members (epochs, subscriptions, assignments); and
every classic group that is not in the middle of a rebalance, with its generation, protocol,
leader and members; every group's completed rebalances (katka's own history records). A classic group in PreparingRebalance/CompletingRebalance comes back as its
last stored generation (Kafka's too), so for it the rebuilt group is compared with the last
metadata record the live coordinator wrote. Two deliberate differences, both Kafka's: a Stable
group's stored timestamp is when its generation started (the record is written just before the
move to Stable), and groups that hold only offsets count their age from the load.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katka.coordinator.classic.consumer_protocol import encode_assignment, encode_subscription
from katka.coordinator.classic.group import ClassicGroup
from katka.coordinator.classic.rebalance import snapshot_of
from katka.coordinator.classic.requests import JoinGroupRequest, SyncGroupRequest
from katka.coordinator.classic.state import EMPTY, STABLE
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer.group import ConsumerGroup
from katka.coordinator.consumer.heartbeat import HeartbeatRequest
from katka.coordinator.internal_log import MemoryInternalLog
from katka.coordinator.records import decode_group_value, group_key
from katka.coordinator.reply import Reply
from katka.coordinator.results import JoinGroupResult, LeaveMember, OffsetCommitPartition
from katka.coordinator.service import GroupCoordinator
from katka.coordinator.timers import ManualTimers
from katka.errors import ErrorCode

from .kip848_harness import Kip848, Member, Topics

GROUPS = ("g0", "g1")
TOPICS = ("orders", "audit")
CONFIG = CoordinatorConfig(
    group_initial_rebalance_delay_ms=0,
    offsets_retention_minutes=1,
    offsets_retention_check_interval_ms=20_000,
)


@dataclass
class ClassicSlot:
    """What a classic client knows: its member id, generation and parked requests."""

    member_id: str = ""
    generation_id: int = -1
    is_leader: bool = False
    members: tuple[str, ...] = ()
    join: Reply[JoinGroupResult] | None = None
    static: bool = False
    topic: str = "orders"


@dataclass
class World:
    """One live coordinator driven like clients would, remembering what each client knows."""

    h: Kip848 = field(default_factory=lambda: Kip848(CONFIG, topics=Topics({"orders": 4})))
    classic: dict[tuple[str, int], ClassicSlot] = field(default_factory=dict)
    consumers: dict[tuple[str, int], Member] = field(default_factory=dict)

    @property
    def coordinator(self) -> GroupCoordinator:
        return self.h.coordinator

    def harvest(self) -> None:
        """Read the answers of parked JoinGroups that completed since the last step."""
        for slot in self.classic.values():
            if slot.join is not None and not slot.join.parked:
                result = slot.join.get()
                slot.join = None
                if result.error_code is ErrorCode.none:
                    slot.member_id = result.member_id
                    slot.generation_id = result.generation_id
                    slot.is_leader = result.leader_id == result.member_id
                    slot.members = tuple(m.member_id for m in result.members)
                elif result.error_code is ErrorCode.member_id_required:
                    slot.member_id = result.member_id
                else:
                    slot.member_id = ""

    # --- classic clients ---------------------------------------------------------------

    def classic_join(self, group: str, slot_id: int, static: bool, topic: str) -> None:
        """JoinGroup v9; a member told MEMBER_ID_REQUIRED rejoins at once, as clients do."""
        self._join(group, slot_id, static, topic)
        self.harvest()
        slot = self.classic[group, slot_id]
        if slot.generation_id < 0 and slot.member_id and slot.join is None:
            self._join(group, slot_id, static, topic)

    def _join(self, group: str, slot_id: int, static: bool, topic: str) -> None:
        slot = self.classic.setdefault((group, slot_id), ClassicSlot())
        slot.static, slot.topic = static, topic
        slot.join = self.coordinator.join_group(
            JoinGroupRequest(
                group_id=group,
                member_id=slot.member_id,
                client_id=f"classic-{slot_id}",
                client_host="/127.0.0.1",
                session_timeout_ms=10_000,
                rebalance_timeout_ms=20_000,
                protocol_type="consumer",
                protocols=(("range", encode_subscription([topic], version=1)),),
                group_instance_id=f"instance-{slot_id}" if static else None,
                supports_skipping_assignment=True,
            )
        )

    def classic_sync(self, group: str) -> None:
        """Every member of the group that knows its generation sends SyncGroup."""
        for (slot_group, slot_id), slot in list(self.classic.items()):
            if slot_group == group and slot.member_id and slot.generation_id >= 0:
                self._sync(group, slot_id, slot)

    def _sync(self, group: str, slot_id: int, slot: ClassicSlot) -> None:
        assignments = {}
        if slot.is_leader:
            assignments = {
                member_id: encode_assignment({"orders": [i]})
                for i, member_id in enumerate(slot.members)
            }
        reply = self.coordinator.sync_group(
            SyncGroupRequest(group, slot.member_id, slot.generation_id, assignments=assignments)
        )
        if not reply.parked:
            self._maybe_rejoin(group, slot_id, reply.get().error_code)

    def classic_heartbeat(self, group: str, slot_id: int) -> None:
        slot = self.classic.get((group, slot_id))
        if slot is not None and slot.member_id:
            result = self.coordinator.heartbeat(group, slot.member_id, slot.generation_id)
            self._maybe_rejoin(group, slot_id, result.error_code)

    def _maybe_rejoin(self, group: str, slot_id: int, error: ErrorCode) -> None:
        """What a client does when told a rebalance is on, or that it was dropped."""
        slot = self.classic[group, slot_id]
        if error in (ErrorCode.unknown_member_id, ErrorCode.fenced_instance_id):
            slot.member_id = ""
        if error is not ErrorCode.none and slot.join is None:
            self._join(group, slot_id, slot.static, slot.topic)

    def classic_leave(self, group: str, slot_id: int) -> None:
        slot = self.classic.pop((group, slot_id), None)
        if slot is not None and slot.member_id:
            self.coordinator.leave_group(group, [LeaveMember(slot.member_id)])

    # --- KIP-848 clients ---------------------------------------------------------------

    def consumer_heartbeat(
        self, group: str, slot_id: int, topics: tuple[str, ...], static: bool, report: bool
    ) -> None:
        member = self.consumers.get((group, slot_id))
        joining = member is None
        if member is None:
            member = Member(f"{group}-consumer-{slot_id}", instance_id=None)
            if static:
                member.instance_id = f"{group}-static-{slot_id}"
        response = self.coordinator.consumer_group_heartbeat(
            HeartbeatRequest(
                group_id=group,
                member_id=member.member_id,
                member_epoch=member.epoch,
                instance_id=member.instance_id,
                rebalance_timeout_ms=15_000 if joining else -1,
                subscribed_topic_names=topics if joining else None,
                owned_partitions=frozenset() if joining else (member.owned if report else None),
                client_id=f"consumer-{slot_id}",
                client_host="/127.0.0.1",
            )
        )
        if response.error_code is not ErrorCode.none:
            self.consumers.pop((group, slot_id), None)  # fenced or refused: start over
            return
        member.epoch = response.member_epoch
        if response.assignment is not None:
            member.owned = response.assignment
        self.consumers[group, slot_id] = member

    def consumer_round(self, group: str, report: bool) -> None:
        """Every member of the group heartbeats once (as they do every heartbeat interval)."""
        for slot_group, slot_id in list(self.consumers):
            if slot_group == group:
                self.consumer_heartbeat(group, slot_id, (), False, report)

    def consumer_leave(self, group: str, slot_id: int, temporarily: bool) -> None:
        member = self.consumers.pop((group, slot_id), None)
        if member is None:
            return
        epoch = -2 if temporarily and member.instance_id is not None else -1
        self.coordinator.consumer_group_heartbeat(
            HeartbeatRequest(
                group_id=group,
                member_id=member.member_id,
                member_epoch=epoch,
                instance_id=member.instance_id,
            )
        )

    # --- offsets, admin, time ----------------------------------------------------------

    def commit(self, group: str, slot_id: int | None, partition: int, offset: int) -> None:
        member_id, generation, capable = "", -1, False
        consumer = self.consumers.get((group, slot_id)) if slot_id is not None else None
        classic = self.classic.get((group, slot_id)) if slot_id is not None else None
        if consumer is not None:
            member_id, generation, capable = consumer.member_id, consumer.epoch, True
        elif classic is not None:
            member_id, generation = classic.member_id, classic.generation_id
        self.coordinator.commit_offsets(
            group,
            member_id,
            generation,
            [OffsetCommitPartition("orders", partition, offset)],
            member_epoch_capable=capable,
        )

    def live_reset(self, group: str, offset: int) -> None:
        """katka's live offset reset of every partition of `orders`."""
        topic = self.h.topics.get("orders")
        partitions = range(topic.partitions if topic is not None else 0)
        offsets = {("orders", p): offset for p in partitions}
        self.coordinator.reset_offsets(group, offsets, live=True)

    def delete_offsets(self, group: str, partition: int) -> None:
        self.coordinator.delete_offsets(group, [("orders", partition)])

    def delete_group(self, group: str) -> None:
        self.coordinator.delete_groups([group])

    def advance(self, ms: int) -> None:
        self.h.timers.advance(ms)  # session, rebalance and expiry timers fire on the way

    def compact(self) -> None:
        self.coordinator.maybe_compact(min_records=0)

    def grow_topic(self, name: str) -> None:
        topic = self.h.topics.get(name)
        self.h.topics.create(name, 1 if topic is None else topic.partitions + 1)

    def rebuilt(self) -> GroupCoordinator:
        """A coordinator that starts from a copy of the live one's log."""
        coordinator = GroupCoordinator(
            CONFIG,
            self.h.clock,
            ManualTimers(self.h.clock),
            MemoryInternalLog(self.h.log.records),
            self.h.topics.partition_exists,
            self.h.topics,
        )
        coordinator.load()
        return coordinator


group_ids = st.sampled_from(GROUPS)
slots = st.integers(0, 2)
ARGUMENTS: dict[str, st.SearchStrategy[tuple[object, ...]]] = {
    "classic_join": st.tuples(group_ids, slots, st.booleans(), st.sampled_from(TOPICS)),
    "classic_sync": st.tuples(group_ids),
    "classic_heartbeat": st.tuples(group_ids, slots),
    "classic_leave": st.tuples(group_ids, slots),
    "consumer_heartbeat": st.tuples(
        group_ids,
        slots,
        st.sampled_from([("orders",), ("audit",), ("orders", "audit"), ()]),
        st.booleans(),
        st.booleans(),
    ),
    "consumer_round": st.tuples(group_ids, st.booleans()),
    "consumer_leave": st.tuples(group_ids, slots, st.booleans()),
    "commit": st.tuples(group_ids, st.none() | slots, st.integers(0, 4), st.integers(0, 99)),
    "live_reset": st.tuples(group_ids, st.integers(0, 99)),
    "delete_offsets": st.tuples(group_ids, st.integers(0, 3)),
    "delete_group": st.tuples(group_ids),
    "advance": st.tuples(st.sampled_from([500, 4_000, 11_000, 16_000, 21_000, 70_000])),
    "compact": st.tuples(),
    "grow_topic": st.tuples(st.sampled_from(TOPICS)),
}
# Requests that move a rebalance on come up more often than the rest.
KINDS = [*ARGUMENTS, "classic_join", "classic_sync", "consumer_heartbeat", "consumer_round"]
operations = st.sampled_from(KINDS).flatmap(
    lambda kind: ARGUMENTS[kind].map(lambda args: (kind, *args))
)


def run(world: World, op: tuple[object, ...]) -> None:
    name, *args = op
    getattr(world, str(name))(*args)
    world.h.timers.run_due()  # what the event loop runs at once (the initial join delay is 0)
    world.harvest()


def classic_view(group: ClassicGroup) -> object:
    snapshot = snapshot_of(group)
    if group.is_state(STABLE):
        # The record of a generation is written just before the group moves to Stable.
        snapshot = dataclasses.replace(snapshot, current_state_timestamp_ms=0)
    return group.state, snapshot


def consumer_view(group: ConsumerGroup) -> object:
    members = {
        m.member_id: (
            m.instance_id,
            m.rack_id,
            m.client_id,
            m.client_host,
            m.subscribed_topic_names,
            m.subscribed_topic_regex,
            m.server_assignor,
            m.rebalance_timeout_ms,
            m.member_epoch,
            m.previous_member_epoch,
            m.state,
            m.assigned,
            m.pending_revocation,
        )
        for m in group.members.values()
    }
    return (
        group.state,
        group.group_epoch,
        group.assignment_epoch,
        group.subscription_metadata,
        group.target,
        group.owners,
        group.static_members,
        members,
    )


def check_rebuilt_equals_live(world: World) -> None:
    live = world.coordinator
    rebuilt = world.rebuilt()
    for group_id in GROUPS:
        assert rebuilt.offsets.group_offsets(group_id) == live.offsets.group_offsets(group_id)
        assert rebuilt.rebalance_history(group_id) == live.rebalance_history(group_id), group_id
    live_consumer, rebuilt_consumer = live.consumer.groups, rebuilt.consumer.groups
    assert set(rebuilt_consumer) == set(live_consumer)
    for group_id, group in live_consumer.items():
        assert consumer_view(rebuilt_consumer[group_id]) == consumer_view(group), group_id
    stored = dict(live.classic.live_records())
    for group_id, group in live.classic.groups.items():
        rebuilt_group = rebuilt.classic.groups.get(group_id)
        value = stored.get(group_key(group_id))
        if value is None:  # never stored: only its offsets bring it back
            assert (rebuilt_group is not None) == live.offsets.has_offsets(group_id), group_id
        elif group.is_state(STABLE, EMPTY):
            assert rebuilt_group is not None, group_id
            assert classic_view(rebuilt_group) == classic_view(group), group_id
        else:  # mid-rebalance: back to the last generation the live group stored
            assert rebuilt_group is not None, group_id
            assert snapshot_of(rebuilt_group) == decode_group_value(value), group_id
    for group_id in rebuilt.classic.groups:
        assert group_id in live.classic.groups, group_id


def replay_holds_the_live_state(ops: list[tuple[object, ...]]) -> None:
    world = World()
    for op in ops:
        run(world, op)
        check_rebuilt_equals_live(world)


SEQUENCES = st.lists(operations, min_size=10, max_size=50)
QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=60, deadline=None, suppress_health_check=QUIET)
@given(ops=SEQUENCES)
def test_a_coordinator_rebuilt_from_its_log_holds_the_live_state(ops) -> None:
    replay_holds_the_live_state(ops)


@pytest.mark.slow
@settings(max_examples=1_000, deadline=None, suppress_health_check=QUIET)
@given(ops=SEQUENCES)
def test_a_coordinator_rebuilt_from_its_log_holds_the_live_state_over_many_sequences(ops) -> None:
    replay_holds_the_live_state(ops)
