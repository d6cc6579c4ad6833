"""Kafka v2 record batches: header parsing, validation and the fields a broker owns.

A batch is stored as the producer sent it except for the fields Kafka's LogValidator sets:
the base offset (outside the CRC) and the timestamp type and max timestamp (inside the CRC, so
the CRC is recomputed when they change). For LogAppendTime topics the max timestamp is the
append time. For CreateTime topics it is the largest record timestamp; the producer's header
is taken as is only when it is plausible (`header_is_trusted`), because walking every record in
Python costs several times the rest of an append. An implausible header (old sarama sends
max_timestamp -1) or a topic with message.timestamp.before.max.ms set makes the broker read
every record's timestamp, decompressing if needed, as Kafka does for every batch.

Layout (big endian):
    0 base_offset i64, 8 batch_length i32, 12 partition_leader_epoch i32, 16 magic i8,
    17 crc u32, 21 attributes i16, 23 last_offset_delta i32, 27 base_timestamp i64,
    35 max_timestamp i64, 43 producer_id i64, 51 producer_epoch i16, 53 base_sequence i32,
    57 record_count i32, 61 records...
The CRC32C covers bytes 21..end. batch_length counts the bytes after the batch_length field.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from katka.errors import ErrorCode, KafkaError
from katka.protocol.checksum import crc32c
from katka.protocol.compression import COMPRESSION_NONE, COMPRESSION_ZSTD, decompress

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
NO_TIMESTAMP = -1
LONG_MAX = 2**63 - 1
DEFAULT_TIMESTAMP_AFTER_MAX_MS = 3_600_000  # Kafka 4's message.timestamp.after.max.ms

_HEADER = struct.Struct(">qiibIhiqqqhii")
_I64 = struct.Struct(">q")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I16 = struct.Struct(">h")


_new_header = tuple.__new__  # BatchHeader from a complete tuple, as NamedTuple._make does


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

    def at(self, base_offset: int, position: int) -> BatchHeader:
        """This header with another base offset and position (`_replace`, several times
        cheaper: it runs for every appended batch)."""
        return _new_header(BatchHeader, (base_offset, *self[1:13], position))

    @property
    def last_sequence(self) -> int:
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        return (self.base_sequence + self.last_offset_delta) & 0x7FFFFFFF


def read_header(
    buffer: bytes | bytearray | memoryview, position: int = 0, file_position: int | None = None
) -> BatchHeader:
    """Parse the header at `position`; the caller guarantees HEADER_SIZE bytes are there.
    Its `position` is `file_position` when given (the buffer is a chunk read from a file)."""
    at = position if file_position is None else file_position
    return _new_header(BatchHeader, (*_HEADER.unpack_from(buffer, position), at))


def compute_crc(batch: bytes | bytearray | memoryview) -> int:
    return int(crc32c(memoryview(batch)[CRC_START:]))


def crc_is_valid(batch: bytes | bytearray | memoryview, header: BatchHeader) -> bool:
    return compute_crc(batch) == header.crc


def validate_produce_records(
    records: bytes | bytearray | memoryview, max_message_bytes: int
) -> list[BatchHeader]:
    """Check the batches of one partition's record set, as Kafka's LogValidator does for the
    header: magic 2, sizes, CRC32C, record count against last offset delta, no control batch,
    a sequence number with a producer id. Record timestamps are `normalise_batch`'s.

    Raises KafkaError with CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE or
    UNSUPPORTED_FOR_MESSAGE_FORMAT. (Kafka also refuses more than one v2 batch per partition
    from a producer, and zstd before Produce v7: see `validate_produce_request`.)
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
        size = header.batch_length + LOG_OVERHEAD
        if header.batch_length < HEADER_SIZE - LOG_OVERHEAD or size > remaining:
            raise KafkaError(ErrorCode.corrupt_message, "batch length does not match the data")
        if size > max_message_bytes:
            raise KafkaError(
                ErrorCode.message_too_large,
                f"batch of {size} bytes exceeds max.message.bytes {max_message_bytes}",
            )
        if crc32c(view[position + CRC_START : position + size]) != header.crc:
            raise KafkaError(ErrorCode.corrupt_message, "record batch CRC mismatch")
        if header.record_count <= 0 or header.last_offset_delta != header.record_count - 1:
            raise KafkaError(
                ErrorCode.invalid_record,
                "record count does not match the last offset delta",
            )
        if header.attributes & CONTROL_FLAG:
            raise KafkaError(ErrorCode.invalid_record, "producers may not send control batches")
        if header.producer_id >= 0 and header.base_sequence < 0:
            raise KafkaError(
                ErrorCode.invalid_record,
                f"Invalid sequence number {header.base_sequence} in record batch with "
                f"producerId {header.producer_id}",
            )
        headers.append(header)
        position += size
    return headers


