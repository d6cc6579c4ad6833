"""The bounds walk of a FetchRequest (bounds.py's, by hand): every consumer poll is one.

bounds.check_bounds walks any schema with a step closure per field; a one-partition Fetch
spent about half of its decoding there (issue 17). This is the same walk in straight-line
code for the versions kio generates (v4-18): the same lengths and counts are checked in the
same order, so it refuses exactly what the generic walk refuses (tests/protocol/
test_fetch_bounds.py holds the two together). A request with tagged fields (consumers send
none; a follower's fetch may) is left to the generic walk, which also checks what each
tagged value holds.
"""

from __future__ import annotations

import struct
from typing import Any

from katka.protocol.bounds import BoundsError, check_bounds, read_unsigned_varint

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


def check_fetch_bounds(schema: Any, data: bytes, position: int, version: int) -> None:
    """Raise BoundsError where check_bounds(schema, data, position) would, for a FetchRequest
    of `version` (`schema`: its kio entity, for requests with tagged fields)."""
    start = position
    size = len(data)
    fixed, partition_size = _SIZES[version]
    flexible = version >= 12
    by_id = version >= 13
    if (position := position + fixed) > size:
        raise BoundsError("truncated FetchRequest")
    topics, position = _count(data, position, size, flexible)
    for _ in range(topics):
        if by_id:
            if (position := position + 16) > size:
                raise BoundsError("truncated topic id")
        else:
            position = _string(data, position, size, flexible)
        partitions, position = _count(data, position, size, flexible)
        for _ in range(partitions):
            if (position := position + partition_size) > size:
                raise BoundsError("truncated partition")
            if flexible:
                if position < size and not data[position]:  # no tagged fields: one byte
                    position += 1
                elif _has_tags(data, position):
                    check_bounds(schema, data, start)
                    return
        if flexible:
            if position < size and not data[position]:
                position += 1
            elif _has_tags(data, position):
                check_bounds(schema, data, start)
                return
    if version >= 7:
        forgotten, position = _count(data, position, size, flexible)
        for _ in range(forgotten):
            if by_id:
                position = _skip(position, 16, size)
            else:
                position = _string(data, position, size, flexible)
            partitions, position = _count(data, position, size, flexible)
            position = _skip(position, partitions * 4, size)
            if flexible:
                tags, position = read_unsigned_varint(data, position)
                if tags:
                    check_bounds(schema, data, start)
                    return
    if version >= 11:
        position = _string(data, position, size, flexible)  # rack_id
    if flexible and _has_tags(data, position):
        check_bounds(schema, data, start)


def _sizes(version: int) -> tuple[int, int]:
    """The fixed bytes before the topics: replica_id (to v14), max_wait, min_bytes,
    max_bytes (v3+), isolation_level (v4+), session_id and session_epoch (v7+); and a
    partition's: partition, current_leader_epoch (v9+), fetch_offset, last_fetched_epoch
    (v12+), log_start_offset (v5+), partition_max_bytes."""
    fixed = 8 + (4 if version <= 14 else 0) + (4 if version >= 3 else 0)
    fixed += (1 if version >= 4 else 0) + (8 if version >= 7 else 0)
    partition = 16 + (4 if version >= 9 else 0) + (4 if version >= 12 else 0)
    partition += 8 if version >= 5 else 0
    return fixed, partition


# The versions kio generates (old_versions.py decodes v0-3, and walks them itself).
VERSIONS = range(4, 19)
_SIZES = tuple(_sizes(version) for version in range(VERSIONS.stop))


def _has_tags(data: bytes, position: int) -> bool:
    """Does the tagged-field count at `position` claim any? (A truncated count raises.)"""
    count, _ = read_unsigned_varint(data, position)
    return count != 0


def _skip(position: int, length: int, size: int) -> int:
    end = position + length
    if length < 0 or end > size:
        raise BoundsError(f"{length} bytes claimed at {position}, {size - position} left")
    return end


def _string(data: bytes, position: int, size: int, flexible: bool) -> int:
    if flexible:
        length, position = read_unsigned_varint(data, position)
        return position if length == 0 else _skip(position, length - 1, size)
    if position + 2 > size:
        raise BoundsError("truncated string length")
    (length,) = _I16.unpack_from(data, position)
    return position + 2 if length == -1 else _skip(position + 2, length, size)


def _count(data: bytes, position: int, size: int, flexible: bool) -> tuple[int, int]:
    if flexible:
        count, position = read_unsigned_varint(data, position)
        count -= 1  # 0 is null
    else:
        if position + 4 > size:
            raise BoundsError("truncated array length")
        (count,) = _I32.unpack_from(data, position)
        position += 4
    if count > size - position:
        raise BoundsError(f"array of {count} elements claimed at {position}")
    return max(count, 0), position
