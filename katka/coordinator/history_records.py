"""Rebalance history in the coordinator's internal log, so it survives a restart (katka only).

Each completed rebalance of a group is one record. Its key is (group id, slot) with slot =
sequence % rebalance_history_size, so a group never has more live records than the history
keeps: a new rebalance overwrites the oldest, compaction keeps exactly what the views show, and
replay is bounded. The value carries the entry, its sequence number (replay orders slots by it)
and the counts by trigger as of that entry (the latest one wins). Removing a group tombstones its
slots.

Record type 32001 is katka's own, far from Kafka's record types: tools that read
`__consumer_offsets` skip a record type they do not know (Burrow does, as it skips KIP-848's).
The value is an int16 version then a struct in Kafka's schema language (protocol/message_schema).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from katka.coordinator.history import (
    MemberAssignmentSize,
    RebalanceHistory,
    RebalanceRecord,
    RebalanceTrigger,
    RemovedMember,
)
from katka.coordinator.records import Record
from katka.protocol.message_schema import Field, Message, SchemaError, decode, encode

logger = logging.getLogger("katka.coordinator")

HISTORY_RECORD_TYPE = 32001
HISTORY_VALUE_VERSION = 0
_I16 = struct.Struct(">h")

HISTORY_KEY = Message(
    "KatkaRebalanceHistoryKey", "0", "none", (Field("group_id", "string"), Field("slot", "int32"))
)
HISTORY_VALUE = Message(
    "KatkaRebalanceHistoryValue",
    "0",
    "none",
    (
        Field("sequence", "int64"),
        Field("generation_id", "int32"),
        Field("trigger", "string"),
        Field("member_id", "string"),
        Field("client_id", "string"),
        Field("group_instance_id", "string", nullable_versions="0+"),
        Field("reason", "string", nullable_versions="0+"),
        Field("start_ms", "int64"),
        Field("end_ms", "int64"),
        Field("stopped_ms", "int64"),
        Field("outcome", "string"),
        Field("join_rounds", "int32"),
        Field("protocol_name", "string", nullable_versions="0+"),
        Field(
            "members",
            "[]",
            fields=(
                Field("member_id", "string"),
                Field("group_instance_id", "string", nullable_versions="0+"),
                Field("client_id", "string"),
                Field("assigned_partitions", "int32"),  # -1: unknown
            ),
        ),
        Field(
            "removed",
            "[]",
            fields=(
                Field("member_id", "string"),
                Field("group_instance_id", "string", nullable_versions="0+"),
                Field("trigger", "string"),
            ),
        ),
        Field("counts", "[]", fields=(Field("trigger", "string"), Field("count", "int32"))),
    ),
)


@dataclass(frozen=True, slots=True)
class HistoryKey:
    group_id: str
    slot: int


def is_history_key(key: bytes) -> bool:
    return len(key) >= 2 and _I16.unpack_from(key, 0)[0] == HISTORY_RECORD_TYPE


def history_key(group_id: str, slot: int) -> bytes:
    return _I16.pack(HISTORY_RECORD_TYPE) + encode(
        HISTORY_KEY, 0, {"group_id": group_id, "slot": slot}
    )


def decode_history_key(key: bytes) -> HistoryKey:
    fields = decode(HISTORY_KEY, 0, key, 2)
    return HistoryKey(fields["group_id"], fields["slot"])


def history_record(group_id: str, history: RebalanceHistory, entry: RebalanceRecord) -> Record:
    """The record of `entry`, just completed (the history's latest)."""
    sequence = history.sequence - 1
    slot = sequence % (history.entries.maxlen or 1)
    values: dict[str, Any] = {
        "sequence": sequence,
        "generation_id": entry.generation_id,
        "trigger": entry.trigger.value,
        "member_id": entry.member_id,
        "client_id": entry.client_id,
        "group_instance_id": entry.group_instance_id,
        "reason": entry.reason,
        "start_ms": entry.start_ms,
        "end_ms": entry.end_ms,
        "stopped_ms": entry.stopped_ms,
        "outcome": entry.outcome,
        "join_rounds": entry.join_rounds,
        "protocol_name": entry.protocol_name,
        "members": [
            {
                "member_id": m.member_id,
                "group_instance_id": m.group_instance_id,
                "client_id": m.client_id,
                "assigned_partitions": -1
                if m.assigned_partitions is None
                else m.assigned_partitions,
            }
            for m in entry.members
        ],
        "removed": [
            {
                "member_id": r.member_id,
                "group_instance_id": r.group_instance_id,
                "trigger": r.trigger.value,
            }
            for r in entry.removed
        ],
        "counts": [{"trigger": t, "count": n} for t, n in sorted(history.counts.items())],
    }
    value = _I16.pack(HISTORY_VALUE_VERSION) + encode(HISTORY_VALUE, HISTORY_VALUE_VERSION, values)
    return history_key(group_id, slot), value


def _decode_value(data: bytes) -> tuple[int, RebalanceRecord, dict[str, int]]:
    (version,) = _I16.unpack_from(data, 0)
    if version != HISTORY_VALUE_VERSION:
        raise SchemaError(f"unknown rebalance history value version {version}")
    f = decode(HISTORY_VALUE, version, data, 2)
    entry = RebalanceRecord(
        generation_id=f["generation_id"],
        trigger=RebalanceTrigger(f["trigger"]),
        member_id=f["member_id"],
        client_id=f["client_id"],
        group_instance_id=f["group_instance_id"],
        reason=f["reason"],
        start_ms=f["start_ms"],
        end_ms=f["end_ms"],
        stopped_ms=f["stopped_ms"],
        outcome=f["outcome"],
        join_rounds=f["join_rounds"],
        protocol_name=f["protocol_name"],
        members=tuple(
            MemberAssignmentSize(
                m["member_id"],
                m["group_instance_id"],
                m["client_id"],
                None if m["assigned_partitions"] < 0 else m["assigned_partitions"],
            )
            for m in f["members"]
        ),
        removed=tuple(
            RemovedMember(r["member_id"], r["group_instance_id"], RebalanceTrigger(r["trigger"]))
            for r in f["removed"]
        ),
    )
    return f["sequence"], entry, {c["trigger"]: c["count"] for c in f["counts"]}


class HistoryStore:
    """The live history records of every group: mutated by the coordinator's apply alone."""

    def __init__(self) -> None:
        self._values: dict[str, dict[int, bytes]] = {}

    def clear(self) -> None:
        self._values.clear()

    def apply(self, key: bytes, value: bytes | None) -> None:
        decoded = decode_history_key(key)
        slots = self._values.setdefault(decoded.group_id, {})
        if value is None:
            slots.pop(decoded.slot, None)
            if not slots:
                del self._values[decoded.group_id]
        else:
            slots[decoded.slot] = value

    def restore_into(self, group_id: str, history: RebalanceHistory) -> None:
        """Give a group being built its persisted rebalances, oldest first."""
        decoded = []
        for slot, value in self._values.get(group_id, {}).items():
            try:
                decoded.append(_decode_value(value))
            except (SchemaError, ValueError, struct.error) as error:
                logger.warning(
                    "group %s: rebalance history slot %d unreadable: %s", group_id, slot, error
                )
        if not decoded:
            return
        decoded.sort(key=lambda item: item[0])
        sequence, _, counts = decoded[-1]
        history.restore((entry for _, entry, _ in decoded), counts, sequence + 1)

    def tombstones(self, group_id: str) -> list[Record]:
        return [(history_key(group_id, slot), None) for slot in self._values.get(group_id, {})]

    def live_records(self) -> Iterable[Record]:
        for group_id, slots in self._values.items():
            for slot, value in slots.items():
                yield history_key(group_id, slot), value
