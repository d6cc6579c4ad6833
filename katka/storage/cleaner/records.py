"""Records inside a batch, as the cleaner sees them, and a batch rebuilt with fewer records
(pure, no I/O).

Kafka's cleaner (MemoryRecords.filterTo) keeps a v2 batch's base offset, last offset delta,
producer id, epoch, base sequence, base timestamp and attributes when it drops records from
it, so the batch still spans the same offsets and an idempotent producer's sequence numbers
still add up; only the record count, the payload (recompressed with the batch's codec), the
length and the CRC change. A batch whose records are all dropped disappears, unless it is the
last batch of its producer: that one is kept empty (a header and no records), as Kafka's
RETAIN_EMPTY does, so the producer's state survives a rebuild from the log.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from katka.protocol.batches import (
    ATTRIBUTES_OFFSET,
    COMPRESSION_MASK,
    CRC_OFFSET,
    HEADER_SIZE,
    LOG_OVERHEAD,
    BatchHeader,
    compute_crc,
    decode_varint,
    read_header,
)
from katka.protocol.compression import compress, decompress

_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")
_U32 = struct.Struct(">I")
_md5 = hashlib.md5
_BATCH_LENGTH_OFFSET = 8
_RECORD_COUNT_OFFSET = 57


class RawRecord(NamedTuple):
    """One record of a batch: its offset, key (None: no key), whether it is a tombstone, and
    where its bytes (length prefix included) sit in the decompressed payload."""

    offset: int
    key: bytes | None
    tombstone: bool
    start: int
    end: int


def payload_of(batch: bytes | bytearray | memoryview, header: BatchHeader) -> bytes:
    data = memoryview(batch)[HEADER_SIZE : header.size]
    return decompress(header.compression, data) if header.compression else bytes(data)


_new_tuple = tuple.__new__


def _walk(payload: bytes, header: BatchHeader) -> Iterator[tuple[int, int, int, int, int]]:
    """(offset, key position, key length (-1: no key), record position, record end) of every
    record of a (decompressed) payload. Raises KafkaError or IndexError on a malformed one.

    The cleaner's hot loop: one- and two-byte varints (record lengths under 8 KiB, offset
    deltas under 8,192, keys under 64 bytes) are decoded inline."""
    position = 0
    base_offset = header.base_offset
    for _ in range(header.record_count):
        byte = payload[position]
        if byte < 0x80:
            length, body = (byte >> 1) ^ -(byte & 1), position + 1
        elif payload[position + 1] < 0x80:
            unsigned = (byte & 0x7F) | (payload[position + 1] << 7)
            length, body = (unsigned >> 1) ^ -(unsigned & 1), position + 2
        else:
            length, body = decode_varint(payload, position)
        end = body + length
        field = body + 1  # past the attributes
        if payload[field] < 0x80:  # the timestamp delta, skipped
            field += 1
        elif payload[field + 1] < 0x80:
            field += 2
        else:
            field = decode_varint(payload, field)[1]
        byte = payload[field]
        if byte < 0x80:
            offset_delta, field = (byte >> 1) ^ -(byte & 1), field + 1
        elif payload[field + 1] < 0x80:
            unsigned = (byte & 0x7F) | (payload[field + 1] << 7)
            offset_delta, field = (unsigned >> 1) ^ -(unsigned & 1), field + 2
        else:
            offset_delta, field = decode_varint(payload, field)
        byte = payload[field]
        if byte < 0x80:
            key_length, field = (byte >> 1) ^ -(byte & 1), field + 1
        else:
            key_length, field = decode_varint(payload, field)
        yield base_offset + offset_delta, field, key_length, position, end
        position = end


def scan_kept(
    payload: bytes, header: BatchHeader, latest: dict[bytes, int], retain_deletes: bool
) -> list[RawRecord]:
    """The records of a (decompressed) payload that a cleaning keeps: keyed (Kafka's
    cleaner drops keyless records of a compacted log), at or past the latest offset of
    their key in `latest` (by map_key), and not a tombstone unless `retain_deletes`.
    Raises KafkaError or IndexError on a malformed payload. Only a kept record becomes a
    tuple (built without NamedTuple's Python-level constructor)."""
    get = latest.get
    records: list[RawRecord] = []
    append = records.append
    for offset, field, key_length, position, end in _walk(payload, header):
        if key_length < 0:
            continue
        key = payload[field : field + key_length]
        if offset < get(key if key_length < 16 else _md5(key, usedforsecurity=False).digest(), -1):
            continue
        tombstone = payload[field + key_length] == 1  # a value length of -1 is 0x01
        if tombstone and not retain_deletes:
            continue
        append(_new_tuple(RawRecord, (offset, key, tombstone, position, end)))
    return records


def map_key(key: bytes) -> bytes:
    """The offset map's key: a key shorter than an MD5 digest stands for itself (no digest
    is that short, so the two never collide, and it takes no more room); a longer one by
    its digest, as Kafka's SkimpyOffsetMap keeps every key."""
    return key if len(key) < 16 else _md5(key, usedforsecurity=False).digest()


def put_keys(payload: bytes, header: BatchHeader, offsets: dict[bytes, int]) -> None:
    """offsets[map_key(key)] = offset for every keyed record of a (decompressed) payload,
    written straight into the map (the map build reads every dirty record)."""
    for offset, field, key_length, _, _ in _walk(payload, header):
        if key_length >= 16:
            key = _md5(payload[field : field + key_length], usedforsecurity=False).digest()
            offsets[key] = offset
        elif key_length >= 0:
            offsets[payload[field : field + key_length]] = offset


def rebuild_batch(
    batch: bytes | bytearray | memoryview,
    header: BatchHeader,
    payload: bytes,
    kept: Sequence[RawRecord],
) -> bytes:
    """`batch` holding only the `kept` records (in order), its offset range unchanged. With
    no record kept the result is an empty batch (no records, no compression)."""
    compression = header.compression
    if kept:
        records = b"".join(payload[record.start : record.end] for record in kept)
        body = compress(compression, records) if compression else records
        attributes = header.attributes
    else:
        body = b""
        attributes = header.attributes & ~COMPRESSION_MASK
    rebuilt = bytearray(memoryview(batch)[:HEADER_SIZE])
    rebuilt += body
    _I32.pack_into(rebuilt, _BATCH_LENGTH_OFFSET, HEADER_SIZE - LOG_OVERHEAD + len(body))
    _I16.pack_into(rebuilt, ATTRIBUTES_OFFSET, attributes)
    _I32.pack_into(rebuilt, _RECORD_COUNT_OFFSET, len(kept))
    _U32.pack_into(rebuilt, CRC_OFFSET, compute_crc(rebuilt))
    return bytes(rebuilt)


def iter_batches_of(data: bytes | memoryview) -> Iterator[tuple[BatchHeader, memoryview]]:
    """Whole batches of a segment's bytes, in order (a partial tail is not returned)."""
    view = memoryview(data)
    position = 0
    while len(view) - position >= HEADER_SIZE:
        header = read_header(view, position)
        if header.size > len(view) - position or header.size < HEADER_SIZE:
            return
        yield header._replace(position=position), view[position : position + header.size]
        position += header.size
