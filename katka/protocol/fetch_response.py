"""Fetch responses v4-18 written with struct, the bytes kio's generic writer would write.

Every consumer's every Fetch is answered through here, and kio's writer (a closure call per
field, a temporary buffer per flexible entity's tagged fields) cost as much as the rest of an
idle long poll's answer (issue 17). This writer reads the same kio entities; anything it does
not write itself (a tagged field set to something other than its default: katka sets none, as
it is no follower's leader) makes it answer None, and the caller uses kio's writer instead.
tests/protocol/test_fetch_response.py checks it byte for byte against kio at every version.

Records are kept by reference when large, so stored batches reach the socket uncopied
(see codec.EncodedFrame).

The handler answers v4-18 with `Fetched`, `FetchedTopic` and `FetchedPartition` below rather
than kio's entities (a woken long poll builds a response twice: when it parks, when it wakes),
with kio's field names, so sessions, tests and throttling read them alike; their tagged fields
are always the defaults. The writer takes both.
"""

from __future__ import annotations

import dataclasses
import datetime
import struct
import uuid
from typing import Any, NamedTuple

from katka.protocol.varint import encode_unsigned_varint

FIRST_VERSION = 4
FIRST_FLEXIBLE_VERSION = 12
FIRST_TOPIC_ID_VERSION = 13
FIRST_NODE_ENDPOINTS_VERSION = 16
LARGE_CHUNK_BYTES = 8192
_ZERO_UUID = bytes(16)

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_HEAD_V7 = struct.Struct(">ihi")  # throttle time, error code, session id
_ABORTED = struct.Struct(">qq")
_PARTITION_V4 = struct.Struct(">ihqq")  # index, error code, high watermark, last stable offset
_PARTITION_V5 = struct.Struct(">ihqqq")  # ... and log start offset
_PARTITION_TAGS = ("diverging_epoch", "current_leader", "snapshot_id")


class FetchedPartition(NamedTuple):
    """kio's PartitionData (v4-18), its tagged fields at their defaults."""

    partition_index: int
    error_code: int
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    aborted_transactions: tuple[Any, ...] | None = None  # kio's AbortedTransaction
    preferred_read_replica: int = -1
    records: bytes | memoryview | None = b""


class FetchedTopic(NamedTuple):
    """kio's FetchableTopicResponse: by name below v13, by id from v13."""

    topic: str
    topic_id: uuid.UUID | None
    partitions: tuple[Any, ...]


@dataclasses.dataclass(slots=True)
class Fetched:
    """kio's FetchResponse; a dataclass, so a session id or a throttle time is replaced in."""

    responses: tuple[Any, ...]
    error_code: int = 0
    session_id: int = 0
    throttle_time: datetime.timedelta = datetime.timedelta(0)
    node_endpoints: tuple[Any, ...] = ()


class _Unusual(Exception):
    """Something this writer leaves to kio's."""


def encode_fetch_response(
    version: int, correlation_id: int, response: Any
) -> tuple[list[bytes | bytearray | memoryview], int] | None:
    """The frame's buffers (the first starts with a 4-byte size prefix left zero for the
    caller) and its payload size; None when kio's writer must write this one."""
    try:
        return _encode(version, correlation_id, response)
    except _Unusual:
        return None


def _encode(
    version: int, correlation_id: int, response: Any
) -> tuple[list[bytes | bytearray | memoryview], int]:
    flexible = version >= FIRST_FLEXIBLE_VERSION
    if version >= FIRST_NODE_ENDPOINTS_VERSION and response.node_endpoints:
        raise _Unusual
    out = bytearray(8)
    _I32.pack_into(out, 4, correlation_id)
    if flexible:
        out.append(0)  # response header v1: no tagged fields
    throttle_ms = round(response.throttle_time.total_seconds() * 1000)
    if version >= 7:
        out += _HEAD_V7.pack(throttle_ms, response.error_code, response.session_id)
    else:
        out += _I32.pack(throttle_ms)
    chunks: list[bytes | bytearray | memoryview] = [out]
    size = 0  # of the chunks before `out`
    partition_struct = _PARTITION_V5 if version >= 5 else _PARTITION_V4
    topics = response.responses
    out += encode_unsigned_varint(len(topics) + 1) if flexible else _I32.pack(len(topics))
    for topic in topics:
        if version >= FIRST_TOPIC_ID_VERSION:
            out += _ZERO_UUID if topic.topic_id is None else topic.topic_id.bytes
        else:
            name = topic.topic.encode()
            out += encode_unsigned_varint(len(name) + 1) if flexible else _I16.pack(len(name))
            out += name
        partitions = topic.partitions
        out += (
            encode_unsigned_varint(len(partitions) + 1) if flexible else _I32.pack(len(partitions))
        )
        for partition in partitions:
            if flexible and type(partition) is not FetchedPartition:
                defaults = _tag_defaults(type(partition))
                for name, default in zip(_PARTITION_TAGS, defaults, strict=True):
                    value = getattr(partition, name)
                    if value is not default and value != default:
                        raise _Unusual
            if version >= 5:
                out += partition_struct.pack(
                    partition.partition_index,
                    partition.error_code,
                    partition.high_watermark,
                    partition.last_stable_offset,
                    partition.log_start_offset,
                )
            else:
                out += partition_struct.pack(
                    partition.partition_index,
                    partition.error_code,
                    partition.high_watermark,
                    partition.last_stable_offset,
                )
            aborted = partition.aborted_transactions
            if aborted is None:
                out += b"\x00" if flexible else b"\xff\xff\xff\xff"
            else:
                out += (
                    encode_unsigned_varint(len(aborted) + 1)
                    if flexible
                    else _I32.pack(len(aborted))
                )
                for transaction in aborted:
                    out += _ABORTED.pack(transaction.producer_id, transaction.first_offset)
                    if flexible:
                        out.append(0)
            if version >= 11:
                out += _I32.pack(partition.preferred_read_replica)
            records = partition.records
            if records is None:
                out += b"\x00" if flexible else b"\xff\xff\xff\xff"
            else:
                length = len(records)
                out += encode_unsigned_varint(length + 1) if flexible else _I32.pack(length)
                if length >= LARGE_CHUNK_BYTES:
                    size += len(out)
                    chunks.append(records)
                    size += length
                    out = bytearray()
                    chunks.append(out)
                else:
                    out += records
            if flexible:
                out.append(0)  # the partition's tagged fields
        if flexible:
            out.append(0)  # the topic's tagged fields
    if flexible:
        out.append(0)  # the response's tagged fields (no node endpoints)
    size += len(out) - 4  # less the size prefix
    if not out:
        chunks.pop()
    return chunks, size


_DEFAULTS: dict[type, tuple[Any, ...]] = {}


def _tag_defaults(partition_type: type) -> tuple[Any, ...]:
    """The default values of a kio PartitionData's tagged fields."""
    found = _DEFAULTS.get(partition_type)
    if found is None:
        fields = {f.name: f for f in dataclasses.fields(partition_type)}
        found = _DEFAULTS[partition_type] = tuple(fields[name].default for name in _PARTITION_TAGS)
    return found
