"""The consumer protocol's named timers (per member) and the events they fire with.

A session expiry captures the deadline it was scheduled for, a rebalance expiry the member
epoch whose revocation it waits for; heartbeat.on_timer ignores stale ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from katka.coordinator.effects import TimerKey


def session_key(group_id: str, member_id: str) -> TimerKey:
    return ("consumer-session", group_id, member_id)


def rebalance_key(group_id: str, member_id: str) -> TimerKey:
    return ("consumer-rebalance", group_id, member_id)


@dataclass(frozen=True, slots=True)
class SessionExpiry:
    group_id: str
    member_id: str
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class RebalanceExpiry:
    group_id: str
    member_id: str
    member_epoch: int


ConsumerTimerEvent = SessionExpiry | RebalanceExpiry