def validate_produce_request(headers: Sequence[BatchHeader], version: int) -> None:
    """Kafka's ProduceRequest.validateRecords: one v2 batch per partition (every client sends
    one), and zstd only from Produce v7 (KIP-110)."""
    if len(headers) > 1:
        raise KafkaError(
            ErrorCode.invalid_record,
            f"Produce requests with version {version} are only allowed to contain exactly one "
            "record batch per partition",
        )
    if version < 7 and any(header.compression == COMPRESSION_ZSTD for header in headers):
        raise KafkaError(
            ErrorCode.unsupported_compression_type,
            f"Produce requests with version {version} are not allowed to use ZStandard compression",
        )


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


# --- varints ---------------------------------------------------------------------------------


def encode_varint(value: int) -> bytes:
    """Zigzag varint (also used for varlong: Python ints are unbounded)."""
    unsigned = (value << 1) ^ (value >> 63)
    out = bytearray()
    while unsigned > 0x7F:
        out.append((unsigned & 0x7F) | 0x80)
        unsigned >>= 7
    out.append(unsigned)
    return bytes(out)


def decode_varint(buffer: bytes | memoryview, position: int) -> tuple[int, int]:
    """Return (value, next position); raises CORRUPT_MESSAGE on a truncated or overlong varint."""
    unsigned = 0
    shift = 0
    while True:
        if position >= len(buffer) or shift > 63:
            raise KafkaError(ErrorCode.corrupt_message, "truncated or overlong varint")
        byte = buffer[position]
        position += 1
        unsigned |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (unsigned >> 1) ^ -(unsigned & 1), position
        shift += 7


# --- timestamps: the fields the broker owns (Kafka's LogValidator) ----------------------------


@dataclass(frozen=True, slots=True)
class TimestampRules:
    """The topic configs Kafka's validator applies to record timestamps."""

    log_append_time: bool = False  # message.timestamp.type == LogAppendTime
    before_max_ms: int = LONG_MAX  # message.timestamp.before.max.ms (KIP-937)
    after_max_ms: int = DEFAULT_TIMESTAMP_AFTER_MAX_MS  # message.timestamp.after.max.ms


class RecordError(NamedTuple):
    """One refused record, as Produce v8+ reports it (batch_index, batch_index_error_message)."""

    batch_index: int
    message: str

    def __str__(self) -> str:  # Kafka's RecordError.toString, quoted in INVALID_RECORD messages
        return f"RecordError(batchIndex={self.batch_index}, message='{self.message}')"


class RecordValidationError(KafkaError):
    """Records of a batch broke a per-record rule: the whole batch is refused and the Produce
    response lists each record (Kafka's RecordValidationException)."""

    def __init__(self, record_errors: Sequence[RecordError]) -> None:
        self.record_errors = tuple(record_errors)
        if any(error.message.startswith(_TIMESTAMP_ERROR_PREFIXES) for error in record_errors):
            code = ErrorCode.invalid_timestamp
            message = "One or more records have been rejected due to invalid timestamp"
        else:
            code = ErrorCode.invalid_record
            shown = ", ".join(str(error) for error in self.record_errors[:3])
            message = (
                f"One or more records have been rejected due to {len(self.record_errors)} "
                f"record errors in total, and only showing the first three errors at most: "
                f"[{shown}]"
            )
        super().__init__(code, message)


