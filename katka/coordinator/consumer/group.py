"""A KIP-848 consumer group (Kafka's ConsumerGroup): members, epochs and who owns what.

Theory of operation. Three epochs drive the protocol:
  - the group epoch, bumped whenever something that changes the assignment changes: a member
    joins, leaves or changes its subscription, or a subscribed topic gains partitions, appears
    or disappears;
  - the target assignment epoch: the group epoch the current target assignment was computed
    for (the server-side assignor runs when the group epoch is ahead of it);
  - each member's epoch: the target assignment epoch the member has converged to.
A member converges on its own heartbeats (consumer.py's `compute_next_assignment`): it first
gives up the partitions it must lose (UNREVOKED_PARTITIONS, keeping its epoch), then takes the
target epoch and the partitions that are free; partitions still owned by another member wait
(UNRELEASED_PARTITIONS). `owners` maps every partition owned (assigned or pending revocation) to
its member, so a partition is never owned twice; this is Kafka's partition epoch map, with the
owner's epoch read off the member.

This module holds the data and its invariants; the decisions live in consumer.py.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from katka.coordinator.history import MemberAssignmentSize, RebalanceHistory
from katka.coordinator.records import (
    ConsumerCurrentAssignmentValue,
    ConsumerMemberMetadataValue,
    TopicIdPartition,
)
from katka.coordinator.topics import TopicImage

Partitions = frozenset[TopicIdPartition]
NO_PARTITIONS: Partitions = frozenset()

LEAVE_GROUP_MEMBER_EPOCH = -1
LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2
PROTOCOL_TYPE = "consumer"
GROUP_TYPE = "consumer"


class MemberState(StrEnum):
    """Kafka's MemberState; the value is what the records store."""

    STABLE = "stable"
    UNREVOKED_PARTITIONS = "unrevoked_partitions"
    UNRELEASED_PARTITIONS = "unreleased_partitions"


class ConsumerGroupState(StrEnum):
    """Kafka's ConsumerGroupState; the value is what ListGroups/ConsumerGroupDescribe report."""

    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"
    DEAD = "Dead"


@dataclass(eq=False)
class ConsumerMember:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    subscribed_topic_names: tuple[str, ...] = ()
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    rebalance_timeout_ms: int = 300_000
    member_epoch: int = 0
    previous_member_epoch: int = 0
    state: MemberState = MemberState.STABLE
    assigned: Partitions = NO_PARTITIONS
    pending_revocation: Partitions = NO_PARTITIONS
    # The deadline of the session timer currently scheduled (runtime only, not persisted).
    session_deadline_ms: int | None = None

    @property
    def is_static(self) -> bool:
        return self.instance_id is not None

    def is_reconciled_to(self, assignment_epoch: int) -> bool:
        return self.state is MemberState.STABLE and self.member_epoch == assignment_epoch

    def metadata_value(self) -> ConsumerMemberMetadataValue:
        return ConsumerMemberMetadataValue(
            instance_id=self.instance_id,
            rack_id=self.rack_id,
            client_id=self.client_id,
            client_host=self.client_host,
            subscribed_topic_names=self.subscribed_topic_names,
            subscribed_topic_regex=self.subscribed_topic_regex,
            server_assignor=self.server_assignor,
            rebalance_timeout_ms=self.rebalance_timeout_ms,
        )

    def assignment_value(self) -> ConsumerCurrentAssignmentValue:
        return ConsumerCurrentAssignmentValue(
            member_epoch=self.member_epoch,
            previous_member_epoch=self.previous_member_epoch,
            state=self.state.value,
            assigned_partitions=self.assigned,
            partitions_pending_revocation=self.pending_revocation,
        )

    def apply_metadata(self, value: ConsumerMemberMetadataValue) -> None:
        self.instance_id = value.instance_id
        self.rack_id = value.rack_id
        self.client_id = value.client_id
        self.client_host = value.client_host
        self.subscribed_topic_names = value.subscribed_topic_names
        self.subscribed_topic_regex = value.subscribed_topic_regex
        self.server_assignor = value.server_assignor
        self.rebalance_timeout_ms = value.rebalance_timeout_ms


def compile_regex(regex: str) -> re.Pattern[str] | None:
    """Kafka matches the whole topic name (RE2/J `matches()`); None if it does not compile."""
    try:
        return re.compile(regex)
    except re.error:
        return None


def topics_matching(regex: str, topics: TopicImage) -> frozenset[str]:
    pattern = compile_regex(regex)
    if pattern is None:
        return frozenset()
    # Internal topics never match a regex subscription, as in Kafka.
    return frozenset(t.name for t in topics if not t.internal and pattern.fullmatch(t.name))


@dataclass
class PauseTracker:
    """For the rebalance history: how long moved partitions went unconsumed.

    A partition pauses when its owner releases it (revoked, or the owner was removed) and
    resumes when the next owner is given it; partitions that never had an owner do not count.
    """

    released_ms: dict[TopicIdPartition, int] = field(default_factory=dict)
    longest_pause_ms: int = 0


