"""The classic protocol's named timers and the events they fire with.

Heartbeat timers are per member, join and sync timers per group. Each event captures the
member deadline or the generation it was scheduled for; rebalance.on_timer ignores stale ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from katka.coordinator.effects import TimerKey


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


ClassicTimerEvent = HeartbeatExpiry | JoinExpiry | SyncExpiry
