"""The records the coordinator appends to `__consumer_offsets`, in Kafka's own schemas.

Recovery is replay: the log holds (key, value) pairs; the latest value per key wins and a None
value (tombstone) deletes the key, so the log can be compacted like Kafka's. Keys and values are
Kafka's record schemas byte for byte (record_schemas.py, encoded by protocol/message_schema.py),
so Burrow, Kafka's formatters and lag monitors read katka's log as they read Kafka's:

  key type 1  OffsetCommitKey -> OffsetCommitValue v3 (v1 when an expire timestamp is set, i.e.
              OffsetCommit v2-v4 with a retention time). Kafka 4.4 writes v4 (flexible, with the
              topic id as a tagged field), which readers older than Kafka 4.0 (Burrow 1.2.1, Kafka
              3.x's formatters) drop; v3 is read by every Kafka since 2.1, Kafka 4.4 included.
  key type 2  GroupMetadataKey -> GroupMetadataValue v3 (classic groups), written when a
              JoinGroup creates the group (empty, generation 0, as Kafka 4.x), when a
              generation's assignment is stored (the leader's SyncGroup), when a static member
              is replaced without a rebalance, and when a rebalance leaves the group Empty.
  key types 3-8  KIP-848 consumer groups, value version 0 (flexible), one record per fact,
              written only when that fact changes (as Kafka's GroupMetadataManager does):
     3 ConsumerGroupMetadata (group epoch; KIP-1101's metadata hash is left 0, "not computed")
     4 ConsumerGroupPartitionMetadata (the subscribed topics the target assignment was computed
       from, as Kafka 4.0 kept them; Kafka 4.1+ keeps only the hash in record 3)
     5 ConsumerGroupMemberMetadata, 6 ConsumerGroupTargetAssignmentMetadata,
     7 ConsumerGroupTargetAssignmentMember, 8 ConsumerGroupCurrentMemberAssignment
Tombstones are null values, as Kafka writes them: offset keys (OffsetDelete, expiry, group
deletion); the group key (DeleteGroups, or an Empty group whose offsets have all expired); a
KIP-848 member leaving tombstones its 8, 7 and 5 (Kafka's order); deleting the group tombstones
6, 4 and 3 as well. Replay keeps the latest value per key and rebuilds each group that has a
live key. Values katka 0.1 wrote in its own layout are still read (legacy_records.py).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from katka.coordinator import legacy_records as legacy
from katka.coordinator import record_schemas as schemas
from katka.protocol.message_schema import Message, SchemaError, decode, encode

Record = tuple[bytes, bytes | None]

OFFSET_KEY_VERSION = schemas.OFFSET_COMMIT
GROUP_KEY_VERSION = schemas.GROUP_METADATA
OFFSET_VALUE_VERSION = 3
OFFSET_VALUE_VERSION_WITH_EXPIRE = 1
GROUP_VALUE_VERSION = 3
CONSUMER_GROUP_METADATA_KEY_VERSION = schemas.CONSUMER_GROUP_METADATA
CONSUMER_PARTITION_METADATA_KEY_VERSION = schemas.CONSUMER_GROUP_PARTITION_METADATA
CONSUMER_MEMBER_METADATA_KEY_VERSION = schemas.CONSUMER_GROUP_MEMBER_METADATA
CONSUMER_TARGET_METADATA_KEY_VERSION = schemas.CONSUMER_GROUP_TARGET_ASSIGNMENT_METADATA
CONSUMER_TARGET_MEMBER_KEY_VERSION = schemas.CONSUMER_GROUP_TARGET_ASSIGNMENT_MEMBER
CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION = schemas.CONSUMER_GROUP_CURRENT_MEMBER_ASSIGNMENT
CONSUMER_VALUE_VERSION = 0
_CONSUMER_GROUP_KEYS = (
    CONSUMER_GROUP_METADATA_KEY_VERSION,
    CONSUMER_PARTITION_METADATA_KEY_VERSION,
    CONSUMER_TARGET_METADATA_KEY_VERSION,
)
# In the order Kafka tombstones them when a member leaves.
_CONSUMER_MEMBER_KEYS = (
    CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION,
    CONSUMER_TARGET_MEMBER_KEY_VERSION,
    CONSUMER_MEMBER_METADATA_KEY_VERSION,
)
# Kafka's MemberState values (ConsumerGroupCurrentMemberAssignmentValue.state).
_MEMBER_STATES = {"stable": 0, "unrevoked_partitions": 1, "unreleased_partitions": 2}
_MEMBER_STATE_NAMES = {value: name for name, value in _MEMBER_STATES.items()}
_I16 = struct.Struct(">h")


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


def _record_key(record_type: int, values: dict[str, Any]) -> bytes:
    return _I16.pack(record_type) + encode(schemas.RECORD_TYPES[record_type].key, 0, values)


def _record_value(message: Message, version: int, values: dict[str, Any]) -> bytes:
    return _I16.pack(version) + encode(message, version, values)


def _decode_value(message: Message, data: bytes) -> tuple[int, dict[str, Any]]:
    try:
        (version,) = _I16.unpack_from(data, 0)
        return version, decode(message, version, data, 2)
    except (struct.error, SchemaError) as exc:
        raise RecordError(f"bad {message.name}: {exc}") from exc


def offset_key(group_id: str, topic: str, partition: int) -> bytes:
    return _record_key(
        OFFSET_KEY_VERSION, {"group": group_id, "topic": topic, "partition": partition}
    )


def group_key(group_id: str) -> bytes:
    return _record_key(GROUP_KEY_VERSION, {"group": group_id})


def consumer_group_key(kind: int, group_id: str, member_id: str = "") -> bytes:
    if kind in _CONSUMER_MEMBER_KEYS:
        return _record_key(kind, {"group_id": group_id, "member_id": member_id})
    return _record_key(kind, {"group_id": group_id})


def decode_key(key: bytes) -> OffsetKey | GroupKey | ConsumerGroupKey:
    try:
        (record_type,) = _I16.unpack_from(key, 0)
        kind = schemas.RECORD_TYPES.get(record_type)
        if kind is None or (
            record_type not in (schemas.LEGACY_OFFSET_COMMIT, OFFSET_KEY_VERSION, GROUP_KEY_VERSION)
            and record_type not in _CONSUMER_GROUP_KEYS + _CONSUMER_MEMBER_KEYS
        ):
            raise RecordError(f"unknown coordinator record type {record_type}")
        fields = decode(kind.key, 0, key, 2)
    except (struct.error, SchemaError) as exc:
        raise RecordError(f"bad coordinator record key {key!r}") from exc
    if record_type == GROUP_KEY_VERSION:
        return GroupKey(fields["group"])
    if record_type in (schemas.LEGACY_OFFSET_COMMIT, OFFSET_KEY_VERSION):
        return OffsetKey(fields["group"], fields["topic"], fields["partition"])
    return ConsumerGroupKey(record_type, fields["group_id"], fields.get("member_id", ""))


def is_legacy_value(key: OffsetKey | GroupKey | ConsumerGroupKey, value: bytes | None) -> bool:
    """Whether `value` is in katka 0.1's own layout (rewritten in Kafka's once loaded)."""
    if value is None:
        return False
    if isinstance(key, OffsetKey):
        return legacy.is_legacy_offset_value(value)
    return legacy.is_legacy_json_value(value)


def encode_offset_value(value: OffsetValue) -> bytes:
    fields = {
        "offset": value.offset,
        "leader_epoch": value.leader_epoch,
        "metadata": value.metadata or "",  # Kafka's metadata is never null: "" means none
        "commit_timestamp": value.commit_timestamp_ms,
    }
    if value.expire_timestamp_ms is None:
        return _record_value(schemas.OFFSET_COMMIT_VALUE, OFFSET_VALUE_VERSION, fields)
    fields["expire_timestamp"] = value.expire_timestamp_ms
    return _record_value(schemas.OFFSET_COMMIT_VALUE, OFFSET_VALUE_VERSION_WITH_EXPIRE, fields)


def decode_offset_value(data: bytes) -> OffsetValue:
    if legacy.is_legacy_offset_value(data):
        try:
            fields = legacy.decode_offset_value(data)
        except (struct.error, UnicodeDecodeError) as exc:
            raise RecordError("bad offset commit value") from exc
    else:
        _, fields = _decode_value(schemas.OFFSET_COMMIT_VALUE, data)
    expire = fields.get("expire_timestamp", -1)
    return OffsetValue(
        fields["offset"],
        fields.get("leader_epoch", -1),
        fields["metadata"],
        fields["commit_timestamp"],
        None if expire < 0 else expire,
    )


def offset_commit_record(group_id: str, topic: str, partition: int, value: OffsetValue) -> Record:
    return offset_key(group_id, topic, partition), encode_offset_value(value)


def offset_tombstone(group_id: str, topic: str, partition: int) -> Record:
    return offset_key(group_id, topic, partition), None


def encode_group_value(snapshot: GroupSnapshot) -> bytes:
    fields = {
        "protocol_type": snapshot.protocol_type or "",
        "generation": snapshot.generation_id,
        "protocol": snapshot.protocol_name,
        "leader": snapshot.leader_id,
        "current_state_timestamp": snapshot.current_state_timestamp_ms,
        "members": [
            {
                "member_id": m.member_id,
                "group_instance_id": m.group_instance_id,
                "client_id": m.client_id,
                "client_host": m.client_host,
                "rebalance_timeout": m.rebalance_timeout_ms,
                "session_timeout": m.session_timeout_ms,
                "subscription": m.subscription,
                "assignment": m.assignment,
            }
            for m in snapshot.members
        ],
    }
    return _record_value(schemas.GROUP_METADATA_VALUE, GROUP_VALUE_VERSION, fields)


def decode_group_value(data: bytes) -> GroupSnapshot:
    try:
        if legacy.is_legacy_json_value(data):
            fields = legacy.decode_group_value(data)
        else:
            fields = _decode_value(schemas.GROUP_METADATA_VALUE, data)[1]
        return GroupSnapshot(
            protocol_type=fields["protocol_type"] or None,
            generation_id=fields["generation"],
            protocol_name=fields["protocol"],
            leader_id=fields["leader"],
            current_state_timestamp_ms=fields.get("current_state_timestamp", -1),
            members=tuple(
                MemberSnapshot(
                    member_id=m["member_id"],
                    group_instance_id=m.get("group_instance_id"),
                    client_id=m["client_id"],
                    client_host=m["client_host"],
                    # v0 has no rebalance timeout: Kafka takes the session timeout
                    rebalance_timeout_ms=m.get("rebalance_timeout", m["session_timeout"]),
                    session_timeout_ms=m["session_timeout"],
                    subscription=m["subscription"],
                    assignment=m["assignment"],
                )
                for m in fields["members"]
            ),
        )
    except (ValueError, KeyError, TypeError) as exc:
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


def encode_partitions(partitions: Iterable[TopicIdPartition]) -> list[dict[str, Any]]:
    """Kafka's TopicPartitions array: one entry per topic id, partitions ascending."""
    by_topic: dict[uuid.UUID, list[int]] = {}
    for topic_id, partition in sorted(partitions):
        by_topic.setdefault(topic_id, []).append(partition)
    return [{"topic_id": t, "partitions": p} for t, p in by_topic.items()]