_TIMESTAMP_ERROR_PREFIXES = ("Timestamp ", "Invalid timestamp type")


def _int64(value: int) -> int:
    """Wrap to a signed 64-bit value, as Java's long arithmetic does."""
    return ((value + 2**63) % 2**64) - 2**63


def _timestamp_out_of_range(timestamp: int, now_ms: int, rules: TimestampRules) -> bool:
    """Kafka's recordHasInvalidTimestamp, overflow included (LONG_MAX bounds never trip)."""
    difference = _int64(now_ms - timestamp)
    return difference > rules.before_max_ms or _int64(-difference) > rules.after_max_ms


def header_is_trusted(header: BatchHeader, now_ms: int, rules: TimestampRules) -> bool:
    """True when a CreateTime batch may be stored without reading its records: the header's
    max timestamp is plausible (at or after the first timestamp, not negative, not too far
    ahead) and no rule needs each record (before.max.ms unset). A producer could still lie
    within these bounds; every client katka knows of either fills the header correctly or
    leaves max_timestamp at -1, which is caught here."""
    # With both timestamps >= 0, Kafka's long arithmetic cannot overflow: compare directly.
    return (
        rules.before_max_ms == LONG_MAX
        and not header.attributes & TIMESTAMP_TYPE_LOG_APPEND
        and 0 <= header.base_timestamp <= header.max_timestamp
        and header.max_timestamp - now_ms <= rules.after_max_ms
    )


def normalise_batch(
    batch: bytes | bytearray | memoryview, header: BatchHeader, now_ms: int, rules: TimestampRules
) -> tuple[bytes | bytearray | memoryview, BatchHeader]:
    """The batch as the broker stores it, with the header describing it: the timestamp type
    and max timestamp set as Kafka's LogValidator sets them, the CRC re-signed if they changed.
    `batch` is the whole batch; it is returned as is (no copy) when nothing changes.

    Raises RecordValidationError (INVALID_TIMESTAMP) listing the refused records, KafkaError
    INVALID_RECORD when the records do not match the header, CORRUPT_MESSAGE when they do not
    decompress.
    """
    if rules.log_append_time:
        if header.attributes & TIMESTAMP_TYPE_LOG_APPEND:
            raise RecordValidationError(
                [
                    RecordError(index, _log_append_time_refusal(batch, header, record))
                    for index, record in enumerate(_record_fields(batch, header))
                ]
            )
        return _with_timestamp(batch, header, header.attributes | TIMESTAMP_TYPE_LOG_APPEND, now_ms)
    if header_is_trusted(header, now_ms, rules):
        return batch, header
    max_timestamp = _max_timestamp_if_all_valid(batch, header, now_ms, rules)
    if max_timestamp is None:  # some record may break a rule: Kafka's checks one by one
        max_timestamp = _validate_record_timestamps(batch, header, now_ms, rules)
    attributes = header.attributes & ~TIMESTAMP_TYPE_LOG_APPEND
    if max_timestamp == header.max_timestamp and attributes == header.attributes:
        return batch, header
    return _with_timestamp(batch, header, attributes, max_timestamp)


def validate_keys(
    batch: bytes | bytearray | memoryview, header: BatchHeader, topic_partition: str
) -> None:
    """A compacted topic keeps records by key: refuse every record without one, as Kafka's
    LogValidator.validateKey does (INVALID_RECORD listing each refused record)."""
    payload = _payload(batch, header)
    errors: list[RecordError] = []
    for index, (_, _, start) in enumerate(_record_fields(batch, header, payload)):
        position = decode_varint(payload, start + 1)[1]  # past attributes and timestamp delta
        position = decode_varint(payload, position)[1]  # past the offset delta
        if decode_varint(payload, position)[0] < 0:
            errors.append(
                RecordError(
                    index,
                    "Compacted topic cannot accept message without key in topic partition "
                    f"{topic_partition}.",
                )
            )
    if errors:
        raise RecordValidationError(errors)


