"""Rebalance history of a group that katka does not coordinate, inferred from polled snapshots.

A Kafka cluster keeps no rebalance history and DescribeGroups carries no generation, so
`katka console --bootstrap-server` observes each group over time: a poll that finds the group
in PreparingRebalance/CompletingRebalance opens a rebalance; the next poll that finds it settled
(Stable, Empty, Dead) closes it. A settled group whose members or assignments differ from the
last settled view had a rebalance between two polls. The trigger is read from the membership
change: a member that appeared is a `join` (even if it left again before the group settled: a
flapping member), one that disappeared a `leave` (the protocol does not tell a LeaveGroup from
a session timeout), otherwise the assignment changed (`metadata_change`).

When the group's generations can be read too (a classic group's GroupMetadataValue records in
`__consumer_offsets`: on_generation), each generation closes a rebalance at the time Kafka wrote
it, with its number, so none is missed between polls; polls then only say when a rebalance
started (the first poll that saw the group rebalancing; `stopped_ms` is None without one).

Entries have the shape of katka's own (coordinator/history.py RebalanceRecord), plus
`observed: true` and the poll interval as `resolution_ms`: times are known to within one poll,
and, from polls alone, a rebalance that starts and ends between two polls without changing
anything is missed. Plain code over values (no clients, no clock): tests feed snapshots.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

SETTLED_STATES = ("Stable", "Empty", "Dead")


@dataclass(frozen=True, slots=True)
class MemberSnapshot:
    member_id: str
    client_id: str
    client_host: str
    group_instance_id: str | None
    assignment: tuple[tuple[str, int], ...]  # sorted (topic, partition)

    @property
    def label(self) -> str:
        """What survives a restart (storms.member_label's order)."""
        return self.group_instance_id or self.client_id or self.member_id


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    group_id: str
    state: str  # Kafka's spelling: Stable, PreparingRebalance, ...
    protocol_name: str
    generation_id: int | None  # a KIP-848 group epoch when known; classic groups: None
    members: tuple[MemberSnapshot, ...]

    @property
    def settled(self) -> bool:
        return self.state in SETTLED_STATES

    def shape(self) -> tuple[Any, ...]:
        """What a rebalance changes: the members, their assignments, the generation."""
        members = tuple(sorted((m.member_id, m.assignment) for m in self.members))
        return (members, self.generation_id)


@dataclass
class _OpenRebalance:
    start_ms: int
    seen: dict[str, MemberSnapshot]  # every member seen while it was open, by member id


class GenerationObserver:
    """The rebalances of one group, oldest first, as seen by polling it."""

    def __init__(self, resolution_ms: int, max_entries: int = 50) -> None:
        self.resolution_ms = resolution_ms
        self.entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self.counts: Counter[str] = Counter()  # completed rebalances by trigger
        self.state_changed_ms: int | None = None
        self.generation_id: int | None = None  # the last generation read (on_generation)
        self.session_timeout_ms: int | None = None
        self._settled: GroupSnapshot | None = None
        self._open: _OpenRebalance | None = None
        self._state: str | None = None

    def observe(self, snapshot: GroupSnapshot, now_ms: int) -> None:
        """One poll's view of the group (DescribeGroups)."""
        if snapshot.state != self._state:
            self._state = snapshot.state
            self.state_changed_ms = now_ms
        if not snapshot.settled:
            if self._open is None:
                self._open = _OpenRebalance(now_ms, {})
            self._open.seen.update((m.member_id, m) for m in snapshot.members)
            return
        if self.generation_id is not None:
            return  # the generations close rebalances (on_generation)
        self._settle(snapshot, now_ms)

    def on_generation(
        self, snapshot: GroupSnapshot, timestamp_ms: int, session_timeout_ms: int | None
    ) -> None:
        """A generation the coordinator wrote (settled: Stable with its members, or Empty)."""
        if self.generation_id is not None and (snapshot.generation_id or 0) <= self.generation_id:
            return  # read again (a restarted read): already seen
        if self.generation_id is None:
            self._settled = None  # the generations replace a baseline taken from polls
        self.generation_id = snapshot.generation_id
        if session_timeout_ms is not None:
            self.session_timeout_ms = session_timeout_ms
        opened = self._open
        if opened is not None and opened.start_ms > timestamp_ms:
            self._open = None  # a later rebalance than this generation's: kept for the next one
            self._settle(snapshot, timestamp_ms)
            self._open = opened
            return
        self._settle(snapshot, timestamp_ms)

    def _settle(self, snapshot: GroupSnapshot, now_ms: int) -> None:
        before, opened = self._settled, self._open
        self._settled, self._open = snapshot, None
        if before is None:
            return  # the first settled view is the baseline: nothing to compare with yet
        if opened is None and snapshot.shape() == before.shape():
            return
        self._record(before, snapshot, opened, now_ms)

    def _record(
        self,
        before: GroupSnapshot,
        after: GroupSnapshot,
        opened: _OpenRebalance | None,
        now_ms: int,
    ) -> None:
        previous = {m.member_id: m for m in before.members}
        current = {m.member_id: m for m in after.members}
        seen = {**(opened.seen if opened else {}), **current}
        joined = [m for member_id, m in seen.items() if member_id not in previous]
        left = [m for member_id, m in previous.items() if member_id not in current]
        # A member that joined and is gone again is the one worth naming (it flaps).
        joined.sort(key=lambda m: (m.member_id in current, m.label))
        if joined:
            trigger, who = "join", joined[0]
        elif left:
            trigger, who = "leave", sorted(left, key=lambda m: m.label)[0]
        else:
            trigger, who = "metadata_change", None
        start_ms = opened.start_ms if opened else now_ms
        # Without a poll that saw it rebalancing: a change between two polls (at most one poll
        # long), or, from a generation record, unknown.
        stopped_ms: int | None = now_ms - start_ms
        if opened is None and self.generation_id is not None:
            stopped_ms = None
        self.counts[trigger] += 1
        self.entries.append(
            {
                "generation_id": after.generation_id,
                "trigger": trigger,
                "member_id": who.member_id if who else "",
                "client_id": who.client_id if who else "",
                "group_instance_id": who.group_instance_id if who else None,
                "reason": _reason(trigger, joined, left, current),
                "start_ms": start_ms,
                "end_ms": now_ms,
                "stopped_ms": stopped_ms,
                "outcome": after.state,
                "join_rounds": None,
                "protocol_name": after.protocol_name or None,
                "members": [
                    {
                        "member_id": m.member_id,
                        "group_instance_id": m.group_instance_id,
                        "client_id": m.client_id,
                        "assigned_partitions": len(m.assignment),
                        "assignment": [f"{t}-{p}" for t, p in m.assignment],
                    }
                    for m in sorted(after.members, key=lambda m: m.label)
                ],
                "removed": [
                    {
                        "member_id": m.member_id,
                        "group_instance_id": m.group_instance_id,
                        "trigger": "leave",
                    }
                    for m in left
                ],
                "observed": True,
                "resolution_ms": self.resolution_ms,
            }
        )


def _reason(
    trigger: str,
    joined: list[MemberSnapshot],
    left: list[MemberSnapshot],
    current: dict[str, MemberSnapshot],
) -> str:
    parts = []
    if joined:
        names = ", ".join(m.label for m in joined)
        gone = [m.label for m in joined if m.member_id not in current]
        parts.append(f"joined: {names}" + (f" (gone again: {', '.join(gone)})" if gone else ""))
    if left:
        parts.append(
            f"left or timed out: {', '.join(m.label for m in left)}"
            " (the Kafka protocol does not say which)"
        )
    if trigger == "metadata_change":
        parts.append("assignment changed with the same members")
    return "; ".join(parts)