def decode_partitions(entries: list[dict[str, Any]]) -> frozenset[TopicIdPartition]:
    return frozenset((e["topic_id"], int(p)) for e in entries for p in e["partitions"])


def _consumer_value(record_type: int, values: dict[str, Any]) -> bytes:
    return _record_value(schemas.RECORD_TYPES[record_type].value, CONSUMER_VALUE_VERSION, values)


def _decode_consumer_value(record_type: int, data: bytes, legacy_decoder: Any) -> dict[str, Any]:
    message = schemas.RECORD_TYPES[record_type].value
    try:
        if legacy.is_legacy_json_value(data):
            result: dict[str, Any] = legacy_decoder(data)
            return result
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise RecordError(f"bad {message.name} (katka 0.1 layout)") from exc
    version, fields = _decode_value(message, data)
    if version != CONSUMER_VALUE_VERSION:
        raise RecordError(f"unknown {message.name} version {version}")
    return fields


def consumer_group_metadata_records(
    group_id: str, value: ConsumerGroupMetadataValue
) -> list[Record]:
    """The subscribed topics (record 4) then the group epoch (record 3)."""
    topics = [
        {"topic_id": t, "topic_name": n, "num_partitions": p, "partition_metadata": []}
        for n, t, p in value.subscription_metadata
    ]
    partition_key = consumer_group_key(CONSUMER_PARTITION_METADATA_KEY_VERSION, group_id)
    partition_value = _consumer_value(CONSUMER_PARTITION_METADATA_KEY_VERSION, {"topics": topics})
    key = consumer_group_key(CONSUMER_GROUP_METADATA_KEY_VERSION, group_id)
    epoch_value = _consumer_value(CONSUMER_GROUP_METADATA_KEY_VERSION, {"epoch": value.epoch})
    return [(partition_key, partition_value), (key, epoch_value)]