class ConsumerGroup:
    def __init__(self, group_id: str, now_ms: int, *, history_size: int = 50) -> None:
        self.group_id = group_id
        self.group_epoch = 0
        self.assignment_epoch = 0
        self.members: dict[str, ConsumerMember] = {}
        self.static_members: dict[str, str] = {}  # instance id -> member id
        self.target: dict[str, Partitions] = {}  # member id -> target assignment
        self.owners: dict[TopicIdPartition, str] = {}  # partition -> owning member id
        # (topic name, topic id, partitions) of subscribed topics, as of the last group epoch.
        self.subscription_metadata: tuple[tuple[str, uuid.UUID, int], ...] = ()
        self.assignor_name = ""  # the assignor of the current target assignment
        self.dead = False
        self.created_ms = now_ms
        self.state_changed_ms = now_ms
        self._last_state = ConsumerGroupState.EMPTY
        self.history = RebalanceHistory(history_size)
        self.pauses = PauseTracker()

    # --- state --------------------------------------------------------------------------

    @property
    def state(self) -> ConsumerGroupState:
        if self.dead:
            return ConsumerGroupState.DEAD
        if not self.members:
            return ConsumerGroupState.EMPTY
        if self.group_epoch > self.assignment_epoch:
            return ConsumerGroupState.ASSIGNING
        if all(m.is_reconciled_to(self.assignment_epoch) for m in self.members.values()):
            return ConsumerGroupState.STABLE
        return ConsumerGroupState.RECONCILING

    def note_state(self, now_ms: int) -> ConsumerGroupState:
        """Record when the state last changed (offset expiry and tooling read it)."""
        state = self.state
        if state is not self._last_state:
            self._last_state = state
            self.state_changed_ms = now_ms
        return state

    @property
    def is_empty(self) -> bool:
        return not self.members

    # --- members ------------------------------------------------------------------------

    def __contains__(self, member_id: str) -> bool:
        return member_id in self.members

    def static_member(self, instance_id: str) -> ConsumerMember | None:
        member_id = self.static_members.get(instance_id)
        return None if member_id is None else self.members.get(member_id)

    def add_member(self, member: ConsumerMember) -> None:
        self.members[member.member_id] = member
        if member.instance_id is not None:
            self.static_members[member.instance_id] = member.member_id
        for tp in member.assigned | member.pending_revocation:
            self.owners[tp] = member.member_id

    def update_instance_id(self, member: ConsumerMember, instance_id: str | None) -> None:
        if member.instance_id is not None:
            self.static_members.pop(member.instance_id, None)
        member.instance_id = instance_id
        if instance_id is not None:
            self.static_members[instance_id] = member.member_id

    def remove_member(self, member_id: str, now_ms: int | None = None) -> ConsumerMember | None:
        """Drop a member, its target and its partitions (released at `now_ms` if given)."""
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        if (
            member.instance_id is not None
            and self.static_members.get(member.instance_id) == member_id
        ):
            del self.static_members[member.instance_id]
        for tp in member.assigned | member.pending_revocation:
            if self.owners.get(tp) == member_id:
                del self.owners[tp]
                if now_ms is not None:
                    self.pauses.released_ms[tp] = now_ms
        self.target.pop(member_id, None)
        return member

    def set_assignment(
        self,
        member: ConsumerMember,
        assigned: Partitions,
        pending_revocation: Partitions,
        now_ms: int,
    ) -> None:
        """Change what a member owns, keeping `owners` (and the pause bookkeeping) in step."""
        before = member.assigned | member.pending_revocation
        after = assigned | pending_revocation
        for tp in before - after:
            if self.owners.get(tp) == member.member_id:
                del self.owners[tp]
                self.pauses.released_ms[tp] = now_ms
        for tp in after - before:
            self.owners[tp] = member.member_id
            released = self.pauses.released_ms.pop(tp, None)
            if released is not None:
                self.pauses.longest_pause_ms = max(self.pauses.longest_pause_ms, now_ms - released)
        member.assigned = assigned
        member.pending_revocation = pending_revocation

    def partition_epoch(self, tp: TopicIdPartition) -> int:
        """The epoch of the member owning `tp`, or -1 when it is free (Kafka's partition epoch)."""
        owner = self.owners.get(tp)
        return -1 if owner is None else self.members[owner].member_epoch

    def owner(self, tp: TopicIdPartition) -> str | None:
        return self.owners.get(tp)

    # --- subscriptions ------------------------------------------------------------------

    def subscribed_topic_names(self, topics: TopicImage) -> frozenset[str]:
        """Every topic some member subscribes to, by name or through its regex."""
        names: set[str] = set()
        for member in self.members.values():
            names.update(member_topics(member, topics))
        return frozenset(names)

    def is_subscribed_to_topic(self, topic: str) -> bool:
        return any(name == topic for name, _, _ in self.subscription_metadata)

    def preferred_assignor(self, default: str) -> str:
        """The server assignor most members ask for (Kafka's computePreferredServerAssignor)."""
        counts = Counter(
            m.server_assignor for m in self.members.values() if m.server_assignor is not None
        )
        if not counts:
            return default
        best = max(counts.values())
        return min(name for name, n in counts.items() if n == best)

    def assignment_sizes(self) -> list[MemberAssignmentSize]:
        return [
            MemberAssignmentSize(m.member_id, m.instance_id, m.client_id, len(m.assigned))
            for m in self.members.values()
        ]


def member_topics(member: ConsumerMember, topics: TopicImage) -> frozenset[str]:
    names = set(member.subscribed_topic_names)
    if member.subscribed_topic_regex:
        names.update(topics_matching(member.subscribed_topic_regex, topics))
    return frozenset(names)


def subscription_metadata(
    names: Iterable[str], topics: TopicImage
) -> tuple[tuple[str, uuid.UUID, int], ...]:
    """(name, id, partitions) of the subscribed topics that exist, sorted by name."""
    found = []
    for name in sorted(set(names)):
        topic = topics.get(name)
        if topic is not None:
            found.append((topic.name, topic.topic_id, topic.partitions))
    return tuple(found)
