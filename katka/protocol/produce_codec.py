"""Produce's hot codec: the request's bounds walk and the response's writer, by hand.

Why: with linger.ms=0 every record is its own Produce request, and kio's generic writer
(phantom-type checks on every integer, a BytesIO per struct for tagged fields) cost about a
quarter of the broker's CPU per request, the generic bounds walk another twentieth.
These do the same for Produce v3-v11 (the versions kio generates; v0-2 are
old_versions.py's) in straight-line struct calls. They are equivalent to kio's by test:
tests/protocol/test_produce_codec.py checks byte-for-byte identical responses and the same
accept/refuse decision for requests at every version, with hypothesis.

A response that carries anything the hand writer does not (the v10+ tagged fields
current_leader and node_endpoints set to non-defaults: katka's Produce never sets them)
goes to kio's writer instead: `encode_produce_response` returns None.

The handler answers v3-11 with `Produced`, `TopicProduced` and `PartitionProduced` below
rather than kio's entities (three frozen dataclasses built field by field through `make`,
and a datetime for the append time: a tenth of a one-record request's Python). They carry
kio's field names, so tests and throttling read them alike; the writer takes both.
"""

from __future__ import annotations

import dataclasses
import datetime
import struct
from typing import Any, NamedTuple

from katka.protocol.bounds import BoundsError, read_unsigned_varint
from katka.protocol.varint import encode_unsigned_varint

API_KEY = 0
VERSIONS = range(3, 12)
FLEXIBLE_FROM = 9

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_PARTITION_V3 = struct.Struct(">ihqq")  # index, error_code, base_offset, log_append_time
_PARTITION_V5 = struct.Struct(">ihqqq")  # ... log_start_offset


# --- response: what the handler builds -------------------------------------------------------


class PartitionProduced(NamedTuple):
    """kio's PartitionProduceResponse (v3-11) with the append time in ms (-1: none)."""

    index: int  # type: ignore[assignment]  # kio's name; shadows tuple.index (unused)
    error_code: int
    base_offset: int = -1
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    record_errors: tuple[Any, ...] = ()  # kio's BatchIndexAndErrorMessage (v8+)
    error_message: str | None = None

    @property
    def log_append_time(self) -> datetime.datetime | None:
        if self.log_append_time_ms < 0:
            return None
        return datetime.datetime.fromtimestamp(self.log_append_time_ms / 1000, tz=datetime.UTC)


class TopicProduced(NamedTuple):
    """kio's TopicProduceResponse."""

    name: str
    partition_responses: tuple[PartitionProduced, ...]


@dataclasses.dataclass(slots=True)
class Produced:
    """kio's ProduceResponse; a dataclass, so a throttled reply replaces throttle_time."""

    responses: tuple[TopicProduced, ...]
    throttle_time: datetime.timedelta = datetime.timedelta(0)
    node_endpoints: tuple[Any, ...] = ()


# --- request: the bounds walk (bounds.py's, specialised) ----------------------------------------


def check_produce_bounds(data: bytes, position: int, version: int) -> None:
    """Raise BoundsError where bounds.check_bounds would for a ProduceRequest of `version`:
    a length or count that runs past the frame (kio's native reader would reserve room for
    it before reading, see bounds.py). Straight-line code: a one-record request is walked
    in a few microseconds."""
    size = len(data)
    try:
        if version >= FLEXIBLE_FROM:
            _check_flexible(data, position, size)
        else:
            _check_legacy(data, position, size)
    except (IndexError, struct.error):
        raise BoundsError(f"truncated ProduceRequest v{version}") from None


def _check_flexible(data: bytes, position: int, size: int) -> None:
    length, position = _varint(data, position)  # transactional_id
    position += 6 + (length - 1 if length else 0)  # acks, timeout
    topics, position = _varint(data, position)
    if topics - 1 > size - position:
        raise BoundsError(f"array of {topics - 1} topics claimed at {position}")
    for _ in range(topics - 1):
        length, position = _varint(data, position)  # name
        if length and (position := position + length - 1) > size:
            raise BoundsError("topic name runs past the frame")
        partitions, position = _varint(data, position)
        if partitions - 1 > size - position:
            raise BoundsError(f"array of {partitions - 1} partitions claimed at {position}")
        for _ in range(partitions - 1):
            length, position = _varint(data, position + 4)  # index, records
            if length and (position := position + length - 1) > size:
                raise BoundsError("records run past the frame")
            position = _tagged_fields(data, position, size)
        position = _tagged_fields(data, position, size)
    _tagged_fields(data, position, size)