def consumer_member_metadata_record(
    group_id: str, member_id: str, value: ConsumerMemberMetadataValue
) -> Record:
    body = {
        "instance_id": value.instance_id,
        "rack_id": value.rack_id,
        "client_id": value.client_id,
        "client_host": value.client_host,
        "subscribed_topic_names": list(value.subscribed_topic_names),
        # Kafka writes "" for a member that subscribes by names only
        "subscribed_topic_regex": value.subscribed_topic_regex or "",
        "rebalance_timeout_ms": value.rebalance_timeout_ms,
        "server_assignor": value.server_assignor,
        "classic_member_metadata": None,  # a KIP-848 member, not a classic one
    }
    key = consumer_group_key(CONSUMER_MEMBER_METADATA_KEY_VERSION, group_id, member_id)
    return key, _consumer_value(CONSUMER_MEMBER_METADATA_KEY_VERSION, body)


def consumer_target_metadata_record(
    group_id: str, assignment_epoch: int, assignment_timestamp_ms: int = 0
) -> Record:
    key = consumer_group_key(CONSUMER_TARGET_METADATA_KEY_VERSION, group_id)
    body = {"assignment_epoch": assignment_epoch, "assignment_timestamp": assignment_timestamp_ms}
    return key, _consumer_value(CONSUMER_TARGET_METADATA_KEY_VERSION, body)


