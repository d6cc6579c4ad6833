"""What a coordinator operation asks the outside world to do, and the timer events.

Domain functions never perform I/O: they collect records to append, answers for other members'
parked JoinGroup/SyncGroup requests, and named timer (re)schedules/cancels in an Effects value
that the service executes after the call returns (records first, then answers, then timers).
A timer event names the group and captures the generation or member deadline it was
scheduled for, so that a late fire can be recognised as stale and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.member import ClassicMember
from katka.coordinator.records import Record
from katka.coordinator.results import JoinGroupResult, SyncGroupResult

TimerKey = tuple[str, ...]


def heartbeat_key(group_id: str, member_id: str) -> TimerKey:
    return ("heartbeat", group_id, member_id)


def join_key(group_id: str) -> TimerKey:
    return ("join", group_id)


def sync_key(group_id: str) -> TimerKey:
    return ("sync", group_id)


@dataclass(frozen=True, slots=True)
class HeartbeatExpiry:
    group_id: str
    member_id: str
    deadline_ms: int
    pending: bool = False  # a member that got MEMBER_ID_REQUIRED and has not rejoined


@dataclass(frozen=True, slots=True)
class JoinExpiry:
    group_id: str
    generation_id: int
    initial_delay_ms: int | None = None  # set for Kafka's InitialDelayedJoin
    remaining_ms: int = 0


@dataclass(frozen=True, slots=True)
class SyncExpiry:
    group_id: str
    generation_id: int


TimerEvent = HeartbeatExpiry | JoinExpiry | SyncExpiry


@dataclass(frozen=True, slots=True)
class TimerOp:
    key: TimerKey
    deadline_ms: int | None  # None: cancel
    event: TimerEvent | None


@dataclass
class Effects:
    records: list[Record] = field(default_factory=list)
    join_responses: dict[str, JoinGroupResult] = field(default_factory=dict)
    sync_responses: dict[str, SyncGroupResult] = field(default_factory=dict)
    timer_ops: list[TimerOp] = field(default_factory=list)

    def schedule(self, key: TimerKey, deadline_ms: int, event: TimerEvent) -> None:
        self.timer_ops.append(TimerOp(key, deadline_ms, event))

    def cancel(self, key: TimerKey) -> None:
        self.timer_ops.append(TimerOp(key, None, None))

    def complete_join(self, member: ClassicMember, result: JoinGroupResult) -> None:
        if member.awaiting_join:
            member.awaiting_join = False
            self.join_responses[member.member_id] = result

    def complete_sync(self, member: ClassicMember, result: SyncGroupResult) -> None:
        if member.awaiting_sync:
            member.awaiting_sync = False
            self.sync_responses[member.member_id] = result


@dataclass
class Context:
    now_ms: int
    config: CoordinatorConfig
    fx: Effects = field(default_factory=Effects)
