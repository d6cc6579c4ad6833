"""What a coordinator operation asks the outside world to do: one Effects, one Context.

Domain functions of every group protocol never perform I/O: they collect records to append,
answers for other members' parked requests (classic JoinGroup/SyncGroup) and named timer
(re)schedules/cancels in an Effects value that the service executes after the call returns
(records first, then timers, then answers). A timer event names its group and captures what
it was scheduled for (a generation, a member's deadline or epoch), so that a late fire can be
recognised as stale and ignored; each protocol defines its own events (classic/timeouts.py,
consumer/timeouts.py) and the manager that scheduled one receives it when it fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.records import Record
from katka.coordinator.results import JoinGroupResult, SyncGroupResult
from katka.coordinator.topics import NoTopics, TopicImage

TimerKey = tuple[str, ...]


class TimerEvent(Protocol):
    """What a fired timer carries back to the manager that scheduled it."""

    @property
    def group_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class TimerOp:
    key: TimerKey
    deadline_ms: int | None  # None: cancel
    event: TimerEvent | None


@dataclass
class Effects:
    records: list[Record] = field(default_factory=list)
    timer_ops: list[TimerOp] = field(default_factory=list)
    # Answers for parked classic requests, by (group id, member id).
    join_responses: dict[tuple[str, str], JoinGroupResult] = field(default_factory=dict)
    sync_responses: dict[tuple[str, str], SyncGroupResult] = field(default_factory=dict)

    def schedule(self, key: TimerKey, deadline_ms: int, event: TimerEvent) -> None:
        self.timer_ops.append(TimerOp(key, deadline_ms, event))

    def cancel(self, key: TimerKey) -> None:
        self.timer_ops.append(TimerOp(key, None, None))


@dataclass
class Context:
    """The time and configuration an operation runs with, and where its effects go."""

    now_ms: int
    config: CoordinatorConfig
    topics: TopicImage = field(default_factory=NoTopics)
    fx: Effects = field(default_factory=Effects)
    # Group configs by group id (kafka-configs --entity-type groups), over the broker's.
    group_configs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def session_timeout_ms(self, group_id: str) -> int:
        """A consumer group's (KIP-848) session timeout: its consumer.session.timeout.ms,
        else the broker's group.consumer.session.timeout.ms."""
        own = self.group_configs.get(group_id, {}).get("consumer.session.timeout.ms")
        return int(own) if own is not None else self.config.consumer_session_timeout_ms

    def heartbeat_interval_ms(self, group_id: str) -> int:
        own = self.group_configs.get(group_id, {}).get("consumer.heartbeat.interval.ms")
        return int(own) if own is not None else self.config.consumer_heartbeat_interval_ms