def record_max_timestamp(batch: bytes | bytearray | memoryview, header: BatchHeader) -> int:
    """The max timestamp Kafka's validator would have stored for a CreateTime batch: the
    largest record timestamp, or NO_TIMESTAMP when none is positive. For batches stored before
    katka normalised headers (max_timestamp -1 from old clients)."""
    if header.attributes & TIMESTAMP_TYPE_LOG_APPEND:
        return header.max_timestamp
    _, highest = _timestamp_delta_range(_payload(batch, header), header.record_count)
    if -(2**63) <= header.base_timestamp + highest <= LONG_MAX:
        return max(NO_TIMESTAMP, header.base_timestamp + highest)
    largest = NO_TIMESTAMP  # the sum wraps as Java's does: each record counts
    for _, timestamp_delta, _ in _record_fields(batch, header):
        largest = max(largest, _int64(header.base_timestamp + timestamp_delta))
    return largest


def _max_timestamp_if_all_valid(
    batch: bytes | bytearray | memoryview, header: BatchHeader, now_ms: int, rules: TimestampRules
) -> int | None:
    """The batch's max timestamp when every record passes the timestamp rules, found from the
    smallest and largest timestamp deltas alone (one quick pass); None when a record may fail
    (or sums would overflow), for `_validate_record_timestamps` to say which."""
    if header.attributes & TIMESTAMP_TYPE_LOG_APPEND:
        return None
    low, high = _timestamp_delta_range(_payload(batch, header), header.record_count)
    lowest, highest = header.base_timestamp + low, header.base_timestamp + high
    if not -(2**62) <= lowest <= highest <= 2**62:  # far from any overflow in Kafka's checks
        return None
    lower_bound = now_ms - rules.before_max_ms if rules.before_max_ms < LONG_MAX else None
    upper_bound = now_ms + rules.after_max_ms if rules.after_max_ms < LONG_MAX else None
    if (lower_bound is not None and lowest < lower_bound) or (
        upper_bound is not None and highest > upper_bound
    ):
        return None
    return max(NO_TIMESTAMP, highest)


def _validate_record_timestamps(
    batch: bytes | bytearray | memoryview, header: BatchHeader, now_ms: int, rules: TimestampRules
) -> int:
    """Kafka's per-record timestamp checks for a CreateTime topic; returns the max timestamp."""
    log_append_time = bool(header.attributes & TIMESTAMP_TYPE_LOG_APPEND)
    largest = NO_TIMESTAMP
    errors: list[RecordError] = []
    for index, record in enumerate(_record_fields(batch, header)):
        offset_delta, timestamp_delta, _ = record
        if log_append_time:  # a record of such a batch reads the batch max timestamp
            timestamp = header.max_timestamp
        else:
            timestamp = _int64(header.base_timestamp + timestamp_delta)
        if timestamp != NO_TIMESTAMP:
            if _timestamp_out_of_range(timestamp, now_ms, rules):
                errors.append(
                    RecordError(
                        index,
                        f"Timestamp {timestamp} of message with offset "
                        f"{header.base_offset + offset_delta} is out of range. The timestamp "
                        f"should be within [{_int64(now_ms - rules.before_max_ms)}, "
                        f"{_int64(now_ms + rules.after_max_ms)}]",
                    )
                )
            largest = max(largest, timestamp)
        elif log_append_time:
            errors.append(RecordError(index, _log_append_time_refusal(batch, header, record)))
    if errors:
        raise RecordValidationError(errors)
    return largest


def _log_append_time_refusal(
    batch: bytes | bytearray | memoryview, header: BatchHeader, record: tuple[int, int, int]
) -> str:
    offset_delta, _, start = record
    payload = _payload(batch, header)
    position = decode_varint(payload, start + 1)[1]  # past attributes and timestamp delta
    position = decode_varint(payload, position)[1]  # past the offset delta
    key_length, position = decode_varint(payload, position)
    value_length = decode_varint(payload, position + max(key_length, 0))[0]
    description = (
        f"DefaultRecord(offset={header.base_offset + offset_delta}, "
        f"timestamp={header.max_timestamp}, key={max(key_length, 0)} bytes, "
        f"value={max(value_length, 0)} bytes)"
    )
    return (
        f"Invalid timestamp type in message {description}. "
        "Producer should not set timestamp type to LogAppendTime."
    )


