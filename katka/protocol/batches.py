"""Kafka v2 record batches: header parsing, validation and the few rewrites a broker makes.

A batch is stored exactly as the producer sent it; the broker only rewrites the base offset
(outside the CRC) and, for LogAppendTime topics, the timestamp type and max timestamp (inside
the CRC, so the CRC is recomputed). No per-record work happens here: counts and timestamps come
from the batch header.

Layout (big endian):
    0 base_offset i64, 8 batch_length i32, 12 partition_leader_epoch i32, 16 magic i8,
    17 crc u32, 21 attributes i16, 23 last_offset_delta i32, 27 base_timestamp i64,
    35 max_timestamp i64, 43 producer_id i64, 51 producer_epoch i16, 53 base_sequence i32,
    57 record_count i32, 61 records...
The CRC32C covers bytes 21..end. batch_length counts the bytes after the batch_length field.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

import crc32c

from katka.errors import ErrorCode, KafkaError

HEADER_SIZE = 61
LOG_OVERHEAD = 12  # base_offset + batch_length: the bytes not counted by batch_length
CRC_START = 21
MAGIC_OFFSET = 16
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21
MAX_TIMESTAMP_OFFSET = 35
PARTITION_LEADER_EPOCH_OFFSET = 12

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_LOG_APPEND = 0x08
TRANSACTIONAL_FLAG = 0x10
CONTROL_FLAG = 0x20

NO_PRODUCER_ID = -1
NO_SEQUENCE = -1

_HEADER = struct.Struct(">qiibIhiqqqhii")
_I64 = struct.Struct(">q")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I16 = struct.Struct(">h")


class BatchHeader(NamedTuple):
    """The fixed 61-byte header of a v2 record batch, plus where it sits in its buffer."""

    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int
    position: int

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies, headers included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def is_log_append_time(self) -> bool:
        return bool(self.attributes & TIMESTAMP_TYPE_LOG_APPEND)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_FLAG)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_FLAG)

    @property
    def last_sequence(self) -> int:
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) & 0x7FFFFFFF


def read_header(buffer: bytes | bytearray | memoryview, position: int = 0) -> BatchHeader:
    """Parse the header at `position`; the caller guarantees HEADER_SIZE bytes are there."""
    return BatchHeader._make((*_HEADER.unpack_from(buffer, position), position))


def compute_crc(batch: bytes | bytearray | memoryview) -> int:
    return int(crc32c.crc32c(memoryview(batch)[CRC_START:]))


def crc_is_valid(batch: bytes | bytearray | memoryview, header: BatchHeader) -> bool:
    return compute_crc(batch) == header.crc


def validate_produce_records(
    records: bytes | bytearray | memoryview, max_message_bytes: int
) -> list[BatchHeader]:
    """Check every batch a producer sent for one partition, as Kafka's LogValidator does for
    the header: magic 2, sizes, CRC32C, record count against last offset delta.

    Raises KafkaError with CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE or
    UNSUPPORTED_FOR_MESSAGE_FORMAT.
    """
    view = memoryview(records)
    total = len(view)
    if total == 0:
        raise KafkaError(ErrorCode.invalid_record, "empty record set")
    headers: list[BatchHeader] = []
    position = 0
    while position < total:
        remaining = total - position
        if remaining < HEADER_SIZE:
            if remaining >= MAGIC_OFFSET + 1 and view[position + MAGIC_OFFSET] < 2:
                raise KafkaError(
                    ErrorCode.unsupported_for_message_format, "magic v0/v1 is not supported"
                )
            raise KafkaError(ErrorCode.corrupt_message, "truncated record batch")
        header = read_header(view, position)
        if header.magic != 2:
            if header.magic in (0, 1):
                raise KafkaError(
                    ErrorCode.unsupported_for_message_format, "magic v0/v1 is not supported"
                )
            raise KafkaError(ErrorCode.corrupt_message, f"unknown magic {header.magic}")
        if header.batch_length < HEADER_SIZE - LOG_OVERHEAD or header.size > remaining:
            raise KafkaError(ErrorCode.corrupt_message, "batch length does not match the data")
        if header.size > max_message_bytes:
            raise KafkaError(
                ErrorCode.message_too_large,
                f"batch of {header.size} bytes exceeds max.message.bytes {max_message_bytes}",
            )
        batch = view[position : position + header.size]
        if not crc_is_valid(batch, header):
            raise KafkaError(ErrorCode.corrupt_message, "record batch CRC mismatch")
        if header.record_count <= 0 or header.last_offset_delta != header.record_count - 1:
            raise KafkaError(
                ErrorCode.invalid_record,
                "record count does not match the last offset delta",
            )
        if header.is_control:
            raise KafkaError(ErrorCode.invalid_record, "producers may not send control batches")
        headers.append(header)
        position += header.size
    return headers


def assign_base_offset(batch: bytearray, base_offset: int) -> None:
    """Rewrite the base offset in place (outside the CRC, so the CRC stays valid)."""
    _I64.pack_into(batch, 0, base_offset)


def set_partition_leader_epoch(batch: bytearray, epoch: int) -> None:
    _I32.pack_into(batch, PARTITION_LEADER_EPOCH_OFFSET, epoch)


def set_log_append_time(batch: bytearray, timestamp_ms: int) -> None:
    """Mark the batch LogAppendTime with `timestamp_ms` as its max timestamp and re-sign it.

    Consumers read every record's timestamp as the batch max timestamp when this flag is set.
    """
    (attributes,) = _I16.unpack_from(batch, ATTRIBUTES_OFFSET)
    _I16.pack_into(batch, ATTRIBUTES_OFFSET, attributes | TIMESTAMP_TYPE_LOG_APPEND)
    _I64.pack_into(batch, MAX_TIMESTAMP_OFFSET, timestamp_ms)
    _U32.pack_into(batch, CRC_OFFSET, compute_crc(batch))


def scan_batches(
    buffer: bytes | bytearray | memoryview, verify_crc: bool = True
) -> Iterator[BatchHeader]:
    """Yield each complete, well-formed batch in `buffer` from the start; stop silently at the
    first torn or corrupt one (recovery truncates there: the caller compares positions)."""
    view = memoryview(buffer)
    total = len(view)
    position = 0
    while total - position >= HEADER_SIZE:
        header = read_header(view, position)
        if (
            header.magic != 2
            or header.batch_length < HEADER_SIZE - LOG_OVERHEAD
            or header.size > total - position
        ):
            return
        if verify_crc and not crc_is_valid(view[position : position + header.size], header):
            return
        yield header
        position += header.size
