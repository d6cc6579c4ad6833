"""The records of the durable share state (Kafka's `__share_group_state`): one snapshot per
share partition, written after every change that must survive a restart (acknowledgements,
releases, expired locks, a moved start offset), replayed at start-up; the latest one per key wins.

Layout (katka's, modelled on Kafka's ShareSnapshotKey/ShareSnapshotValue): key = int16 version 0,
group id (int16-length string), topic id (16 bytes), partition (int32); value = int16 version 0,
start offset (int64), batch count (int32), then per batch first offset (int64), last offset
(int64), delivery state (int8), delivery count (int16). A None value (tombstone) deletes the
share partition's state (DeleteGroups, offsets deleted).

Share group configs (IncrementalAlterConfigs on GROUP resources; Kafka keeps them in its
metadata log) live here too: key = int16 version 100 and the group id, value = the configs as
JSON; a tombstone unsets them all.
"""

from __future__ import annotations

import json
import struct
import uuid

from katka.coordinator.share.partition import RecordState, StateBatch

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


def encode_value(start_offset: int, batches: list[StateBatch]) -> bytes:
    parts = [_HEAD.pack(0, start_offset, len(batches))]
    parts.extend(
        _BATCH.pack(b.first_offset, b.last_offset, int(b.state), b.delivery_count) for b in batches
    )
    return b"".join(parts)


def decode_value(data: bytes) -> tuple[int, list[StateBatch]]:
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