def consumer_target_member_record(
    group_id: str, member_id: str, partitions: Iterable[TopicIdPartition]
) -> Record:
    key = consumer_group_key(CONSUMER_TARGET_MEMBER_KEY_VERSION, group_id, member_id)
    body = {"topic_partitions": encode_partitions(partitions)}
    return key, _consumer_value(CONSUMER_TARGET_MEMBER_KEY_VERSION, body)


def consumer_current_assignment_record(
    group_id: str, member_id: str, value: ConsumerCurrentAssignmentValue
) -> Record:
    body = {
        "member_epoch": value.member_epoch,
        "previous_member_epoch": value.previous_member_epoch,
        "state": _MEMBER_STATES[value.state],
        "assigned_partitions": encode_partitions(value.assigned_partitions),
        "partitions_pending_revocation": encode_partitions(value.partitions_pending_revocation),
    }
    key = consumer_group_key(CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION, group_id, member_id)
    return key, _consumer_value(CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION, body)


def consumer_member_tombstones(group_id: str, member_id: str) -> list[Record]:
    return [(consumer_group_key(kind, group_id, member_id), None) for kind in _CONSUMER_MEMBER_KEYS]


def consumer_group_tombstones(group_id: str) -> list[Record]:
    return [(consumer_group_key(kind, group_id), None) for kind in reversed(_CONSUMER_GROUP_KEYS)]


def _subscription_metadata(topics: list[dict[str, Any]]) -> tuple[tuple[str, uuid.UUID, int], ...]:
    return tuple((t["topic_name"], t["topic_id"], t["num_partitions"]) for t in topics)


def decode_consumer_group_metadata(data: bytes) -> ConsumerGroupMetadataValue:
    """The group epoch; the subscribed topics only from katka 0.1's layout, which kept them here
    (Kafka's layout keeps them in record 4: decode_consumer_partition_metadata)."""
    fields = _decode_consumer_value(
        CONSUMER_GROUP_METADATA_KEY_VERSION, data, legacy.decode_consumer_group_metadata
    )
    return ConsumerGroupMetadataValue(
        fields["epoch"], _subscription_metadata(fields.get("topics", []))
    )


