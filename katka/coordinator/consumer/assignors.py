"""Server-side assignors for KIP-848 consumer groups: `uniform` (the default) and `range`.

Both are pure functions of the members' subscriptions (topic ids), the partition counts of the
subscribed topics and the previous target assignment; they return a complete new target.

uniform (Kafka's UniformAssignor): balanced by partition count and sticky. Every member keeps
the partitions of its previous target that still exist and that it still subscribes to; free
partitions go to the least loaded member that subscribes to their topic; then partitions move
one at a time from the most to the least loaded eligible member until no move narrows a gap of
two or more. With identical subscriptions every member ends with floor or ceil of the average
and only the excess moves, which is what keeps a fourth member's arrival cheap for the others.
Kafka's rack-aware placement is not implemented.

range (Kafka's RangeAssignor): per topic, the subscribed members sorted by instance id (static
members) or member id, each taking a contiguous range; the first `partitions % members` take
one extra. Not sticky, like the client-side range assignor it mirrors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from katka.coordinator.records import TopicIdPartition

Partitions = frozenset[TopicIdPartition]


@dataclass(frozen=True, slots=True)
class MemberSpec:
    member_id: str
    instance_id: str | None
    topics: frozenset[uuid.UUID]  # subscribed topics that exist
    current: Partitions  # the member's previous target assignment

    @property
    def sort_key(self) -> tuple[str, str]:
        return (self.instance_id or "", self.member_id)


Assignor = Callable[[Mapping[str, MemberSpec], Mapping[uuid.UUID, int]], dict[str, Partitions]]


def assign_uniform(
    members: Mapping[str, MemberSpec], topics: Mapping[uuid.UUID, int]
) -> dict[str, Partitions]:
    def eligible(member: MemberSpec, tp: TopicIdPartition) -> bool:
        topic_id, partition = tp
        return topic_id in member.topics and 0 <= partition < topics.get(topic_id, 0)

    order = sorted(members.values(), key=lambda m: m.sort_key)
    assigned: dict[str, set[TopicIdPartition]] = {m.member_id: set() for m in order}
    owned: set[TopicIdPartition] = set()
    for member in order:
        for tp in sorted(member.current):
            if tp not in owned and eligible(member, tp):
                assigned[member.member_id].add(tp)
                owned.add(tp)
    subscribed = {t for m in order for t in m.topics if t in topics}
    # Interleave topics (partition 0 of every topic, then 1, ...) so that free partitions
    # of several topics spread across members instead of one topic landing on one member.
    free = sorted(
        ((t, p) for t in subscribed for p in range(topics[t]) if (t, p) not in owned),
        key=lambda tp: (tp[1], str(tp[0])),
    )
    for tp in free:
        candidates = [m for m in order if eligible(m, tp)]
        if candidates:
            target = min(candidates, key=lambda m: len(assigned[m.member_id]))
            assigned[target.member_id].add(tp)
    _balance(order, assigned, eligible)
    return {member_id: frozenset(tps) for member_id, tps in assigned.items()}


def _balance(
    order: list[MemberSpec],
    assigned: dict[str, set[TopicIdPartition]],
    eligible: Callable[[MemberSpec, TopicIdPartition], bool],
) -> None:
    """Move partitions from loaded to light members while that narrows a gap of two or more."""
    total = sum(len(tps) for tps in assigned.values())
    for _ in range(total * max(len(order), 1) + 1):  # every move reduces the imbalance
        moved = False
        for heavy in sorted(order, key=lambda m: -len(assigned[m.member_id])):
            heavy_count = len(assigned[heavy.member_id])
            for tp in sorted(assigned[heavy.member_id], reverse=True):
                lighter = [
                    m
                    for m in order
                    if m is not heavy
                    and len(assigned[m.member_id]) + 1 < heavy_count
                    and eligible(m, tp)
                ]
                if lighter:
                    light = min(lighter, key=lambda m: len(assigned[m.member_id]))
                    assigned[heavy.member_id].discard(tp)
                    assigned[light.member_id].add(tp)
                    moved = True
                    break
            if moved:
                break
        if not moved:
            return


def assign_range(
    members: Mapping[str, MemberSpec], topics: Mapping[uuid.UUID, int]
) -> dict[str, Partitions]:
    assigned: dict[str, set[TopicIdPartition]] = {member_id: set() for member_id in members}
    for topic_id, partition_count in sorted(topics.items(), key=lambda item: str(item[0])):
        subscribers = sorted(
            (m for m in members.values() if topic_id in m.topics), key=lambda m: m.sort_key
        )
        if not subscribers:
            continue
        per_member, extra = divmod(partition_count, len(subscribers))
        start = 0
        for index, member in enumerate(subscribers):
            count = per_member + (1 if index < extra else 0)
            assigned[member.member_id].update((topic_id, p) for p in range(start, start + count))
            start += count
    return {member_id: frozenset(tps) for member_id, tps in assigned.items()}


ASSIGNORS: dict[str, Assignor] = {"uniform": assign_uniform, "range": assign_range}
