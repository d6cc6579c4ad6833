"""Build and decode the records inside Kafka v2 record batches (pure, no I/O).

The broker's hot path reads only batch headers, and record timestamps when a header cannot be
trusted (see batches.py); this module is for the places that need whole records: tests, the
coordinator's internal log, ListOffsets by timestamp (exact per record inside a compressed
batch) and lag-in-time views.

Record layout (KIP-98), after the 61-byte batch header, possibly compressed:
    length varint, attributes i8, timestamp_delta varlong, offset_delta varint,
    key_length varint (-1: null), key, value_length varint (-1: null), value,
    header_count varint, headers: (key_length varint, key utf-8, value_length varint, value)
Varints are zigzag encoded, as in protobuf (batches.py decodes them, compression.py holds the
codecs; both are re-exported here).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import (
    CONTROL_FLAG,
    CRC_OFFSET,
    HEADER_SIZE,
    LOG_OVERHEAD,
    TIMESTAMP_TYPE_LOG_APPEND,
    TRANSACTIONAL_FLAG,
    BatchHeader,
    compute_crc,
    decode_varint,
    encode_varint,
    read_header,
)
from katka.protocol.compression import (
    COMPRESSION_GZIP,
    COMPRESSION_LZ4,
    COMPRESSION_NONE,
    COMPRESSION_SNAPPY,
    COMPRESSION_ZSTD,
    XERIAL_MAGIC,
    compress,
    decompress,
    xerial_frame,
)

__all__ = [
    "COMPRESSION_GZIP",
    "COMPRESSION_LZ4",
    "COMPRESSION_NONE",
    "COMPRESSION_SNAPPY",
    "COMPRESSION_ZSTD",
    "XERIAL_MAGIC",
    "Record",
    "build_batch",
    "compress",
    "decode_batch",
    "decode_records",
    "decode_varint",
    "decompress",
    "encode_record",
    "encode_varint",
    "iter_batches",
    "xerial_frame",
]

_HEADER = struct.Struct(">qiibIhiqqqhii")
_U32 = struct.Struct(">I")

Headers = tuple[tuple[str, bytes | None], ...]
# (key, value, headers, timestamp_ms): what a producer hands to build_batch.
RecordInput = tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes | None]], int]


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


# --- building --------------------------------------------------------------------------------


def _encode_bytes(data: bytes | None) -> bytes:
    if data is None:
        return encode_varint(-1)
    return encode_varint(len(data)) + data


def encode_record(
    offset_delta: int,
    timestamp_delta: int,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]],
) -> bytes:
    header_list = list(headers)
    parts = [
        b"\x00",  # record attributes: unused
        encode_varint(timestamp_delta),
        encode_varint(offset_delta),
        _encode_bytes(key),
        _encode_bytes(value),
        encode_varint(len(header_list)),
    ]
    for header_key, header_value in header_list:
        parts.append(_encode_bytes(header_key.encode()))
        parts.append(_encode_bytes(header_value))
    body = b"".join(parts)
    return encode_varint(len(body)) + body


def build_batch(
    records: Sequence[RecordInput],
    *,
    base_offset: int = 0,
    compression: int = COMPRESSION_NONE,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    log_append_time: bool = False,
    transactional: bool = False,
    control: bool = False,
    partition_leader_epoch: int = -1,
    base_timestamp: int | None = None,
) -> bytes:
    """One v2 batch holding `records` (key, value, headers, timestamp_ms), CRC signed.

    As the Java producer does, the base timestamp is the first record's timestamp (unless
    `base_timestamp` is given: the deltas are then relative to it) and the max timestamp the
    largest one.
    """
    if not records:
        raise ValueError("a record batch holds at least one record")
    if base_timestamp is None:
        base_timestamp = records[0][3]
    max_timestamp = max(record[3] for record in records)
    payload = b"".join(
        encode_record(delta, timestamp - base_timestamp, key, value, headers)
        for delta, (key, value, headers, timestamp) in enumerate(records)
    )
    payload = compress(compression, payload)
    attributes = compression
    if log_append_time:
        attributes |= TIMESTAMP_TYPE_LOG_APPEND
    if transactional:
        attributes |= TRANSACTIONAL_FLAG
    if control:
        attributes |= CONTROL_FLAG
    batch = bytearray(HEADER_SIZE + len(payload))
    _HEADER.pack_into(
        batch,
        0,
        base_offset,
        HEADER_SIZE - LOG_OVERHEAD + len(payload),
        partition_leader_epoch,
        2,
        0,
        attributes,
        len(records) - 1,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        len(records),
    )
    batch[HEADER_SIZE:] = payload
    _U32.pack_into(batch, CRC_OFFSET, compute_crc(batch))
    return bytes(batch)


# --- decoding --------------------------------------------------------------------------------


def _decode_bytes(buffer: bytes, position: int) -> tuple[bytes | None, int]:
    length, position = decode_varint(buffer, position)
    if length < 0:
        return None, position
    end = position + length
    if end > len(buffer):
        raise KafkaError(ErrorCode.corrupt_message, "record field runs past the batch")
    return buffer[position:end], end


def decode_batch(batch: bytes | bytearray | memoryview) -> list[Record]:
    """Every record of one batch with absolute offsets and timestamps.

    With LogAppendTime every record's timestamp is the batch max timestamp, as consumers see it.
    The CRC is not checked here (the caller reads batches that were already validated).
    """
    view = memoryview(batch)
    if len(view) < HEADER_SIZE:
        raise KafkaError(ErrorCode.corrupt_message, "truncated record batch")
    header = read_header(view)
    if header.magic != 2:
        raise KafkaError(ErrorCode.corrupt_message, f"unsupported magic {header.magic}")
    if header.size > len(view):
        raise KafkaError(ErrorCode.corrupt_message, "truncated record batch")
    payload = decompress(header.compression, view[HEADER_SIZE : header.size])
    return _decode_records(header, payload)


def _decode_records(header: BatchHeader, payload: bytes) -> list[Record]:
    log_append_time = header.is_log_append_time
    records: list[Record] = []
    position = 0
    for _ in range(header.record_count):
        length, position = decode_varint(payload, position)
        end = position + length
        if length < 0 or end > len(payload):
            raise KafkaError(ErrorCode.corrupt_message, "record runs past the batch")
        position += 1  # record attributes
        timestamp_delta, position = decode_varint(payload, position)
        offset_delta, position = decode_varint(payload, position)
        key, position = _decode_bytes(payload, position)
        value, position = _decode_bytes(payload, position)
        header_count, position = decode_varint(payload, position)
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(header_count):
            header_key, position = _decode_bytes(payload, position)
            header_value, position = _decode_bytes(payload, position)
            headers.append(((header_key or b"").decode(errors="replace"), header_value))
        if position != end:
            raise KafkaError(ErrorCode.corrupt_message, "record length does not match its fields")
        timestamp = (
            header.max_timestamp if log_append_time else header.base_timestamp + timestamp_delta
        )
        records.append(
            Record(header.base_offset + offset_delta, timestamp, key, value, tuple(headers))
        )
    if position != len(payload):
        raise KafkaError(ErrorCode.corrupt_message, "record count does not match the batch")
    return records


def iter_batches(buffer: bytes | bytearray | memoryview) -> list[tuple[BatchHeader, memoryview]]:
    """Split a record set (e.g. a fetch response) into batches; a trailing partial batch, as
    Kafka may send when max_bytes cuts one, is dropped."""
    view = memoryview(buffer)
    batches: list[tuple[BatchHeader, memoryview]] = []
    position = 0
    while len(view) - position >= HEADER_SIZE:
        header = read_header(view, position)
        if header.size > len(view) - position:
            break
        batches.append((header, view[position : position + header.size]))
        position += header.size
    return batches


def decode_records(buffer: bytes | bytearray | memoryview) -> list[Record]:
    """Every record of every whole batch in `buffer`, control batches included."""
    return [record for _, batch in iter_batches(buffer) for record in decode_batch(batch)]
