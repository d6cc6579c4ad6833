"""A tiny reader/writer for the embedded consumer protocol (protocol_type "consumer").

The coordinator treats JoinGroup metadata and SyncGroup assignments as opaque bytes, except to
learn which topics a consumer group subscribes to (OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC,
offset expiry of Stable groups) and how many partitions each member got (rebalance history).

Both structures start with an int16 version and are non-flexible; later versions only append
fields, so a reader of version N reads the prefix of any version > N (as Kafka's
ConsumerProtocol does). Fields after v0 may be missing in the wild (old clients that claim a
higher version), so they are read leniently: a short buffer ends the record there.

  ConsumerProtocolSubscription v0: topics [string], user_data nullable bytes
                               v1: + owned_partitions [topic string, partitions [int32]]
                               v2: + generation_id int32
                               v3: + rack_id nullable string
  ConsumerProtocolAssignment v0-v3: assigned_partitions [topic string, partitions [int32]],
                                    user_data nullable bytes
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PROTOCOL_TYPE = "consumer"
HIGHEST_VERSION = 3


class ConsumerProtocolError(ValueError):
    """The bytes are not a consumer protocol structure (Kafka's SchemaException)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    version: int
    topics: tuple[str, ...]
    user_data: bytes | None = None
    owned_partitions: tuple[tuple[str, tuple[int, ...]], ...] = ()
    generation_id: int = -1
    rack_id: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    version: int
    partitions: tuple[tuple[str, tuple[int, ...]], ...]
    user_data: bytes | None = None

    @property
    def partition_count(self) -> int:
        return sum(len(partitions) for _, partitions in self.partitions)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def _take(self, size: int) -> bytes:
        if size < 0 or self._pos + size > len(self._data):
            raise ConsumerProtocolError("consumer protocol data is truncated")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def int16(self) -> int:
        return int(struct.unpack(">h", self._take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self._take(4))[0])

    def nullable_string(self) -> str | None:
        size = self.int16()
        if size == -1:
            return None
        try:
            return self._take(size).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConsumerProtocolError("invalid utf-8 in string") from exc

    def string(self) -> str:
        value = self.nullable_string()
        if value is None:
            raise ConsumerProtocolError("null where a string is required")
        return value

    def nullable_bytes(self) -> bytes | None:
        size = self.int32()
        return None if size == -1 else self._take(size)

    def array_length(self) -> int:
        count = self.int32()
        if count < -1:
            raise ConsumerProtocolError("negative array length")
        return max(count, 0)

    def topic_partitions(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        result = []
        for _ in range(self.array_length()):
            topic = self.string()
            partitions = tuple(self.int32() for _ in range(self.array_length()))
            result.append((topic, partitions))
        return tuple(result)


def _read_version(reader: _Reader) -> int:
    version = reader.int16()
    if version < 0:
        raise ConsumerProtocolError(f"unsupported consumer protocol version {version}")
    return version


def parse_subscription(data: bytes) -> Subscription:
    reader = _Reader(data)
    version = _read_version(reader)
    topics = tuple(reader.string() for _ in range(reader.array_length()))
    user_data = reader.nullable_bytes()
    owned: tuple[tuple[str, tuple[int, ...]], ...] = ()
    generation_id = -1
    rack_id = None
    if version >= 1 and not reader.at_end:
        owned = reader.topic_partitions()
    if version >= 2 and not reader.at_end:
        generation_id = reader.int32()
    if version >= 3 and not reader.at_end:
        rack_id = reader.nullable_string()
    return Subscription(version, topics, user_data, owned, generation_id, rack_id)


def parse_assignment(data: bytes) -> Assignment:
    reader = _Reader(data)
    version = _read_version(reader)
    partitions = reader.topic_partitions()
    user_data = None if reader.at_end else reader.nullable_bytes()
    return Assignment(version, partitions, user_data)


def _string(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    raw = value.encode("utf-8")
    return struct.pack(">h", len(raw)) + raw


def _bytes(value: bytes | None) -> bytes:
    return struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value


def _topic_partitions(partitions: Mapping[str, Sequence[int]]) -> bytes:
    out = [struct.pack(">i", len(partitions))]
    for topic, ids in partitions.items():
        out.append(_string(topic))
        out.append(struct.pack(">i", len(ids)))
        out.extend(struct.pack(">i", p) for p in ids)
    return b"".join(out)


def encode_subscription(
    topics: Sequence[str],
    *,
    version: int = 0,
    user_data: bytes | None = None,
    owned_partitions: Mapping[str, Sequence[int]] | None = None,
    generation_id: int = -1,
    rack_id: str | None = None,
) -> bytes:
    """What a consumer sends as JoinGroup protocol metadata (used by tests and tools)."""
    out = [struct.pack(">hi", version, len(topics))]
    out.extend(_string(topic) for topic in topics)
    out.append(_bytes(user_data))
    if version >= 1:
        out.append(_topic_partitions(owned_partitions or {}))
    if version >= 2:
        out.append(struct.pack(">i", generation_id))
    if version >= 3:
        out.append(_string(rack_id))
    return b"".join(out)


def encode_assignment(
    partitions: Mapping[str, Sequence[int]], *, version: int = 0, user_data: bytes | None = None
) -> bytes:
    """What a leader sends per member in SyncGroup (used by tests and tools)."""
    return struct.pack(">h", version) + _topic_partitions(partitions) + _bytes(user_data)


def assigned_partition_count(assignment: bytes) -> int | None:
    """Partitions in a consumer assignment (0 when none was given); None when unparseable."""
    if not assignment:
        return 0
    try:
        return parse_assignment(assignment).partition_count
    except ConsumerProtocolError:
        return None
