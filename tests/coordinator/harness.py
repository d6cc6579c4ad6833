"""A socket-free driver for GroupCoordinator: ManualClock, ManualTimers, in-memory log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from katka.clock import ManualClock
from katka.coordinator.classic.consumer_protocol import encode_assignment, encode_subscription
from katka.coordinator.classic.requests import JoinGroupRequest, SyncGroupRequest
from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.internal_log import MemoryInternalLog
from katka.coordinator.reply import Reply
from katka.coordinator.results import (
    JoinGroupResult,
    OffsetCommitPartition,
    SyncGroupResult,
)
from katka.coordinator.service import GroupCoordinator
from katka.coordinator.timers import ManualTimers
from katka.errors import ErrorCode

T = TypeVar("T")
GROUP = "group-a"
TOPICS = {"orders": 6, "payments": 3, "audit": 1}


def subscription(*topics: str) -> bytes:
    return encode_subscription(list(topics) or ["orders"], version=1)


@dataclass
class Harness:
    config: CoordinatorConfig = field(
        default_factory=lambda: CoordinatorConfig(group_initial_rebalance_delay_ms=0)
    )
    clock: ManualClock = field(default_factory=ManualClock)
    log: MemoryInternalLog = field(default_factory=MemoryInternalLog)
    topics: Mapping[str, int] = field(default_factory=lambda: dict(TOPICS))

    def __post_init__(self) -> None:
        self.timers = ManualTimers(self.clock)
        self.coordinator = GroupCoordinator(
            self.config, self.clock, self.timers, self.log, self.partition_exists
        )
        self.coordinator.load()

    def partition_exists(self, topic: str, partition: int) -> bool:
        return 0 <= partition < self.topics.get(topic, 0)

    def restart(self) -> Harness:
        """A new coordinator over the same log and clock (a broker restart)."""
        return Harness(self.config, self.clock, MemoryInternalLog(self.log.records), self.topics)

    def advance(self, ms: int) -> None:
        self.timers.advance(ms)

    # --- requests --------------------------------------------------------------------

    def join(
        self,
        member_id: str = "",
        *,
        group: str = GROUP,
        instance: str | None = None,
        client_id: str = "consumer",
        protocols: Sequence[tuple[str, bytes]] | None = None,
        protocol_type: str = "consumer",
        session_timeout_ms: int = 10_000,
        rebalance_timeout_ms: int = 30_000,
        version: int = 9,
        reason: str | None = None,
    ) -> Reply[JoinGroupResult]:
        return self.coordinator.join_group(
            JoinGroupRequest(
                group_id=group,
                member_id=member_id,
                client_id=client_id,
                client_host="/127.0.0.1",
                session_timeout_ms=session_timeout_ms,
                rebalance_timeout_ms=rebalance_timeout_ms,
                protocol_type=protocol_type,
                protocols=tuple(protocols)
                if protocols is not None
                else (("range", subscription()),),
                group_instance_id=instance,
                require_known_member_id=version >= 4,
                supports_skipping_assignment=version >= 9,
                reason=reason,
            )
        )

    def join_new(self, **kwargs: Any) -> Reply[JoinGroupResult]:
        """A fresh member's join: on MEMBER_ID_REQUIRED (v4+ dynamic), rejoin with the id."""
        first = self.join(**kwargs)
        if not first.parked and first.get().error_code is ErrorCode.member_id_required:
            return self.join(first.get().member_id, **kwargs)
        return first

    def sync(
        self,
        member_id: str,
        generation_id: int,
        assignments: Mapping[str, bytes] | None = None,
        *,
        group: str = GROUP,
        instance: str | None = None,
        protocol_type: str | None = None,
        protocol_name: str | None = None,
    ) -> Reply[SyncGroupResult]:
        return self.coordinator.sync_group(
            SyncGroupRequest(
                group_id=group,
                member_id=member_id,
                generation_id=generation_id,
                group_instance_id=instance,
                protocol_type=protocol_type,
                protocol_name=protocol_name,
                assignments=assignments or {},
            )
        )

    def heartbeat(
        self, member_id: str, generation_id: int, *, group: str = GROUP, instance: str | None = None
    ) -> ErrorCode:
        return self.coordinator.heartbeat(group, member_id, generation_id, instance).error_code

    def commit(
        self,
        member_id: str,
        generation_id: int,
        offsets: Mapping[tuple[str, int], int],
        *,
        group: str = GROUP,
        instance: str | None = None,
        metadata: str = "",
        api_version: int = 8,
    ) -> dict[tuple[str, int], ErrorCode]:
        result = self.coordinator.commit_offsets(
            group,
            member_id,
            generation_id,
            [
                OffsetCommitPartition(
                    t, p, o, committed_leader_epoch=5, committed_metadata=metadata
                )
                for (t, p), o in offsets.items()
            ],
            group_instance_id=instance,
            member_epoch_capable=api_version >= 9,
        )
        return {(r.topic, r.partition): r.error_code for r in result.partitions}

    def state(self, group: str = GROUP) -> str:
        described = self.coordinator.describe_groups([group])[0]
        return described.group_state

    # --- scenarios -------------------------------------------------------------------

    def stable_group(
        self, n: int, *, static: bool = False, group: str = GROUP, **kwargs: Any
    ) -> StableGroup:
        """n members join, the leader assigns partitions of `orders`, everyone syncs."""
        replies = []
        for i in range(n):
            instance = f"instance-{i}" if static else None
            reply = self.join_new(
                group=group, instance=instance, client_id=f"consumer-{i}", **kwargs
            )
            replies.append(reply)
        self.timers.run_due()  # the initial delayed join (delay 0 in tests)
        results = [r.get() for r in replies]
        assert all(r.error_code is ErrorCode.none for r in results), results
        leader = results[0].leader_id
        generation = results[0].generation_id
        member_ids = [r.member_id for r in results]
        assignments = {
            m: encode_assignment({"orders": [p for p in range(6) if p % n == i]})
            for i, m in enumerate(member_ids)
        }
        syncs = [
            self.sync(
                m,
                generation,
                assignments if m == leader else None,
                group=group,
                instance=f"instance-{i}" if static else None,
            )
            for i, m in enumerate(member_ids)
        ]
        assert all(s.get().error_code is ErrorCode.none for s in syncs)
        assert self.state(group) == "Stable"
        return StableGroup(member_ids, leader, generation, assignments)


@dataclass
class StableGroup:
    member_ids: list[str]
    leader: str
    generation: int
    assignments: dict[str, bytes]

    @property
    def followers(self) -> list[str]:
        return [m for m in self.member_ids if m != self.leader]
