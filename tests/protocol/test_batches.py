"""Batch header checks and rewrites: validate_produce_records, base offsets, LogAppendTime."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import (
    CRC_OFFSET,
    HEADER_SIZE,
    assign_base_offset,
    compute_crc,
    crc_is_valid,
    read_header,
    scan_batches,
    set_log_append_time,
    validate_produce_records,
)
from katka.protocol.records import build_batch, decode_batch

LIMIT = 1 << 20


def batch(count: int = 2, **options: object) -> bytearray:
    records = [(b"k", f"value-{i}".encode(), (), 1_000 + i) for i in range(count)]
    return bytearray(build_batch(records, **options))  # type: ignore[arg-type]


def resign(data: bytearray) -> bytearray:
    struct.pack_into(">I", data, CRC_OFFSET, compute_crc(data))
    return data


def expect(code: ErrorCode, records: bytes | bytearray, limit: int = LIMIT) -> None:
    with pytest.raises(KafkaError) as error:
        validate_produce_records(records, limit)
    assert error.value.code == code


def test_valid_batches_yield_one_header_each_with_its_position() -> None:
    first, second = batch(1), batch(3)
    headers = validate_produce_records(bytes(first + second), LIMIT)
    assert [(h.position, h.record_count, h.size) for h in headers] == [
        (0, 1, len(first)),
        (len(first), 3, len(second)),
    ]


def test_an_empty_record_set_is_an_invalid_record() -> None:
    expect(ErrorCode.invalid_record, b"")


def test_a_bad_crc_is_a_corrupt_message() -> None:
    data = batch()
    data[-1] ^= 0xFF
    expect(ErrorCode.corrupt_message, data)


@pytest.mark.parametrize("magic", [0, 1])
def test_old_magic_is_unsupported_for_the_message_format(magic: int) -> None:
    data = batch()
    data[16] = magic
    expect(ErrorCode.unsupported_for_message_format, data)
    expect(ErrorCode.unsupported_for_message_format, data[:30])


def test_an_unknown_magic_is_a_corrupt_message() -> None:
    data = batch()
    data[16] = 3
    expect(ErrorCode.corrupt_message, data)


@pytest.mark.parametrize("cut", [1, 20, HEADER_SIZE - 1, HEADER_SIZE, -1])
def test_a_truncated_batch_is_a_corrupt_message(cut: int) -> None:
    expect(ErrorCode.corrupt_message, batch()[:cut])


def test_a_batch_length_shorter_than_a_header_is_a_corrupt_message() -> None:
    data = batch()
    struct.pack_into(">i", data, 8, 10)
    expect(ErrorCode.corrupt_message, data)


def test_a_record_count_that_disagrees_with_the_last_offset_delta_is_an_invalid_record() -> None:
    data = batch(3)
    struct.pack_into(">i", data, 57, 2)  # record_count
    expect(ErrorCode.invalid_record, resign(data))


def test_a_batch_larger_than_max_message_bytes_is_too_large() -> None:
    data = batch()
    expect(ErrorCode.message_too_large, data, limit=len(data) - 1)
    assert validate_produce_records(data, len(data))


def test_producers_may_not_send_control_batches() -> None:
    data = batch()
    struct.pack_into(">h", data, 21, 0x20)
    expect(ErrorCode.invalid_record, resign(data))


def test_assigning_the_base_offset_keeps_the_crc_valid() -> None:
    data = batch(3)
    assign_base_offset(data, 1_234)
    header = read_header(data)
    assert header.base_offset == 1_234 and crc_is_valid(data, header)
    assert [r.offset for r in decode_batch(data)] == [1_234, 1_235, 1_236]


def test_log_append_time_rewrites_the_flag_and_max_timestamp_and_resigns() -> None:
    data = batch(2, compression=2)
    set_log_append_time(data, 99_999)
    header = read_header(data)
    assert header.is_log_append_time and header.max_timestamp == 99_999
    assert crc_is_valid(data, header)
    assert [r.timestamp_ms for r in decode_batch(data)] == [99_999, 99_999]


@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(1, 4), min_size=1, max_size=5), cut=st.floats(0, 1))
def test_scan_batches_stops_at_the_first_torn_batch(counts: list[int], cut: float) -> None:
    batches = [bytes(batch(count)) for count in counts]
    data = b"".join(batches)
    keep = int(cut * len(data))

    scanned = list(scan_batches(data[:keep]))

    ends = [sum(len(b) for b in batches[: i + 1]) for i in range(len(batches))]
    assert len(scanned) == sum(1 for end in ends if end <= keep)


def test_scan_batches_stops_at_a_corrupt_batch() -> None:
    first, second, third = batch(1), batch(2), batch(3)
    second[-1] ^= 1
    assert [h.record_count for h in scan_batches(bytes(first + second + third))] == [1]
    assert len(list(scan_batches(bytes(first + second + third), verify_crc=False))) == 3
