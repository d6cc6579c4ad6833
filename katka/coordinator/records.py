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

KIP-848 consumer groups (ConsumerGroupHeartbeat) use Kafka's record types and key numbers, one
record per fact, written only when that fact changes (as Kafka's GroupMetadataManager does):
  3  consumer group metadata      int16 3 | group_id str16
  5  member metadata              int16 5 | group_id str16 | member_id str16
  6  target assignment metadata   int16 6 | group_id str16
  7  target assignment member     int16 7 | group_id str16 | member_id str16
  8  current member assignment    int16 8 | group_id str16 | member_id str16
Values: int16 0 | UTF-8 JSON object; topic ids are UUID strings, an assignment is
{"<topic id>": [partition, ...]}:
  3  {"epoch": int, "subscription_metadata": [[topic name, topic id, partitions], ...]}
     (the subscribed topics the target assignment was computed from; Kafka 4.0 keeps a hash)
  5  {"instance_id", "rack_id", "client_id", "client_host", "subscribed_topic_names": [str],
      "subscribed_topic_regex": str|null, "server_assignor": str|null,
      "rebalance_timeout_ms": int}
  6  {"assignment_epoch": int}
  7  {"partitions": assignment}
  8  {"member_epoch", "previous_member_epoch", "state": "stable" | "unrevoked_partitions" |
      "unreleased_partitions", "assigned_partitions": assignment,
      "partitions_pending_revocation": assignment}
A member leaving writes tombstones for its keys 5, 7 and 8; deleting the group (DeleteGroups,
expiry, or a classic join taking over an empty group) tombstones 6 and 3 as well. Replay keeps
the latest value per key and rebuilds each group whose key 3 is live.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Record = tuple[bytes, bytes | None]

OFFSET_KEY_VERSION = 0
GROUP_KEY_VERSION = 2
OFFSET_VALUE_VERSION = 0
GROUP_VALUE_VERSION = 0
CONSUMER_GROUP_METADATA_KEY_VERSION = 3
CONSUMER_MEMBER_METADATA_KEY_VERSION = 5
CONSUMER_TARGET_METADATA_KEY_VERSION = 6
CONSUMER_TARGET_MEMBER_KEY_VERSION = 7
CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION = 8
CONSUMER_VALUE_VERSION = 0
_CONSUMER_GROUP_KEYS = (CONSUMER_GROUP_METADATA_KEY_VERSION, CONSUMER_TARGET_METADATA_KEY_VERSION)
_CONSUMER_MEMBER_KEYS = (
    CONSUMER_MEMBER_METADATA_KEY_VERSION,
    CONSUMER_TARGET_MEMBER_KEY_VERSION,
    CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION,
)


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
class ConsumerGroupKey:
    """A KIP-848 record key: `kind` is the key version, `member_id` "" for group-level keys."""

    kind: int
    group_id: str
    member_id: str = ""


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


def consumer_group_key(kind: int, group_id: str, member_id: str = "") -> bytes:
    key = struct.pack(">h", kind) + _str16(group_id)
    return key + _str16(member_id) if kind in _CONSUMER_MEMBER_KEYS else key


def decode_key(key: bytes) -> OffsetKey | GroupKey | ConsumerGroupKey:
    try:
        (version,) = struct.unpack_from(">h", key, 0)
        group_id, pos = _read_str16(key, 2)
        if version == GROUP_KEY_VERSION:
            return GroupKey(group_id)
        if version == OFFSET_KEY_VERSION:
            topic, pos = _read_str16(key, pos)
            (partition,) = struct.unpack_from(">i", key, pos)
            return OffsetKey(group_id, topic, partition)
        if version in _CONSUMER_GROUP_KEYS:
            return ConsumerGroupKey(version, group_id)
        if version in _CONSUMER_MEMBER_KEYS:
            member_id, pos = _read_str16(key, pos)
            return ConsumerGroupKey(version, group_id, member_id)
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


# --- KIP-848 consumer groups -------------------------------------------------------------

TopicIdPartition = tuple[uuid.UUID, int]


@dataclass(frozen=True, slots=True)
class ConsumerGroupMetadataValue:
    epoch: int
    subscription_metadata: tuple[tuple[str, uuid.UUID, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ConsumerMemberMetadataValue:
    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    server_assignor: str | None
    rebalance_timeout_ms: int


@dataclass(frozen=True, slots=True)
class ConsumerCurrentAssignmentValue:
    member_epoch: int
    previous_member_epoch: int
    state: str
    assigned_partitions: frozenset[TopicIdPartition]
    partitions_pending_revocation: frozenset[TopicIdPartition]


def _encode_json(body: dict[str, Any]) -> bytes:
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return struct.pack(">h", CONSUMER_VALUE_VERSION) + text.encode("utf-8")


def _decode_json(data: bytes) -> Any:
    try:
        (version,) = struct.unpack_from(">h", data, 0)
        body = json.loads(data[2:].decode("utf-8"))
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise RecordError("bad consumer group record value") from exc
    if version != CONSUMER_VALUE_VERSION:
        raise RecordError(f"unknown consumer group record value version {version}")
    return body


def encode_partitions(partitions: Iterable[TopicIdPartition]) -> dict[str, list[int]]:
    by_topic: dict[str, list[int]] = {}
    for topic_id, partition in sorted(partitions):
        by_topic.setdefault(str(topic_id), []).append(partition)
    return by_topic


def decode_partitions(body: dict[str, list[int]]) -> frozenset[TopicIdPartition]:
    return frozenset(
        (uuid.UUID(topic_id), int(p)) for topic_id, partitions in body.items() for p in partitions
    )


def consumer_group_metadata_record(group_id: str, value: ConsumerGroupMetadataValue) -> Record:
    body = {
        "epoch": value.epoch,
        "subscription_metadata": [[n, str(t), p] for n, t, p in value.subscription_metadata],
    }
    return consumer_group_key(CONSUMER_GROUP_METADATA_KEY_VERSION, group_id), _encode_json(body)


def consumer_member_metadata_record(
    group_id: str, member_id: str, value: ConsumerMemberMetadataValue
) -> Record:
    body = {
        "instance_id": value.instance_id,
        "rack_id": value.rack_id,
        "client_id": value.client_id,
        "client_host": value.client_host,
        "subscribed_topic_names": list(value.subscribed_topic_names),
        "subscribed_topic_regex": value.subscribed_topic_regex,
        "server_assignor": value.server_assignor,
        "rebalance_timeout_ms": value.rebalance_timeout_ms,
    }
    key = consumer_group_key(CONSUMER_MEMBER_METADATA_KEY_VERSION, group_id, member_id)
    return key, _encode_json(body)


def consumer_target_metadata_record(group_id: str, assignment_epoch: int) -> Record:
    key = consumer_group_key(CONSUMER_TARGET_METADATA_KEY_VERSION, group_id)
    return key, _encode_json({"assignment_epoch": assignment_epoch})


def consumer_target_member_record(
    group_id: str, member_id: str, partitions: Iterable[TopicIdPartition]
) -> Record:
    key = consumer_group_key(CONSUMER_TARGET_MEMBER_KEY_VERSION, group_id, member_id)
    return key, _encode_json({"partitions": encode_partitions(partitions)})


def consumer_current_assignment_record(
    group_id: str, member_id: str, value: ConsumerCurrentAssignmentValue
) -> Record:
    body = {
        "member_epoch": value.member_epoch,
        "previous_member_epoch": value.previous_member_epoch,
        "state": value.state,
        "assigned_partitions": encode_partitions(value.assigned_partitions),
        "partitions_pending_revocation": encode_partitions(value.partitions_pending_revocation),
    }
    key = consumer_group_key(CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION, group_id, member_id)
    return key, _encode_json(body)


def consumer_member_tombstones(group_id: str, member_id: str) -> list[Record]:
    return [(consumer_group_key(kind, group_id, member_id), None) for kind in _CONSUMER_MEMBER_KEYS]


def consumer_group_tombstones(group_id: str) -> list[Record]:
    return [(consumer_group_key(kind, group_id), None) for kind in reversed(_CONSUMER_GROUP_KEYS)]


def decode_consumer_group_metadata(data: bytes) -> ConsumerGroupMetadataValue:
    body = _decode_json(data)
    try:
        return ConsumerGroupMetadataValue(
            int(body["epoch"]),
            tuple((str(n), uuid.UUID(t), int(p)) for n, t, p in body["subscription_metadata"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError("bad consumer group metadata value") from exc


def decode_consumer_member_metadata(data: bytes) -> ConsumerMemberMetadataValue:
    body = _decode_json(data)
    try:
        return ConsumerMemberMetadataValue(
            instance_id=body["instance_id"],
            rack_id=body["rack_id"],
            client_id=body["client_id"],
            client_host=body["client_host"],
            subscribed_topic_names=tuple(body["subscribed_topic_names"]),
            subscribed_topic_regex=body["subscribed_topic_regex"],
            server_assignor=body["server_assignor"],
            rebalance_timeout_ms=int(body["rebalance_timeout_ms"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError("bad consumer group member metadata value") from exc


def decode_consumer_target_metadata(data: bytes) -> int:
    try:
        return int(_decode_json(data)["assignment_epoch"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError("bad consumer group target assignment metadata value") from exc


def decode_consumer_target_member(data: bytes) -> frozenset[TopicIdPartition]:
    try:
        return decode_partitions(_decode_json(data)["partitions"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordError("bad consumer group target assignment member value") from exc


def decode_consumer_current_assignment(data: bytes) -> ConsumerCurrentAssignmentValue:
    body = _decode_json(data)
    try:
        return ConsumerCurrentAssignmentValue(
            member_epoch=int(body["member_epoch"]),
            previous_member_epoch=int(body["previous_member_epoch"]),
            state=str(body["state"]),
            assigned_partitions=decode_partitions(body["assigned_partitions"]),
            partitions_pending_revocation=decode_partitions(body["partitions_pending_revocation"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordError("bad consumer group current assignment value") from exc
