"""A classic consumer group's membership and generation (Kafka's ClassicGroup).

This module keeps the bookkeeping invariants (protocol vote counts, the static member map, the
leader, pending members) and answers questions about them; the decisions of the protocol
(JoinGroup, SyncGroup, ...) live in classic.py.

Pending members received MEMBER_ID_REQUIRED and have not rejoined yet; they hold up the join
phase until they rejoin or their session times out. Pending sync members are the members of a
new generation that have not sent SyncGroup yet (Kafka's pendingSyncMembers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from uuid import uuid4

from katka.coordinator.classic.consumer_protocol import (
    PROTOCOL_TYPE,
    ConsumerProtocolError,
    assigned_partition_count,
    parse_subscription,
)
from katka.coordinator.classic.member import ClassicMember
from katka.coordinator.classic.state import GroupState, GroupStateMachine
from katka.coordinator.history import MemberAssignmentSize, RebalanceHistory
from katka.coordinator.results import JoinGroupMember
from katka.errors import ErrorCode


class ClassicGroup(GroupStateMachine):
    def __init__(
        self,
        group_id: str,
        now_ms: int,
        *,
        state: GroupState = GroupState.EMPTY,
        history_size: int = 50,
    ) -> None:
        super().__init__(state, now_ms)
        self.group_id = group_id
        self.generation_id = 0
        self.protocol_type: str | None = None
        self.protocol_name: str | None = None
        self.leader_id: str | None = None
        self.members: dict[str, ClassicMember] = {}
        self.static_members: dict[str, str] = {}  # group_instance_id -> member_id
        self.pending_members: dict[str, int] = {}  # member_id -> session expiry deadline
        self.pending_sync_members: set[str] = set()
        self.supported_protocols: Counter[str] = Counter()
        # Set when a member joins during the initial delayed join, to extend the delay.
        self.new_member_added = False
        self.subscribed_topics: frozenset[str] | None = None
        self.history = RebalanceHistory(history_size)

    # --- membership -------------------------------------------------------------------

    def __contains__(self, member_id: str) -> bool:
        return member_id in self.members

    def get(self, member_id: str) -> ClassicMember:
        return self.members[member_id]

    def all_members(self) -> Iterator[ClassicMember]:
        return iter(list(self.members.values()))

    @property
    def size(self) -> int:
        return len(self.members)

    def is_leader(self, member_id: str) -> bool:
        return self.leader_id == member_id

    def is_pending(self, member_id: str) -> bool:
        return member_id in self.pending_members

    def add(self, member: ClassicMember) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        if self.leader_id is None:
            self.leader_id = member.member_id
        self.members[member.member_id] = member
        self.supported_protocols.update(member.protocol_names())
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id
        self.pending_members.pop(member.member_id, None)

    def remove(self, member_id: str) -> ClassicMember | None:
        member = self.members.pop(member_id, None)
        if member is not None:
            self.supported_protocols.subtract(member.protocol_names())
            self.supported_protocols += Counter()  # drop zero counts
            if member.group_instance_id is not None:
                self.static_members.pop(member.group_instance_id, None)
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        self.pending_members.pop(member_id, None)
        self.pending_sync_members.discard(member_id)
        return member

    def update_member(
        self,
        member: ClassicMember,
        protocols: Sequence[tuple[str, bytes]],
        rebalance_timeout_ms: int,
        session_timeout_ms: int,
        *,
        awaiting_join: bool,
    ) -> None:
        self.supported_protocols.subtract(member.protocol_names())
        member.protocols = tuple(protocols)
        self.supported_protocols.update(member.protocol_names())
        self.supported_protocols += Counter()
        member.rebalance_timeout_ms = rebalance_timeout_ms
        member.session_timeout_ms = session_timeout_ms
        member.awaiting_join = awaiting_join

    def generate_member_id(self, client_id: str, group_instance_id: str | None) -> str:
        # As Kafka: static members are prefixed by their instance id, others by client id.
        prefix = group_instance_id if group_instance_id is not None else client_id
        return f"{prefix}-{uuid4()}"

    # --- static membership -----------------------------------------------------------

    def replace_static_member(
        self, group_instance_id: str, old_member_id: str, new_member_id: str
    ) -> ClassicMember:
        """Give a known static member a new member id; the caller fences the old one."""
        member = self.members.pop(old_member_id)
        member.member_id = new_member_id
        self.members[new_member_id] = member
        if self.leader_id == old_member_id:
            self.leader_id = new_member_id
        self.static_members[group_instance_id] = new_member_id
        if old_member_id in self.pending_sync_members:
            self.pending_sync_members.discard(old_member_id)
            self.pending_sync_members.add(new_member_id)
        return member

    def is_static_member_fenced(self, group_instance_id: str | None, member_id: str) -> bool:
        if group_instance_id is None:
            return False
        current = self.static_members.get(group_instance_id)
        return current is not None and current != member_id

    def validate_current_member(
        self, member_id: str, group_instance_id: str | None
    ) -> ErrorCode | None:
        """Kafka's validateCurrentMember: the instance id maps to member_id, which exists."""
        if self.is_static_member_fenced(group_instance_id, member_id):
            return ErrorCode.fenced_instance_id
        if member_id not in self.members:
            return ErrorCode.unknown_member_id
        return None

    # --- join phase -------------------------------------------------------------------

    @property
    def rebalance_timeout_ms(self) -> int:
        """The join phase waits as long as the most patient member allows."""
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def num_awaiting_join(self) -> int:
        return sum(1 for m in self.members.values() if m.awaiting_join)

    def has_all_members_joined(self) -> bool:
        return self.num_awaiting_join() == len(self.members) and not self.pending_members

    def not_yet_rejoined_members(self) -> list[ClassicMember]:
        return [m for m in self.members.values() if not m.awaiting_join]

    def maybe_elect_new_joined_leader(self) -> bool:
        """Keep the leader if it rejoined, else pick any member that did; False if none did."""
        if self.leader_id is None:
            return False
        if self.members[self.leader_id].awaiting_join:
            return True
        for member in self.members.values():
            if member.awaiting_join:
                self.leader_id = member.member_id
                return True
        return False

    def supports_protocols(self, protocol_type: str, protocol_names: Sequence[str]) -> bool:
        if self.is_state(GroupState.EMPTY):
            return bool(protocol_type) and bool(protocol_names)
        return self.protocol_type == protocol_type and any(
            self.supported_protocols[name] == len(self.members) for name in protocol_names
        )

    def candidate_protocols(self) -> list[str]:
        return [name for name, n in self.supported_protocols.items() if n == len(self.members)]

    def select_protocol(self) -> str:
        """The protocol every member supports that most members prefer (Kafka's vote).

        Kafka breaks ties arbitrarily (hash order); we break them by member join order,
        which is deterministic and still a valid Kafka outcome.
        """
        if not self.members:
            raise ValueError("cannot select a protocol for an empty group")
        candidates = self.candidate_protocols()
        votes: Counter[str] = Counter(m.vote(candidates) for m in self.members.values())
        best = max(votes.values())
        return next(name for name, n in votes.items() if n == best)

    def init_next_generation(self, now_ms: int) -> None:
        self.generation_id += 1
        if self.members:
            self.protocol_name = self.select_protocol()
            self.subscribed_topics = self.compute_subscribed_topics()
            self.transition_to(GroupState.COMPLETING_REBALANCE, now_ms)
        else:
            self.protocol_name = None
            self.subscribed_topics = self.compute_subscribed_topics()
            self.transition_to(GroupState.EMPTY, now_ms)
        self.pending_sync_members.clear()
        self.history.on_join_completed()

    def current_member_metadata(self) -> tuple[JoinGroupMember, ...]:
        """What the leader receives in its JoinGroup response to compute assignments."""
        assert self.protocol_name is not None
        return tuple(
            JoinGroupMember(m.member_id, m.group_instance_id, m.metadata(self.protocol_name))
            for m in self.members.values()
        )

    # --- consumer protocol ------------------------------------------------------------

    def compute_subscribed_topics(self) -> frozenset[str] | None:
        """Topics the members subscribe to, when the group uses the consumer protocol."""
        if self.protocol_type != PROTOCOL_TYPE:
            return None
        if not self.members:
            return frozenset()
        if self.protocol_name is None:
            return None
        topics: set[str] = set()
        try:
            for member in self.members.values():
                topics.update(parse_subscription(member.metadata(self.protocol_name)).topics)
        except (ConsumerProtocolError, KeyError):
            return None
        return frozenset(topics)

    def is_subscribed_to_topic(self, topic: str) -> bool:
        return self.subscribed_topics is not None and topic in self.subscribed_topics

    def assignment_sizes(self) -> list[MemberAssignmentSize]:
        consumer = self.protocol_type == PROTOCOL_TYPE
        return [
            MemberAssignmentSize(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                assigned_partition_count(m.assignment) if consumer else None,
            )
            for m in self.members.values()
        ]
