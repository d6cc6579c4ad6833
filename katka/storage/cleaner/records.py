"""A cleaned batch's keys and its rebuild with fewer records (pure, no I/O).

Kafka's cleaner (MemoryRecords.filterTo) keeps a v2 batch's base offset, last offset delta,
producer id, epoch, base sequence, base timestamp and attributes when it drops records from
it, so the batch still spans the same offsets and an idempotent producer's sequence numbers
still add up; only the record count, the payload (recompressed with the batch's codec), the
length and the CRC change. A batch whose records are all dropped disappears, unless it is the
last batch of its producer: that one is kept empty (a header and no records), as Kafka's
RETAIN_EMPTY does, so the producer's state survives a rebuild from the log.
"""

from __future__ import annotations

import functools
import hashlib
import struct

from katka.protocol.batches import (
    ATTRIBUTES_OFFSET,
    COMPRESSION_MASK,
    CRC_OFFSET,
    HEADER_SIZE,
    LOG_OVERHEAD,
    BatchHeader,
    compute_crc,
)
from katka.protocol.compression import compress

_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")
_U32 = struct.Struct(">I")
_BATCH_LENGTH_OFFSET = 8
_RECORD_COUNT_OFFSET = 57
SHORT_KEY = 16  # keys shorter than an MD5 digest map by themselves (see map_key)
md5 = functools.partial(hashlib.md5, usedforsecurity=False)


def map_key(key: bytes) -> bytes:
    """The offset map's key: a key shorter than an MD5 digest stands for itself (no digest
    is that short, so the two never collide, and it takes no more room); a longer one by
    its digest, as Kafka's SkimpyOffsetMap keeps every key."""
    return key if len(key) < SHORT_KEY else md5(key).digest()


def rebuild_batch(
    batch: bytes | bytearray | memoryview, header: BatchHeader, records: bytes, count: int
) -> bytes:
    """`batch` holding only `count` records whose bytes (length prefixes included, in
    order) are `records`, its offset range unchanged. With no record kept the result is an
    empty batch (no records, no compression)."""
    compression = header.compression
    if count:
        body = compress(compression, records) if compression else records
        attributes = header.attributes
    else:
        body = b""
        attributes = header.attributes & ~COMPRESSION_MASK
    rebuilt = bytearray(memoryview(batch)[:HEADER_SIZE])
    rebuilt += body
    _I32.pack_into(rebuilt, _BATCH_LENGTH_OFFSET, HEADER_SIZE - LOG_OVERHEAD + len(body))
    _I16.pack_into(rebuilt, ATTRIBUTES_OFFSET, attributes)
    _I32.pack_into(rebuilt, _RECORD_COUNT_OFFSET, count)
    _U32.pack_into(rebuilt, CRC_OFFSET, compute_crc(rebuilt))
    return bytes(rebuilt)
