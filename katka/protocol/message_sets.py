"""Message sets of message formats v0 and v1 (magic 0/1, Kafka before 0.11), which Produce
v0-2 and Fetch v0-3 carry, converted to and from the v2 batches katka stores.

Only the old request versions call this module, so the v2 produce and fetch paths never pay
for it. Produce: a message set becomes one v2 batch with the producer's codec (Kafka's
LogValidator up-converts the same way); magic 0 messages have no timestamp (-1). Fetch: the
stored batches become magic 0 (Fetch v0-1) or magic 1 (v2-3) messages, as Kafka's
RecordsUtil.downConvert does, except that katka writes them uncompressed: control batches are
left out, records before the fetch offset are dropped, headers are lost (v0/v1 have none),
and a trailing partial batch is not converted.

Kafka 0.8-0.9 clients framed LZ4 with a wrong header checksum (over the frame's magic too);
Kafka's broker ignores that checksum for magic 0, and so does katka (it is rewritten before
decompressing).

A message: offset int64, size int32, crc uint32 (CRC-32 of the rest), magic int8, attributes
int8 (codec in bits 0-2, LogAppendTime in bit 3 for magic 1), timestamp int64 (magic 1 only),
key and value as int32-length bytes (-1: null). A compressed message's value is the codec's
bytes of an inner message set (one level deep).
"""

from __future__ import annotations

import struct
import zlib

from katka.errors import ErrorCode, KafkaError
from katka.protocol.records import (
    COMPRESSION_LZ4,
    COMPRESSION_NONE,
    COMPRESSION_ZSTD,
    RecordInput,
    build_batch,
    decode_batch,
    decompress,
    iter_batches,
)

_LOG_HEADER = struct.Struct(">qi")  # offset, size
_MESSAGE_HEADER = struct.Struct(">Ibb")  # crc, magic, attributes
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
CODEC_MASK = 0x07
TIMESTAMP_TYPE_FLAG = 0x08
NO_TIMESTAMP = -1


def _corrupt(message: str) -> KafkaError:
    return KafkaError(ErrorCode.corrupt_message, message)


_PRIME1, _PRIME2, _PRIME3, _PRIME4, _PRIME5 = (
    2654435761,
    2246822519,
    3266489917,
    668265263,
    374761393,
)
_MASK = 0xFFFFFFFF
LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"
LZ4_CONTENT_SIZE_FLAG = 0x08


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _MASK


def xxh32(data: bytes, seed: int = 0) -> int:
    """XXH32 (the LZ4 frame format's checksum); only short frame descriptors are hashed."""
    length, position = len(data), 0
    if length >= 16:
        v = [
            (seed + _PRIME1 + _PRIME2) & _MASK,
            (seed + _PRIME2) & _MASK,
            seed,
            (seed - _PRIME1) & _MASK,
        ]
        while position + 16 <= length:
            for i in range(4):
                (lane,) = struct.unpack_from("<I", data, position)
                v[i] = (_rotl((v[i] + lane * _PRIME2) & _MASK, 13) * _PRIME1) & _MASK
                position += 4
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _MASK
    else:
        h = (seed + _PRIME5) & _MASK
    h = (h + length) & _MASK
    while position + 4 <= length:
        (word,) = struct.unpack_from("<I", data, position)
        h = (_rotl((h + word * _PRIME3) & _MASK, 17) * _PRIME4) & _MASK
        position += 4
    while position < length:
        h = (_rotl((h + data[position] * _PRIME5) & _MASK, 11) * _PRIME1) & _MASK
        position += 1
    h ^= h >> 15
    h = (h * _PRIME2) & _MASK
    h ^= h >> 13
    h = (h * _PRIME3) & _MASK
    return h ^ (h >> 16)


def fix_lz4_header_checksum(frame: bytes) -> bytes:
    """The frame with its header checksum recomputed (Kafka 0.8-0.9's was wrong)."""
    if len(frame) < 7 or frame[:4] != LZ4_FRAME_MAGIC:
        return frame
    checksum_at = 6 + (8 if frame[4] & LZ4_CONTENT_SIZE_FLAG else 0)
    if len(frame) <= checksum_at:
        return frame
    checksum = (xxh32(frame[4:checksum_at]) >> 8) & 0xFF
    return frame[:checksum_at] + bytes([checksum]) + frame[checksum_at + 1 :]


