"""The records of the durable share state (Kafka's `__share_group_state`): one snapshot per
share partition, written after every change that must survive a restart (acknowledgements,
releases, expired locks, a moved start offset), replayed at start-up; the latest one per key wins.

Layout: Kafka 4.4's ShareSnapshotKey and ShareSnapshotValue (its share coordinator's records,
so Kafka's own classes read them: tests/kafka/test_kafka_reads_katka_records.py). Key = int16
record type 0, group id, topic id, partition; value = int16 version 0, then the flexible
ShareSnapshotValue: snapshot, state and leader epochs (katka writes 0: one writer, no leader
changes), the start offset, create and write timestamps (-1: not kept), and the state batches
(first offset, last offset, delivery state, delivery count). A None value (tombstone) deletes
the share partition's state (DeleteGroups, offsets deleted). Kafka also writes ShareUpdate
records between snapshots; katka writes a snapshot every time. Values of katka's earlier fixed
layout are still read.

Share group configs (IncrementalAlterConfigs on GROUP resources; Kafka keeps them in its
metadata log) live here too: key = int16 record type 100 and the group id, value = the configs
as JSON; a tombstone unsets them all. Kafka's readers do not know this record type.
"""

from __future__ import annotations

import json
import struct
import uuid

from katka.coordinator.share.partition import RecordState, StateBatch
from katka.protocol.message_schema import Field, Message, SchemaError, decode, encode

SNAPSHOT_KEY_VERSION = 0
GROUP_CONFIG_KEY_VERSION = 100
_BATCH = struct.Struct(">qqbh")
_HEAD = struct.Struct(">hqi")

ShareKey = tuple[str, uuid.UUID, int]  # group id, topic id, partition


def encode_key(key: ShareKey) -> bytes:
    group_id, topic_id, partition = key
    group = group_id.encode()
    return (
        struct.pack(">hh", SNAPSHOT_KEY_VERSION, len(group))
        + group
        + topic_id.bytes
        + struct.pack(">i", partition)
    )


def decode_key(data: bytes) -> ShareKey | None:
    """None for a key of another layout (ignored on replay)."""
    version, length = struct.unpack_from(">hh", data, 0)
    if version != SNAPSHOT_KEY_VERSION or len(data) != 4 + length + 16 + 4:
        return None
    group_id = data[4 : 4 + length].decode()
    topic_id = uuid.UUID(bytes=data[4 + length : 20 + length])
    (partition,) = struct.unpack_from(">i", data, 20 + length)
    return group_id, topic_id, partition


SHARE_SNAPSHOT_VALUE = Message(
    "ShareSnapshotValue",
    "0",
    "0+",
    (
        Field("snapshot_epoch", "int32"),
        Field("state_epoch", "int32"),
        Field("leader_epoch", "int32"),
        Field("start_offset", "int64"),
        Field("delivery_complete_count", "int32", tag=0, tagged_versions="0+", default=-1),
        Field("create_timestamp", "int64"),
        Field("write_timestamp", "int64"),
        Field(
            "state_batches",
            "[]",
            fields=(
                Field("first_offset", "int64"),
                Field("last_offset", "int64"),
                Field("delivery_state", "int8"),
                Field("delivery_count", "int16"),
            ),
        ),
    ),
)


def encode_value(start_offset: int, batches: list[StateBatch]) -> bytes:
    values = {
        "snapshot_epoch": 0,
        "state_epoch": 0,
        "leader_epoch": 0,
        "start_offset": start_offset,
        "create_timestamp": -1,
        "write_timestamp": -1,
        "state_batches": [
            {
                "first_offset": b.first_offset,
                "last_offset": b.last_offset,
                "delivery_state": int(b.state),
                "delivery_count": b.delivery_count,
            }
            for b in batches
        ],
    }
    return struct.pack(">h", 0) + encode(SHARE_SNAPSHOT_VALUE, 0, values)


def decode_value(data: bytes) -> tuple[int, list[StateBatch]]:
    try:
        fields = decode(SHARE_SNAPSHOT_VALUE, 0, data, 2)
    except SchemaError:
        return _decode_fixed_value(data)  # katka's layout before Kafka's
    return fields["start_offset"], [
        StateBatch(
            b["first_offset"],
            b["last_offset"],
            RecordState(b["delivery_state"]),
            b["delivery_count"],
        )
        for b in fields["state_batches"]
    ]


def _decode_fixed_value(data: bytes) -> tuple[int, list[StateBatch]]:
    _version, start_offset, count = _HEAD.unpack_from(data, 0)
    batches = []
    for index in range(count):
        first, last, state, delivery_count = _BATCH.unpack_from(
            data, _HEAD.size + index * _BATCH.size
        )
        batches.append(StateBatch(first, last, RecordState(state), delivery_count))
    return start_offset, batches


def encode_group_config_key(group_id: str) -> bytes:
    group = group_id.encode()
    return struct.pack(">hh", GROUP_CONFIG_KEY_VERSION, len(group)) + group


def decode_group_config_key(data: bytes) -> str | None:
    version, length = struct.unpack_from(">hh", data, 0)
    if version != GROUP_CONFIG_KEY_VERSION or len(data) != 4 + length:
        return None
    return data[4:].decode()


def encode_group_configs(configs: dict[str, str]) -> bytes:
    return json.dumps(configs, sort_keys=True).encode()


def decode_group_configs(data: bytes) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(data).items()}
