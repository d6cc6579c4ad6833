"""A socket-free driver for KIP-848 consumer groups: ManualClock, ManualTimers, a topic image."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from katka.clock import ManualClock
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer.group import ConsumerGroup, Partitions
from katka.coordinator.consumer.heartbeat import HeartbeatRequest, HeartbeatResponse
from katka.coordinator.internal_log import MemoryInternalLog
from katka.coordinator.service import GroupCoordinator
from katka.coordinator.timers import ManualTimers
from katka.errors import ErrorCode

GROUP = "kip848"


@dataclass
class Topic:
    name: str
    topic_id: uuid.UUID
    partitions: int
    internal: bool = False


class Topics:
    def __init__(self, partitions: Mapping[str, int]) -> None:
        self._topics: dict[str, Topic] = {}
        for name, count in partitions.items():
            self.create(name, count)

    def create(self, name: str, partitions: int) -> Topic:
        topic = Topic(name, uuid.uuid5(uuid.NAMESPACE_DNS, name), partitions)
        self._topics[name] = topic
        return topic

    def get(self, name: str) -> Topic | None:
        return self._topics.get(name)

    def by_id(self, topic_id: uuid.UUID) -> Topic | None:
        return next((t for t in self._topics.values() if t.topic_id == topic_id), None)

    def __iter__(self) -> Iterator[Topic]:
        return iter(list(self._topics.values()))

    def id(self, name: str) -> uuid.UUID:
        return self._topics[name].topic_id

    def partition_exists(self, topic: str, partition: int) -> bool:
        found = self._topics.get(topic)
        return found is not None and 0 <= partition < found.partitions


def default_config() -> CoordinatorConfig:
    return CoordinatorConfig(group_initial_rebalance_delay_ms=0)


@dataclass
class Member:
    """What a client knows: its id, epoch and the partitions it owns."""

    member_id: str
    epoch: int = 0
    owned: Partitions = frozenset()
    instance_id: str | None = None


@dataclass
class Kip848:
    config: CoordinatorConfig = field(default_factory=default_config)
    clock: ManualClock = field(default_factory=ManualClock)
    log: MemoryInternalLog = field(default_factory=MemoryInternalLog)
    topics: Topics = field(default_factory=lambda: Topics({"orders": 6, "audit": 2}))

    def __post_init__(self) -> None:
        self.timers = ManualTimers(self.clock)
        self.coordinator = GroupCoordinator(
            self.config,
            self.clock,
            self.timers,
            self.log,
            self.topics.partition_exists,
            self.topics,
        )
        self.coordinator.load()

    def restart(self) -> Kip848:
        self.coordinator.shutdown()
        return Kip848(self.config, self.clock, MemoryInternalLog(self.log.records), self.topics)

    def group(self, group_id: str = GROUP) -> ConsumerGroup:
        return self.coordinator.consumer.groups[group_id]

    def tp(self, topic: str, *partitions: int) -> Partitions:
        return frozenset((self.topics.id(topic), p) for p in partitions)

    # --- requests ---------------------------------------------------------------------

    def heartbeat(
        self,
        member_id: str,
        epoch: int,
        *,
        group: str = GROUP,
        topics: tuple[str, ...] | None = None,
        regex: str | None = None,
        owned: Partitions | None = None,
        instance_id: str | None = None,
        rebalance_timeout_ms: int = -1,
        assignor: str | None = None,
        version: int = 1,
    ) -> HeartbeatResponse:
        return self.coordinator.consumer_group_heartbeat(
            HeartbeatRequest(
                group_id=group,
                member_id=member_id,
                member_epoch=epoch,
                instance_id=instance_id,
                rebalance_timeout_ms=rebalance_timeout_ms,
                subscribed_topic_names=topics,
                subscribed_topic_regex=regex,
                server_assignor=assignor,
                owned_partitions=owned,
                client_id=f"client-{member_id}",
                client_host="/127.0.0.1",
                member_id_required=version >= 1,
            )
        )

    def join(
        self,
        member_id: str,
        topics: tuple[str, ...] = ("orders",),
        *,
        instance_id: str | None = None,
        group: str = GROUP,
        assignor: str | None = None,
        regex: str | None = None,
    ) -> tuple[Member, HeartbeatResponse]:
        response = self.heartbeat(
            member_id,
            0,
            group=group,
            topics=topics,
            regex=regex,
            owned=frozenset(),
            instance_id=instance_id,
            rebalance_timeout_ms=30_000,
            assignor=assignor,
        )
        member = Member(response.member_id or member_id, instance_id=instance_id)
        self.absorb(member, response)
        return member, response

    def absorb(self, member: Member, response: HeartbeatResponse) -> None:
        """What a client does with a response: take the epoch and the new assignment."""
        assert response.error_code is ErrorCode.none, response
        member.epoch = response.member_epoch
        if response.assignment is not None:
            member.owned = response.assignment

    def poll(self, member: Member, *, group: str = GROUP, report: bool = True) -> HeartbeatResponse:
        """A regular heartbeat; `report` sends the owned partitions (an ack, as librdkafka)."""
        response = self.heartbeat(
            member.member_id, member.epoch, group=group, owned=member.owned if report else None
        )
        self.absorb(member, response)
        return response

    def converge(self, *members: Member, group: str = GROUP, rounds: int = 10) -> None:
        for _ in range(rounds):
            for member in members:
                self.poll(member, group=group)
                self.check_no_double_ownership(*members)
            if self.group(group).state.value == "Stable":
                return
        raise AssertionError(f"group did not converge: {self.group(group).state}")

    def check_no_double_ownership(self, *members: Member) -> None:
        seen: set[tuple[uuid.UUID, int]] = set()
        for member in members:
            assert not (seen & member.owned), "a partition is owned by two members"
            seen |= member.owned