def decode_consumer_partition_metadata(data: bytes) -> tuple[tuple[str, uuid.UUID, int], ...]:
    fields = _decode_consumer_value(
        CONSUMER_PARTITION_METADATA_KEY_VERSION, data, legacy.decode_consumer_group_metadata
    )
    return _subscription_metadata(fields["topics"])


def decode_consumer_member_metadata(data: bytes) -> ConsumerMemberMetadataValue:
    fields = _decode_consumer_value(
        CONSUMER_MEMBER_METADATA_KEY_VERSION, data, legacy.decode_consumer_member_metadata
    )
    return ConsumerMemberMetadataValue(
        instance_id=fields["instance_id"],
        rack_id=fields["rack_id"],
        client_id=fields["client_id"],
        client_host=fields["client_host"],
        subscribed_topic_names=tuple(fields["subscribed_topic_names"]),
        subscribed_topic_regex=fields["subscribed_topic_regex"] or None,
        server_assignor=fields["server_assignor"],
        rebalance_timeout_ms=fields["rebalance_timeout_ms"],
    )


def decode_consumer_target_metadata(data: bytes) -> int:
    fields = _decode_consumer_value(
        CONSUMER_TARGET_METADATA_KEY_VERSION, data, legacy.decode_consumer_target_metadata
    )
    return int(fields["assignment_epoch"])


def decode_consumer_target_member(data: bytes) -> frozenset[TopicIdPartition]:
    fields = _decode_consumer_value(
        CONSUMER_TARGET_MEMBER_KEY_VERSION, data, legacy.decode_consumer_target_member
    )
    return decode_partitions(fields["topic_partitions"])


def decode_consumer_current_assignment(data: bytes) -> ConsumerCurrentAssignmentValue:
    fields = _decode_consumer_value(
        CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION, data, legacy.decode_consumer_current_assignment
    )
    state = _MEMBER_STATE_NAMES.get(fields["state"])
    if state is None:
        raise RecordError(f"unknown consumer group member state {fields['state']}")
    return ConsumerCurrentAssignmentValue(
        member_epoch=fields["member_epoch"],
        previous_member_epoch=fields["previous_member_epoch"],
        state=state,
        assigned_partitions=decode_partitions(fields["assigned_partitions"]),
        partitions_pending_revocation=decode_partitions(fields["partitions_pending_revocation"]),
    )


def upgrade_legacy_record(key: bytes, value: bytes) -> list[Record]:
    """A record katka 0.1 wrote in its own layout, as the records katka writes now for the same
    fact (group metadata with its subscribed topics becomes records 4 and 3)."""
    decoded = decode_key(key)
    if isinstance(decoded, OffsetKey):
        offset = decode_offset_value(value)
        return [offset_commit_record(decoded.group_id, decoded.topic, decoded.partition, offset)]
    if isinstance(decoded, GroupKey):
        return [group_record(decoded.group_id, decode_group_value(value))]
    group_id, member_id = decoded.group_id, decoded.member_id
    if decoded.kind == CONSUMER_GROUP_METADATA_KEY_VERSION:
        return consumer_group_metadata_records(group_id, decode_consumer_group_metadata(value))
    if decoded.kind == CONSUMER_MEMBER_METADATA_KEY_VERSION:
        metadata = decode_consumer_member_metadata(value)
        return [consumer_member_metadata_record(group_id, member_id, metadata)]
    if decoded.kind == CONSUMER_TARGET_METADATA_KEY_VERSION:
        return [consumer_target_metadata_record(group_id, decode_consumer_target_metadata(value))]
    if decoded.kind == CONSUMER_TARGET_MEMBER_KEY_VERSION:
        target = decode_consumer_target_member(value)
        return [consumer_target_member_record(group_id, member_id, target)]
    if decoded.kind == CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION:
        current = decode_consumer_current_assignment(value)
        return [consumer_current_assignment_record(group_id, member_id, current)]
    raise RecordError(f"no katka 0.1 layout for record type {decoded.kind}")
