"""A cheap walk over a request body that rejects array counts larger than the bytes left.

Why: kio's native reader reserves room for an array's elements as soon as it reads the count,
before reading any element. A 40-byte frame claiming a compact array of 2**32-2 elements makes
it ask the allocator for ~34 GB, and a failed allocation in Rust aborts the whole process (the
reliability fuzzer found this; see tests/reliability/test_fuzz.py). Every element of every
Kafka array takes at least one byte, so a count larger than the bytes that remain in the frame
can only be a lie: such a request is refused before kio sees it.

The walk follows the same schema kio decodes with (field kinds from kio's introspection) and
only skips bytes; it stops at the first inconsistency and raises DecodeError, which the
dispatcher turns into a closed connection, as for any request that does not decode.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import fields
from functools import cache
from typing import Any

from kio.serial._introspect import (
    EntityField,
    EntityTupleField,
    PrimitiveField,
    PrimitiveTupleField,
    classify_field,
    get_field_tag,
    get_schema_field_type,
    is_optional,
)


class BoundsError(Exception):
    """The body claims more than it holds."""


_FIXED_SIZES = {
    "int8": 1,
    "uint8": 1,
    "bool": 1,
    "int16": 2,
    "uint16": 2,
    "error_code": 2,
    "int32": 4,
    "uint32": 4,
    "timedelta_i32": 4,
    "int64": 8,
    "uint64": 8,
    "float64": 8,
    "timedelta_i64": 8,
    "datetime_i64": 8,
    "uuid": 16,
}
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")

# A step reads one value at `position` of `data` and returns the position after it.
Step = Callable[[bytes, int], int]


def read_unsigned_varint(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise BoundsError("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def _skip(data: bytes, position: int, size: int) -> int:
    end = position + size
    if size < 0 or end > len(data):
        raise BoundsError(f"{size} bytes claimed at {position}, {len(data) - position} left")
    return end


def _fixed(size: int) -> Step:
    return lambda data, position: _skip(data, position, size)


def _compact_bytes(data: bytes, position: int) -> int:
    length, position = read_unsigned_varint(data, position)
    return position if length == 0 else _skip(data, position, length - 1)


def _legacy_string(data: bytes, position: int) -> int:
    if position + 2 > len(data):
        raise BoundsError("truncated string length")
    (length,) = _I16.unpack_from(data, position)
    return position + 2 if length == -1 else _skip(data, position + 2, length)


def _legacy_bytes(data: bytes, position: int) -> int:
    if position + 4 > len(data):
        raise BoundsError("truncated bytes length")
    (length,) = _I32.unpack_from(data, position)
    return position + 4 if length == -1 else _skip(data, position + 4, length)


def _array_count(data: bytes, position: int, flexible: bool) -> tuple[int, int]:
    if flexible:
        count, position = read_unsigned_varint(data, position)
        count -= 1  # 0 is null
    else:
        if position + 4 > len(data):
            raise BoundsError("truncated array length")
        (count,) = _I32.unpack_from(data, position)
        position += 4
    if count > len(data) - position:
        raise BoundsError(
            f"array of {count} elements claimed at {position}, {len(data) - position} bytes left"
        )
    return max(count, 0), position


def _array(element: Step, flexible: bool, fixed_size: int | None) -> Step:
    def step(data: bytes, position: int) -> int:
        count, position = _array_count(data, position, flexible)
        if fixed_size is not None:
            return _skip(data, position, count * fixed_size)
        for _ in range(count):
            position = element(data, position)
        return position

    return step


def _primitive(kafka_type: str, flexible: bool) -> tuple[Step, int | None]:
    size = _FIXED_SIZES.get(kafka_type)
    if size is not None:
        return _fixed(size), size
    if flexible:
        return _compact_bytes, None
    return (_legacy_string if kafka_type == "string" else _legacy_bytes), None


def _nullable_entity(step: Step) -> Step:
    def nullable(data: bytes, position: int) -> int:
        if position >= len(data):
            raise BoundsError("truncated nullable struct marker")
        marker = data[position]
        return position + 1 if marker == 0xFF else step(data, position + 1)

    return nullable


def _fixed_size(field: Any) -> int | None:
    if isinstance(classify_field(field), PrimitiveField):
        return _FIXED_SIZES.get(get_schema_field_type(field))
    return None


def _field_step(field: Any, flexible: bool) -> Step:
    kind = classify_field(field)
    if isinstance(kind, PrimitiveField):
        return _primitive(get_schema_field_type(field), flexible)[0]
    if isinstance(kind, PrimitiveTupleField):
        element, size = _primitive(get_schema_field_type(field), flexible)
        return _array(element, flexible, size)
    if isinstance(kind, EntityField):
        step = entity_step(kind.type_)
        return _nullable_entity(step) if is_optional(field) else step
    assert isinstance(kind, EntityTupleField)
    return _array(entity_step(kind.type_), flexible, None)


@cache
def entity_step(entity_type: type) -> Step:
    """The walk over one entity (request body or nested struct) as kio would decode it."""
    flexible = bool(getattr(entity_type, "__flexible__", False))
    steps: list[Step] = []
    tagged: dict[int, Step] = {}
    run = 0  # adjacent fixed-size fields are skipped in one step
    for field in fields(entity_type):
        tag = get_field_tag(field)
        if tag is not None:
            tagged[int(tag)] = _field_step(field, flexible)
            continue
        size = _fixed_size(field)
        if size is not None:
            run += size
            continue
        if run:
            steps.append(_fixed(run))
            run = 0
        steps.append(_field_step(field, flexible))
    if run:
        steps.append(_fixed(run))

    def step(data: bytes, position: int) -> int:
        for field_step in steps:
            position = field_step(data, position)
        if not flexible:
            return position
        count, position = read_unsigned_varint(data, position)
        if count > len(data) - position:
            raise BoundsError(f"{count} tagged fields claimed, {len(data) - position} bytes left")
        for _ in range(count):
            tag, position = read_unsigned_varint(data, position)
            size, position = read_unsigned_varint(data, position)
            end = _skip(data, position, size)
            tagged_step = tagged.get(tag)
            if tagged_step is not None:
                tagged_step(data[:end], position)  # a tagged value may not run past its size
            position = end
        return position

    return step


def check_bounds(entity_type: type, data: bytes, position: int) -> None:
    """Raise BoundsError when the body at `position` claims an array larger than the frame."""
    entity_step(entity_type)(data, position)
