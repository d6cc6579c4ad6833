"""Classic groups' generations as Kafka records them in `__consumer_offsets`.

Kafka's DescribeGroups carries no generation, but its group coordinator writes a
GroupMetadataValue (generation, members, their assignments and session timeouts, the time)
each time a classic group completes a rebalance, to a topic any client can read. Read from
the start, those records are the group's generations over time, including the ones before the
console started (as far as compaction kept them): exact generation numbers and end times, and
no rebalance missed between two polls. The decoding is katka's own (coordinator/records.py),
which writes the same records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from katka.admin.observer import GroupSnapshot, MemberSnapshot
from katka.cli.common import Connection
from katka.coordinator.classic.consumer_protocol import ConsumerProtocolError, parse_assignment
from katka.coordinator.records import GroupKey, RecordError, decode_group_value, decode_key

OFFSETS_TOPIC = "__consumer_offsets"
# How long one poll spends catching up on the topic (the rest waits for the next poll).
READ_BUDGET_S = 1.0


@dataclass(frozen=True, slots=True)
class Generation:
    snapshot: GroupSnapshot  # settled: Stable with its members, or Empty
    timestamp_ms: int  # when the coordinator wrote it (-1: an old record without the time)
    session_timeout_ms: int | None


def decode_generation(key: bytes | None, value: bytes | None) -> Generation | None:
    """A classic group's generation from one record; None for every other record (offsets,
    KIP-848 and share group records, tombstones, what cannot be decoded)."""
    if key is None or value is None:
        return None
    try:
        decoded = decode_key(key)
        if not isinstance(decoded, GroupKey):
            return None
        group = decode_group_value(value)
    except RecordError:
        return None
    members = tuple(
        MemberSnapshot(
            member_id=m.member_id,
            client_id=m.client_id,
            client_host=m.client_host,
            group_instance_id=m.group_instance_id,
            assignment=_partitions(m.assignment),
        )
        for m in group.members
    )
    timeouts = [m.session_timeout_ms for m in group.members]
    return Generation(
        GroupSnapshot(
            group_id=decoded.group_id,
            state="Stable" if members else "Empty",
            protocol_name=group.protocol_name or "",
            generation_id=group.generation_id,
            members=members,
        ),
        group.current_state_timestamp_ms,
        max(timeouts) if timeouts else None,
    )


def _partitions(assignment: bytes) -> tuple[tuple[str, int], ...]:
    if not assignment:
        return ()
    try:
        parsed = parse_assignment(assignment)
    except ConsumerProtocolError:
        return ()
    return tuple(sorted((topic, p) for topic, ids in parsed.partitions for p in ids))


class GenerationReader:
    """Follows `__consumer_offsets` from its start with one consumer kept across polls."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._consumer: Any = None
        self.unreadable: str | None = None  # why the topic cannot be read (then: polling only)

    def read(self, partitions: int) -> list[Generation]:
        """The generations written since the last read, oldest first per partition."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        if self.unreadable is not None or partitions == 0:
            return []
        if self._consumer is None:
            self._consumer = self.connection.consumer(
                "katka-console", **{"enable.partition.eof": True, "fetch.wait.max.ms": 100}
            )
            self._consumer.assign(
                [TopicPartition(OFFSETS_TOPIC, p, OFFSET_BEGINNING) for p in range(partitions)]
            )
        found: list[Generation] = []
        at_end: set[int] = set()
        deadline = time.monotonic() + READ_BUDGET_S
        while len(at_end) < partitions and time.monotonic() < deadline:
            message = self._consumer.poll(0.1)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == -191:  # _PARTITION_EOF: caught up on this partition
                    at_end.add(message.partition())
                elif error.fatal() or "AUTHORIZATION" in error.name():
                    self.unreadable = error.str()
                    return found
                continue
            at_end.discard(message.partition())
            generation = decode_generation(message.key(), message.value())
            if generation is not None:
                found.append(generation)
        return found

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