def _with_timestamp(
    batch: bytes | bytearray | memoryview, header: BatchHeader, attributes: int, max_timestamp: int
) -> tuple[bytearray, BatchHeader]:
    copy = bytearray(batch)
    _I16.pack_into(copy, ATTRIBUTES_OFFSET, attributes)
    _I64.pack_into(copy, MAX_TIMESTAMP_OFFSET, max_timestamp)
    crc = compute_crc(copy)
    _U32.pack_into(copy, CRC_OFFSET, crc)
    return copy, header._replace(attributes=attributes, max_timestamp=max_timestamp, crc=crc)


def _payload(batch: bytes | bytearray | memoryview, header: BatchHeader) -> bytes:
    data = memoryview(batch)[HEADER_SIZE : header.size]
    if header.attributes & COMPRESSION_MASK == COMPRESSION_NONE:
        return bytes(data)
    return decompress(header.attributes & COMPRESSION_MASK, data)


_MIN_RECORD_BODY = 6  # attributes, timestamp and offset deltas, key, value, header count


def _timestamp_delta_range(payload: bytes, count: int) -> tuple[int, int]:
    """(smallest, largest) timestamp delta of the `count` records filling `payload`.

    The hot loop of an untrusted header: one- and two-byte varints are decoded inline and only
    the record length and timestamp delta are read. Raises INVALID_RECORD when the records do
    not fill the payload exactly.
    """
    end = len(payload)
    position = 0
    low = high = 0
    try:
        for index in range(count):
            byte = payload[position]
            if byte < 0x80:
                length = (byte >> 1) ^ -(byte & 1)
                position += 1
            elif payload[position + 1] < 0x80:
                unsigned = (byte & 0x7F) | (payload[position + 1] << 7)
                length = (unsigned >> 1) ^ -(unsigned & 1)
                position += 2
            else:
                length, position = decode_varint(payload, position)
            if length < _MIN_RECORD_BODY:
                raise IndexError(position)
            byte = payload[position + 1]  # after the record attributes
            if byte < 0x80:
                delta = (byte >> 1) ^ -(byte & 1)
            else:
                delta = decode_varint(payload, position + 1)[0]
            if index == 0:
                low = high = delta
            elif delta > high:
                high = delta
            elif delta < low:
                low = delta
            position += length
    except (IndexError, KafkaError) as error:
        raise KafkaError(ErrorCode.invalid_record, "Found invalid record structure") from error
    if position != end:
        raise KafkaError(
            ErrorCode.invalid_record, "Incorrect declared batch size, records still remaining"
        )
    return low, high


def _record_fields(
    batch: bytes | bytearray | memoryview, header: BatchHeader, payload: bytes | None = None
) -> list[tuple[int, int, int]]:
    """(offset_delta, timestamp_delta, start) of every record, reading no key or value.

    Raises INVALID_RECORD when the records do not fill the (decompressed) payload exactly.
    """
    if payload is None:
        payload = _payload(batch, header)
    end = len(payload)
    fields: list[tuple[int, int, int]] = []
    position = 0
    try:
        for _ in range(header.record_count):
            length, start = decode_varint(payload, position)
            position = start + length
            if length < _MIN_RECORD_BODY or position > end:
                raise KafkaError(ErrorCode.invalid_record, "Found invalid record structure")
            timestamp_delta, field_end = decode_varint(payload, start + 1)
            offset_delta, field_end = decode_varint(payload, field_end)
            if field_end > position:
                raise KafkaError(ErrorCode.invalid_record, "Found invalid record structure")
            fields.append((offset_delta, timestamp_delta, start))
    except KafkaError as error:
        raise KafkaError(ErrorCode.invalid_record, "Found invalid record structure") from error
    if position != end:
        raise KafkaError(
            ErrorCode.invalid_record, "Incorrect declared batch size, records still remaining"
        )
    return fields