def _read_bytes(data: bytes, position: int, end: int) -> tuple[bytes | None, int]:
    if position + 4 > end:
        raise _corrupt("message field runs past the message")
    (length,) = _I32.unpack_from(data, position)
    position += 4
    if length < 0:
        return None, position
    if position + length > end:
        raise _corrupt("message field runs past the message")
    return data[position : position + length], position + length


def _read_messages(
    data: bytes, outer_timestamp: int | None, depth: int
) -> tuple[list[RecordInput], int]:
    """(key, value, headers, timestamp) of every message in a message set, and its codec."""
    records: list[RecordInput] = []
    codec = COMPRESSION_NONE
    position = 0
    while position < len(data):
        if len(data) - position < _LOG_HEADER.size + _MESSAGE_HEADER.size:
            raise _corrupt("truncated message")
        _offset, size = _LOG_HEADER.unpack_from(data, position)
        start = position + _LOG_HEADER.size
        end = start + size
        if size < _MESSAGE_HEADER.size or end > len(data):
            raise _corrupt("truncated message")
        crc, magic, attributes = _MESSAGE_HEADER.unpack_from(data, start)
        if zlib.crc32(data[start + 4 : end]) != crc:
            raise _corrupt("message CRC does not match")
        if magic not in (0, 1):
            raise _corrupt(f"magic {magic} inside a v0/v1 message set")
        cursor = start + _MESSAGE_HEADER.size
        timestamp = NO_TIMESTAMP
        if magic == 1:
            if cursor + 8 > end:
                raise _corrupt("truncated message")
            (timestamp,) = _I64.unpack_from(data, cursor)
            cursor += 8
        key, cursor = _read_bytes(data, cursor, end)
        value, cursor = _read_bytes(data, cursor, end)
        if cursor != end:
            raise _corrupt("message size does not match its fields")
        if outer_timestamp is not None:
            timestamp = outer_timestamp  # LogAppendTime on the wrapper applies to all inside
        message_codec = attributes & CODEC_MASK
        if message_codec == COMPRESSION_NONE:
            records.append((key, value, (), timestamp))
        elif depth > 0 or message_codec >= COMPRESSION_ZSTD or value is None:
            raise _corrupt(f"compression {message_codec} not valid in a v{magic} message")
        else:
            codec = message_codec
            log_append = magic == 1 and attributes & TIMESTAMP_TYPE_FLAG
            if magic == 0 and message_codec == COMPRESSION_LZ4:
                value = fix_lz4_header_checksum(value)
            inner, _ = _read_messages(
                decompress(message_codec, value), timestamp if log_append else None, depth + 1
            )
            records.extend(inner)
        position = end
    return records, codec


def up_convert(message_set: bytes) -> bytes:
    """One v2 batch (base offset 0, no producer id) holding a produced message set's records."""
    try:
        records, codec = _read_messages(bytes(message_set), None, 0)
    except KafkaError:
        raise
    except Exception as error:  # a codec's own error for bytes that are not what they claim
        raise _corrupt(f"cannot decompress the message set: {error}") from None
    if not records:
        raise KafkaError(ErrorCode.invalid_record, "empty message set")
    return build_batch(records, compression=codec)


def _message(
    offset: int,
    magic: int,
    timestamp: int,
    log_append: bool,
    key: bytes | None,
    value: bytes | None,
) -> bytes:
    attributes = TIMESTAMP_TYPE_FLAG if magic == 1 and log_append else 0
    body = bytearray(struct.pack(">bb", magic, attributes))
    if magic == 1:
        body += _I64.pack(timestamp)
    for field in (key, value):
        if field is None:
            body += _I32.pack(-1)
        else:
            body += _I32.pack(len(field)) + field
    crc = zlib.crc32(body)
    return _LOG_HEADER.pack(offset, 4 + len(body)) + struct.pack(">I", crc) + body


def down_convert(stored: bytes | memoryview, magic: int, fetch_offset: int) -> bytes:
    """The whole data batches of a fetched range as an uncompressed magic 0/1 message set."""
    out: list[bytes] = []
    for header, batch in iter_batches(stored):
        if header.is_control:
            continue
        log_append = header.is_log_append_time
        for record in decode_batch(batch):
            if record.offset < fetch_offset:
                continue
            out.append(
                _message(
                    record.offset, magic, record.timestamp_ms, log_append, record.key, record.value
                )
            )
    return b"".join(out)
