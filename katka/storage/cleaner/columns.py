"""Every record of a run of batches at once, as columns (numpy arrays): the cleaner's
bytes-level scan (pure, no I/O).

Why numpy: a Python loop costs about a microsecond per record, and a cleaning reads every
record of the dirty part once to build the key map and again to rewrite it: a million
100-byte records a second (100 MB/s) leaves no room for per-record Python work. The records
of one batch form a chain (each record's length varint says where the next one starts), so
they cannot be found in parallel within a batch; across batches they can: step r decodes the
r-th record of every batch that has one with a few array operations. When fewer than
`VECTOR_MIN_BATCHES` batches still have records (a long batch among short ones), a plain
loop finishes them, so a run is never much slower than the loop alone.

numpy is imported only when a cleaning runs (job.py imports this module then): the disk
engine's cleanings run in the cleaner's own process, so the broker's process never loads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import HEADER_SIZE, BatchHeader, decode_varint
from katka.protocol.compression import decompress
from katka.storage.cleaner.records import SHORT_KEY, md5

if TYPE_CHECKING:
    from katka.storage.cleaner.plan import OffsetMap

Int64s = NDArray[np.int64]
VECTOR_MIN_BATCHES = 48
_PADDING = bytes(16)  # a varint read at a payload's last byte stays inside the buffer


@dataclass
class RecordColumns:
    """The records of a run of batches, in log order. `payload` holds the batches'
    (decompressed) payloads one after another; positions index it."""

    payload: bytes
    first_record: Int64s  # per batch, the index of its first record; one more: the total
    offset: Int64s
    key_start: Int64s
    key_length: Int64s  # -1: no key
    start: Int64s  # the record's bytes (length prefix included): payload[start:end]
    end: Int64s
    tombstone: NDArray[np.bool_]

    def map_keys(self, first: int, end: int) -> tuple[list[bytes], list[int]]:
        """(map key, offset) of the keyed records first..end-1, in log order within each
        key length class (short keys, then digests: the two never hold the same key, so an
        offset map updated with them in that order ends with every key's latest offset)."""
        keys: list[bytes] = []
        offsets: list[int] = []
        key_length = self.key_length[first:end]
        for chosen in self._by_key_class(key_length >= 0, key_length):
            keys += self._keys(chosen + first)
            offsets += self.offset[chosen + first].tolist()
        return keys, offsets

    def latest_offsets(self, selected: NDArray[np.bool_], offset_map: OffsetMap) -> Int64s:
        """The map's offset (-1: none) for the key of each selected record, in order."""
        indices = np.flatnonzero(selected)
        latest = np.full(len(indices), -1, dtype=np.int64)
        key_length = self.key_length[indices]
        for chosen in self._by_key_class(key_length >= 0, key_length):
            latest[chosen] = offset_map.latest_many(self._keys(indices[chosen]))
        return latest

    @staticmethod
    def _by_key_class(keyed: NDArray[np.bool_], key_length: Int64s) -> list[Int64s]:
        """Indices of the short keys and of the long ones."""
        short = keyed & (key_length < SHORT_KEY)
        return [np.flatnonzero(short), np.flatnonzero(keyed & ~short)]

    def _keys(self, records: Int64s) -> list[bytes]:
        """The map keys of the given records (all keyed, all short or all long)."""
        if not len(records):
            return []
        payload = self.payload
        starts = self.key_start[records]
        ends = (starts + self.key_length[records]).tolist()
        if int(self.key_length[records[0]]) < SHORT_KEY:
            return [payload[s:e] for s, e in zip(starts.tolist(), ends, strict=True)]
        return [md5(payload[s:e]).digest() for s, e in zip(starts.tolist(), ends, strict=True)]

    def records_of(self, kept: NDArray[np.bool_], batch: int) -> bytes:
        """The kept records of one batch, their bytes joined (a rebuilt batch's payload)."""
        first, last = int(self.first_record[batch]), int(self.first_record[batch + 1])
        chosen = np.flatnonzero(kept[first:last]) + first
        payload = self.payload
        starts, ends = self.start[chosen].tolist(), self.end[chosen].tolist()
        return b"".join([payload[s:e] for s, e in zip(starts, ends, strict=True)])

    def per_batch(self, flags: NDArray[np.bool_]) -> Int64s:
        """How many records of each batch have the flag set."""
        counts = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
        result: Int64s = counts[self.first_record[1:]] - counts[self.first_record[:-1]]
        return result


def payload_of(batch: memoryview, header: BatchHeader) -> bytes | memoryview:
    data = batch[HEADER_SIZE : header.size]
    return decompress(header.compression, data) if header.compression else data


def scan(batches: Sequence[tuple[BatchHeader, memoryview]]) -> RecordColumns:
    """The records of `batches` (whole v2 batches). Raises KafkaError on a malformed one."""
    parts: list[bytes | memoryview] = []
    starts: list[int] = []
    position = 0
    for header, batch in batches:
        payload = payload_of(batch, header)
        starts.append(position)
        parts.append(payload)
        position += len(payload)
    payload_end = np.array([*starts[1:], position], dtype=np.int64)
    parts.append(_PADDING)
    payload = b"".join(parts)
    counts = np.array([header.record_count for header, _ in batches], dtype=np.int64)
    if (counts < 0).any() or int(counts.sum()) > position:  # a record takes a byte at least
        raise KafkaError(ErrorCode.corrupt_message, "record count does not fit its batch")
    first_record = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    total = int(first_record[-1])
    columns = RecordColumns(
        payload,
        first_record,
        np.empty(total, np.int64),
        np.empty(total, np.int64),
        np.empty(total, np.int64),
        np.empty(total, np.int64),
        np.empty(total, np.int64),
        np.empty(total, np.bool_),
    )
    base_offsets = np.array([header.base_offset for header, _ in batches], dtype=np.int64)
    try:
        position_after = _scan_columns(
            columns, np.array(starts, dtype=np.int64), counts, base_offsets
        )
    except IndexError as error:  # a length or varint that points past the run
        raise KafkaError(ErrorCode.corrupt_message, "record runs past its batch") from error
    if not np.array_equal(position_after, payload_end):
        raise KafkaError(ErrorCode.corrupt_message, "records do not fill their batch")
    return columns


def _scan_columns(
    columns: RecordColumns, starts: Int64s, counts: Int64s, base_offsets: Int64s
) -> Int64s:
    """Fill the columns; returns where each batch's records end."""
    data = np.frombuffer(columns.payload, dtype=np.uint8)
    # Batches by record count, largest first: at step r the first `active` of them have an
    # r-th record.
    order = np.argsort(-counts, kind="stable")
    remaining = -counts[order]  # ascending
    position = starts[order].copy()
    first = columns.first_record[:-1][order]
    base = base_offsets[order]
    step = 0
    while True:
        active = int(np.searchsorted(remaining, -step, side="left"))
        if active < VECTOR_MIN_BATCHES:
            break
        at = position[:active]
        length, size = _varints(data, at)
        body = at + size
        field = body + 1  # past the attributes
        field += _varint_sizes(data, field)  # the timestamp delta, skipped
        offset_delta, size = _varints(data, field)
        field += size
        key_length, size = _varints(data, field)
        field += size
        record = first[:active] + step
        columns.offset[record] = base[:active] + offset_delta
        columns.key_start[record] = field
        columns.key_length[record] = key_length
        columns.start[record] = at
        end = body + length
        columns.end[record] = end
        # a value length of -1 (null: a tombstone) is the one-byte varint 0x01
        columns.tombstone[record] = data[field + np.maximum(key_length, 0)] == 1
        position[:active] = end
        step += 1
    for index in range(active):  # the few batches still holding records
        position[index] = _walk_rest(
            columns,
            int(position[index]),
            int(base[index]),
            int(first[index]),
            step,
            int(counts[order[index]]),
        )
    after = np.empty_like(position)
    after[order] = position
    return after


def _varints(data: NDArray[np.uint8], position: Int64s) -> tuple[Int64s, Int64s | int]:
    """The zigzag varints starting at `position`: values, and sizes in bytes (an int when
    all are one byte long). One- and two-byte varints (the common case: lengths under
    8 KiB, deltas under 8,192) take a few array operations, longer ones a loop."""
    byte = data[position]
    single = byte < 0x80
    if single.all():
        value = byte.astype(np.int64)
        return (value >> 1) ^ -(value & 1), 1
    second = data[position + 1]
    if (single | (second < 0x80)).all():
        value = np.where(single, byte, (byte & 0x7F) | (second.astype(np.int64) << 7))
        return (value >> 1) ^ -(value & 1), 2 - single
    return _long_varints(data, position)


def _varint_sizes(data: NDArray[np.uint8], position: Int64s) -> Int64s | int:
    """Sizes in bytes of the varints starting at `position` (a field skipped)."""
    single = data[position] < 0x80
    if single.all():
        return 1
    if (single | (data[position + 1] < 0x80)).all():
        return 2 - single
    return _long_varints(data, position)[1]


def _long_varints(data: NDArray[np.uint8], position: Int64s) -> tuple[Int64s, Int64s]:
    byte = data[position]
    value = (byte & 0x7F).astype(np.uint64)
    size = np.ones(len(position), dtype=np.int64)
    more = byte >= 0x80
    shift = 7
    while more.any():
        if shift > 63:
            raise KafkaError(ErrorCode.corrupt_message, "varint longer than 10 bytes")
        byte = data[position + size]
        value |= np.where(more, (byte & 0x7F).astype(np.uint64) << np.uint64(shift), 0).astype(
            np.uint64
        )
        size += more
        more &= byte >= 0x80
        shift += 7
    decoded = (value >> np.uint64(1)).astype(np.int64) ^ -(value & np.uint64(1)).astype(np.int64)
    return decoded, size


def _walk_rest(
    columns: RecordColumns, position: int, base_offset: int, first: int, step: int, count: int
) -> int:
    """Records step..count-1 of one batch, one at a time; returns where they end."""
    payload = columns.payload
    offsets, key_starts, key_lengths, starts, ends, tombstones = [], [], [], [], [], []
    for _ in range(count - step):
        length, body = decode_varint(payload, position)
        field = decode_varint(payload, body + 1)[1]  # past attributes and timestamp delta
        offset_delta, field = decode_varint(payload, field)
        key_length, field = decode_varint(payload, field)
        offsets.append(base_offset + offset_delta)
        key_starts.append(field)
        key_lengths.append(key_length)
        starts.append(position)
        position = body + length
        ends.append(position)
        tombstones.append(payload[field + max(key_length, 0)] == 1)
    records = slice(first + step, first + count)
    columns.offset[records] = offsets
    columns.key_start[records] = key_starts
    columns.key_length[records] = key_lengths
    columns.start[records] = starts
    columns.end[records] = ends
    columns.tombstone[records] = tombstones
    return position
