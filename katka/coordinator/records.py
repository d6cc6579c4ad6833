"""The records the coordinator appends to its internal log, and their codec.

Recovery is replay: the log holds (key, value) pairs; the latest value per key wins and a None
value (tombstone) deletes the key, so the log can be compacted like __consumer_offsets.

Keys start with an int16 key version that says what the key names (as Kafka's do):
  0  offset commit    int16 0 | group_id str16 | topic str16 | partition int32
  2  group metadata   int16 2 | group_id str16
  (str16 = int16 byte length + UTF-8)

Offset commit value, version 0 (struct, big-endian):
  int16 0 | offset int64 | leader_epoch int32 (-1 none) | metadata int32 length (-1 null) + UTF-8
  | commit_timestamp_ms int64 | expire_timestamp_ms int64 (-1 none; OffsetCommit v2-v4 only)

Group metadata value, version 0: int16 0 | UTF-8 JSON object
  {"protocol_type": str|null, "generation_id": int, "protocol_name": str|null,
   "leader_id": str|null, "current_state_timestamp_ms": int,
   "members": [{"member_id", "group_instance_id", "client_id", "client_host",
                "rebalance_timeout_ms", "session_timeout_ms",
                "subscription": base64 (metadata for protocol_name),
                "assignment": base64}]}
It is written when a generation's assignment is stored (the leader's SyncGroup), when a
static member is replaced without a rebalance, and when a rebalance leaves the group Empty.
Tombstones: offset key -> None (OffsetDelete, expiry, group deletion); group key -> None
(DeleteGroups, or an Empty group whose offsets have all expired).
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from typing import Any

Record = tuple[bytes, bytes | None]

OFFSET_KEY_VERSION = 0
GROUP_KEY_VERSION = 2
OFFSET_VALUE_VERSION = 0
GROUP_VALUE_VERSION = 0


class RecordError(ValueError):
    """A record in the internal log cannot be decoded."""


@dataclass(frozen=True, slots=True)
class OffsetKey:
    group_id: str
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class GroupKey:
    group_id: str


@dataclass(frozen=True, slots=True)
class OffsetValue:
    offset: int
    leader_epoch: int
    metadata: str | None
    commit_timestamp_ms: int
    expire_timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True)
class MemberSnapshot:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    protocol_type: str | None
    generation_id: int
    protocol_name: str | None
    leader_id: str | None
    current_state_timestamp_ms: int
    members: tuple[MemberSnapshot, ...] = ()


def _str16(value: str) -> bytes:
    raw = value.encode("utf-8")
    return struct.pack(">h", len(raw)) + raw


def _read_str16(data: bytes, pos: int) -> tuple[str, int]:
    if pos + 2 > len(data):
        raise RecordError("truncated string")
    (size,) = struct.unpack_from(">h", data, pos)
    end = pos + 2 + size
    if size < 0 or end > len(data):
        raise RecordError("truncated string")
    return data[pos + 2 : end].decode("utf-8"), end


def offset_key(group_id: str, topic: str, partition: int) -> bytes:
    return (
        struct.pack(">h", OFFSET_KEY_VERSION)
        + _str16(group_id)
        + _str16(topic)
        + struct.pack(">i", partition)
    )


def group_key(group_id: str) -> bytes:
    return struct.pack(">h", GROUP_KEY_VERSION) + _str16(group_id)


def decode_key(key: bytes) -> OffsetKey | GroupKey:
    try:
        (version,) = struct.unpack_from(">h", key, 0)
        group_id, pos = _read_str16(key, 2)
        if version == GROUP_KEY_VERSION:
            return GroupKey(group_id)
        if version == OFFSET_KEY_VERSION:
            topic, pos = _read_str16(key, pos)
            (partition,) = struct.unpack_from(">i", key, pos)
            return OffsetKey(group_id, topic, partition)
    except (struct.error, UnicodeDecodeError) as exc:
        raise RecordError(f"bad coordinator record key {key!r}") from exc
    raise RecordError(f"unknown coordinator record key version {version}")


def encode_offset_value(value: OffsetValue) -> bytes:
    if value.metadata is None:
        metadata = struct.pack(">i", -1)
    else:
        raw = value.metadata.encode("utf-8")
        metadata = struct.pack(">i", len(raw)) + raw
    expire = -1 if value.expire_timestamp_ms is None else value.expire_timestamp_ms
    return (
        struct.pack(">hqi", OFFSET_VALUE_VERSION, value.offset, value.leader_epoch)
        + metadata
        + struct.pack(">qq", value.commit_timestamp_ms, expire)
    )


def decode_offset_value(data: bytes) -> OffsetValue:
    try:
        version, offset, leader_epoch, size = struct.unpack_from(">hqii", data, 0)
        if version != OFFSET_VALUE_VERSION:
            raise RecordError(f"unknown offset commit value version {version}")
        pos = 18
        metadata = None
        if size >= 0:
            metadata = data[pos : pos + size].decode("utf-8")
            pos += size
        commit_ts, expire_ts = struct.unpack_from(">qq", data, pos)
    except (struct.error, UnicodeDecodeError) as exc:
        raise RecordError("bad offset commit value") from exc
    return OffsetValue(
        offset, leader_epoch, metadata, commit_ts, None if expire_ts < 0 else expire_ts
    )


def offset_commit_record(group_id: str, topic: str, partition: int, value: OffsetValue) -> Record:
    return offset_key(group_id, topic, partition), encode_offset_value(value)


def offset_tombstone(group_id: str, topic: str, partition: int) -> Record:
    return offset_key(group_id, topic, partition), None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_group_value(snapshot: GroupSnapshot) -> bytes:
    body: dict[str, Any] = {
        "protocol_type": snapshot.protocol_type,
        "generation_id": snapshot.generation_id,
        "protocol_name": snapshot.protocol_name,
        "leader_id": snapshot.leader_id,
        "current_state_timestamp_ms": snapshot.current_state_timestamp_ms,
        "members": [
            {
                "member_id": m.member_id,
                "group_instance_id": m.group_instance_id,
                "client_id": m.client_id,
                "client_host": m.client_host,
                "rebalance_timeout_ms": m.rebalance_timeout_ms,
                "session_timeout_ms": m.session_timeout_ms,
                "subscription": _b64(m.subscription),
                "assignment": _b64(m.assignment),
            }
            for m in snapshot.members
        ],
    }
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return struct.pack(">h", GROUP_VALUE_VERSION) + text.encode("utf-8")


def decode_group_value(data: bytes) -> GroupSnapshot:
    try:
        (version,) = struct.unpack_from(">h", data, 0)
        if version != GROUP_VALUE_VERSION:
            raise RecordError(f"unknown group metadata value version {version}")
        body = json.loads(data[2:].decode("utf-8"))
        members = tuple(
            MemberSnapshot(
                member_id=m["member_id"],
                group_instance_id=m["group_instance_id"],
                client_id=m["client_id"],
                client_host=m["client_host"],
                rebalance_timeout_ms=int(m["rebalance_timeout_ms"]),
                session_timeout_ms=int(m["session_timeout_ms"]),
                subscription=base64.b64decode(m["subscription"]),
                assignment=base64.b64decode(m["assignment"]),
            )
            for m in body["members"]
        )
        return GroupSnapshot(
            protocol_type=body["protocol_type"],
            generation_id=int(body["generation_id"]),
            protocol_name=body["protocol_name"],
            leader_id=body["leader_id"],
            current_state_timestamp_ms=int(body["current_state_timestamp_ms"]),
            members=members,
        )
    except (struct.error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, RecordError):
            raise
        raise RecordError("bad group metadata value") from exc


def group_record(group_id: str, snapshot: GroupSnapshot) -> Record:
    return group_key(group_id), encode_group_value(snapshot)


def group_tombstone(group_id: str) -> Record:
    return group_key(group_id), None