def _check_legacy(data: bytes, position: int, size: int) -> None:
    (length,) = _I16.unpack_from(data, position)  # transactional_id
    if length < -1:
        raise BoundsError(f"string of {length} bytes at {position}")
    position += 8 + max(length, 0)  # and acks, timeout
    (topics,) = _I32.unpack_from(data, position)
    position += 4
    if topics > size - position:
        raise BoundsError(f"array of {topics} topics claimed at {position}")
    for _ in range(topics):
        (length,) = _I16.unpack_from(data, position)  # name
        if length < -1:
            raise BoundsError(f"string of {length} bytes at {position}")
        position += 2 + max(length, 0)
        (partitions,) = _I32.unpack_from(data, position)
        position += 4
        if partitions > size - position:
            raise BoundsError(f"array of {partitions} partitions claimed at {position}")
        for _ in range(partitions):
            (length,) = _I32.unpack_from(data, position + 4)  # index, records
            if length < -1 or (position := position + 8 + max(length, 0)) > size:
                raise BoundsError("records run past the frame")


def _varint(data: bytes, position: int) -> tuple[int, int]:
    byte = data[position]
    if byte < 0x80:
        return byte, position + 1
    return read_unsigned_varint(data, position)


def _tagged_fields(data: bytes, position: int, size: int) -> int:
    """Skip unknown tagged fields (ProduceRequest defines none up to v11)."""
    count, position = _varint(data, position)
    if count > size - position:
        raise BoundsError(f"{count} tagged fields claimed, {size - position} bytes left")
    for _ in range(count):
        _tag, position = _varint(data, position)
        length, position = _varint(data, position)
        if (position := position + length) > size:
            raise BoundsError("tagged field runs past the frame")
    return position


# --- response: the writer -------------------------------------------------------------------


def encode_produce_response(
    version: int, correlation_id: int, response: Any
) -> tuple[list[bytes | bytearray | memoryview], int] | None:
    """The frame of `response` (a kio ProduceResponse of `version`) as kio's writer and the
    response header make it: ([size prefix and payload], payload size), for
    codec.EncodedFrame.of; None when it holds a field only kio's writer writes."""
    tagged = version >= 10
    if tagged and response.node_endpoints:
        return None
    flexible = version >= FLEXIBLE_FROM
    # The size prefix (filled in by EncodedFrame.finish), the correlation id, and from v9
    # the response header's empty tagged fields.
    out = bytearray(8)
    _I32.pack_into(out, 4, correlation_id)
    if flexible:
        out.append(0)
    # What ends a partition with no record errors and no message (v8+), and the tagged
    # fields that end an entity (v9+): the usual answer, written at once.
    quiet_end = (
        (b"\x01\x00\x00" if flexible else b"\x00\x00\x00\x00\xff\xff") if version >= 8 else b""
    )
    tags = b"\x00" if flexible else b""
    topics = response.responses
    out += _count(len(topics), flexible)
    for topic in topics:
        out += _string(topic.name, flexible)
        partitions = topic.partition_responses
        out += _count(len(partitions), flexible)
        for partition in partitions:
            if type(partition) is PartitionProduced:
                append_ms = partition.log_append_time_ms
            else:
                if tagged:
                    leader = partition.current_leader
                    if leader.leader_id != -1 or leader.leader_epoch != -1:
                        return None
                append_time = partition.log_append_time
                append_ms = -1 if append_time is None else round(append_time.timestamp() * 1000)
            code = partition.error_code  # an IntEnum: struct packs it (Enum.value is slow)
            if version >= 5:
                start = partition.log_start_offset
                out += _PARTITION_V5.pack(
                    partition.index, code, partition.base_offset, append_ms, start
                )
            else:
                out += _PARTITION_V3.pack(partition.index, code, partition.base_offset, append_ms)
            if version >= 8:
                errors = partition.record_errors
                message = partition.error_message
                if not errors and message is None:
                    out += quiet_end
                    continue
                out += _count(len(errors), flexible)
                for error in errors:
                    out += _I32.pack(error.batch_index)
                    out += _string(error.batch_index_error_message, flexible)
                    out += tags
                out += _string(message, flexible)
            out += tags
        out += tags
    throttle = response.throttle_time
    out += _I32.pack(round(throttle.total_seconds() * 1000) if throttle else 0)
    out += tags
    chunks: list[bytes | bytearray | memoryview] = [out]
    return chunks, len(out) - 4


def _count(count: int, flexible: bool) -> bytes:
    return encode_unsigned_varint(count + 1) if flexible else _I32.pack(count)


def _string(value: str | None, flexible: bool) -> bytes:
    if value is None:
        return b"\x00" if flexible else b"\xff\xff"
    encoded = value.encode()
    if flexible:
        return encode_unsigned_varint(len(encoded) + 1) + encoded
    return _I16.pack(len(encoded)) + encoded
