"""Rebalance history: why each rebalance of a group happened and how long consumption stopped.

KIP-848 consumer groups (consumer.py) record one entry per group epoch: it opens when the
epoch is bumped (trigger as below; metadata_change also covers subscription and topic changes)
and closes when every member has converged to that epoch's target assignment (Stable), when the
group empties, or when a newer epoch supersedes it ("Superseded"). Members never stop as a
whole there: `stopped_ms` is the longest time a moved partition went unconsumed, from its
release by one member to its hand-over to the next; `generation_id` is the group epoch.

A classic rebalance opens when the group enters PreparingRebalance from Empty/Stable (the cause is
whatever moved it there first) and stays open across back-to-back join rounds (a member joining
during CompletingRebalance restarts the join phase but not the rebalance). It closes when the
group reaches Stable (the leader's SyncGroup) or Empty (everyone left), or is deleted. The
`stopped_ms` figure is end - start: the time from PreparingRebalance to Stable, during which
eager consumers do not consume.

Triggers: join (a new member), leave (LeaveGroup), session_timeout (heartbeat expiry),
poll_timeout (a member missed the rebalance timeout: it did not rejoin, or did not send
SyncGroup, in time), metadata_change (a member rejoined with new metadata, or the leader
rejoined to pick up topic changes), static_member_change (a static member was replaced in a
way that needs a new assignment), offset_reset (katka's live offset reset fenced the members so
they resume from the new offsets: `katka group reset-offsets --live`).

Completed rebalances survive a restart: each is one record in the coordinator's internal log
(history_records.py), `sequence` numbers them, and a group rebuilt at start-up gets its last
`max_entries` back with the counts by trigger.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

logger = logging.getLogger("katka.coordinator")


class RebalanceTrigger(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    SESSION_TIMEOUT = "session_timeout"
    POLL_TIMEOUT = "poll_timeout"
    METADATA_CHANGE = "metadata_change"
    STATIC_MEMBER_CHANGE = "static_member_change"
    OFFSET_RESET = "offset_reset"


@dataclass(frozen=True, slots=True)
class RebalanceCause:
    trigger: RebalanceTrigger
    member_id: str = ""
    client_id: str = ""
    group_instance_id: str | None = None
    reason: str | None = None  # the client's reason (JoinGroup v8+, LeaveGroup v5+)


@dataclass(frozen=True, slots=True)
class RemovedMember:
    member_id: str
    group_instance_id: str | None
    trigger: RebalanceTrigger


@dataclass(frozen=True, slots=True)
class MemberAssignmentSize:
    member_id: str
    group_instance_id: str | None
    client_id: str
    assigned_partitions: int | None  # None: not a consumer group, or unparseable assignment


@dataclass(frozen=True, slots=True)
class RebalanceRecord:
    generation_id: int
    trigger: RebalanceTrigger
    member_id: str
    client_id: str
    group_instance_id: str | None
    reason: str | None
    start_ms: int
    end_ms: int
    stopped_ms: int
    outcome: str  # "Stable", "Empty" or "Dead"
    join_rounds: int
    protocol_name: str | None
    members: tuple[MemberAssignmentSize, ...]
    removed: tuple[RemovedMember, ...]


@dataclass
class _OpenRebalance:
    cause: RebalanceCause
    start_ms: int
    join_rounds: int = 0
    removed: list[RemovedMember] = field(default_factory=list)


class RebalanceHistory:
    """A bounded record of completed rebalances plus the one in progress, if any."""

    def __init__(self, max_entries: int = 50) -> None:
        self.entries: deque[RebalanceRecord] = deque(maxlen=max_entries)
        self._open: _OpenRebalance | None = None
        # Members removed from a Stable group just before the rebalance their removal opens.
        self._removed_before_open: list[RemovedMember] = []
        # Completed rebalances by trigger (entries keep the last few); persisted with each entry.
        self.counts: dict[str, int] = {}
        self.sequence = 0  # completed rebalances ever: the next entry's number

    def restore(
        self, entries: Iterable[RebalanceRecord], counts: dict[str, int], sequence: int
    ) -> None:
        """The completed rebalances the internal log kept (replay at start-up)."""
        self.entries.clear()
        self.entries.extend(entries)
        self.counts = dict(counts)
        self.sequence = sequence

    @property
    def in_progress(self) -> RebalanceCause | None:
        return None if self._open is None else self._open.cause

    def on_prepare(self, cause: RebalanceCause, now_ms: int) -> None:
        if self._open is None:
            self._open = _OpenRebalance(cause, now_ms, removed=self._removed_before_open)
            self._removed_before_open = []

    def on_member_removed(
        self, member_id: str, group_instance_id: str | None, trigger: RebalanceTrigger
    ) -> None:
        removed = RemovedMember(member_id, group_instance_id, trigger)
        if self._open is not None:
            self._open.removed.append(removed)
        else:
            self._removed_before_open = [removed]

    def on_join_completed(self) -> None:
        if self._open is not None:
            self._open.join_rounds += 1

    def complete(
        self,
        *,
        group_id: str,
        generation_id: int,
        outcome: str,
        protocol_name: str | None,
        members: Iterable[MemberAssignmentSize],
        now_ms: int,
        stopped_ms: int | None = None,
    ) -> RebalanceRecord | None:
        """Close the open rebalance; `stopped_ms` defaults to its whole duration (eager)."""
        opened, self._open = self._open, None
        if opened is None:
            return None
        cause = opened.cause
        entry = RebalanceRecord(
            generation_id=generation_id,
            trigger=cause.trigger,
            member_id=cause.member_id,
            client_id=cause.client_id,
            group_instance_id=cause.group_instance_id,
            reason=cause.reason,
            start_ms=opened.start_ms,
            end_ms=now_ms,
            stopped_ms=max(now_ms - opened.start_ms, 0) if stopped_ms is None else stopped_ms,
            outcome=outcome,
            join_rounds=opened.join_rounds,
            protocol_name=protocol_name,
            members=tuple(members),
            removed=tuple(opened.removed),
        )
        self.entries.append(entry)
        self.counts[cause.trigger.value] = self.counts.get(cause.trigger.value, 0) + 1
        self.sequence += 1
        logger.info(
            "group %s rebalance to generation %d ended %s after %d ms (stopped %d ms): "
            "trigger=%s member=%s client=%s instance=%s reason=%r members=%d removed=%d "
            "join_rounds=%d",
            group_id,
            generation_id,
            outcome,
            entry.end_ms - entry.start_ms,
            entry.stopped_ms,
            cause.trigger.value,
            cause.member_id or "-",
            cause.client_id or "-",
            cause.group_instance_id or "-",
            cause.reason,
            len(entry.members),
            len(entry.removed),
            entry.join_rounds,
        )
        return entry
