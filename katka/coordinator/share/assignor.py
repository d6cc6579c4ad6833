"""The share group assignor: every partition to at least one member, every member at least
one partition (Kafka's SimpleAssignor goal for share groups, where a partition may be shared).

Per topic, with P partitions and the M members subscribed to it in member id order: when
M <= P partition i goes to member i mod M (each partition to one member); when M > P member j
gets partition j mod P (each member one partition, partitions shared by several members).
Deterministic, so every heartbeat computes the same target.
"""

from __future__ import annotations

from collections.abc import Mapping


def assign(
    subscriptions: Mapping[str, tuple[str, ...]], partition_counts: Mapping[str, int]
) -> dict[str, frozenset[tuple[str, int]]]:
    assigned: dict[str, set[tuple[str, int]]] = {member: set() for member in subscriptions}
    for topic, count in sorted(partition_counts.items()):
        members = sorted(m for m, topics in subscriptions.items() if topic in topics)
        if not members or count <= 0:
            continue
        if len(members) <= count:
            for partition in range(count):
                assigned[members[partition % len(members)]].add((topic, partition))
        else:
            for index, member in enumerate(members):
                assigned[member].add((topic, index % count))
    return {member: frozenset(partitions) for member, partitions in assigned.items()}
