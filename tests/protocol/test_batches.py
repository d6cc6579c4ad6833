"""Batch header checks and rewrites: validate_produce_records, base offsets, and the
timestamp fields the broker owns (normalise_batch, Kafka's LogValidator)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import (
    CRC_OFFSET,
    HEADER_SIZE,
    MAX_TIMESTAMP_OFFSET,
    BatchHeader,
    RecordError,
    RecordValidationError,
    TimestampRules,
    assign_base_offset,
    compute_crc,
    crc_is_valid,
    normalise_batch,
    read_header,
    record_max_timestamp,
    scan_batches,
    set_log_append_time,
    validate_produce_records,
    validate_produce_request,
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


# --- the fields the broker owns: normalise_batch (Kafka's LogValidator) -----------------------

NOW = 1_700_000_000_000
HOUR = 3_600_000
CREATE_TIME = TimestampRules()


def sarama(timestamps: list[int], compression: int = 0, max_timestamp: int = -1) -> bytearray:
    """A batch whose header max timestamp is set by hand (sarama 1.22 leaves it at -1)."""
    data = bytearray(
        build_batch(
            [(b"k", b"v%d" % i, (), ts) for i, ts in enumerate(timestamps)],
            compression=compression,
        )
    )
    struct.pack_into(">q", data, MAX_TIMESTAMP_OFFSET, max_timestamp)
    return resign(data)


def normalised(
    data: bytes | bytearray, rules: TimestampRules = CREATE_TIME, now_ms: int = NOW
) -> tuple[bytes | bytearray | memoryview, BatchHeader]:
    return normalise_batch(memoryview(bytes(data)), read_header(data), now_ms, rules)


def refusal(data: bytes | bytearray, rules: TimestampRules, now_ms: int = NOW) -> KafkaError:
    with pytest.raises(KafkaError) as error:
        normalised(data, rules, now_ms)
    return error.value


def test_a_plausible_create_time_header_is_stored_as_sent_without_a_copy() -> None:
    data = bytes(batch(3))
    view = memoryview(data)
    stored, header = normalise_batch(view, read_header(data), NOW, CREATE_TIME)
    assert stored is view and header == read_header(data)


@pytest.mark.parametrize("compression", [0, 1, 2, 3, 4])
def test_a_max_timestamp_of_minus_one_is_set_from_the_records_and_the_crc_resigned(
    compression: int,
) -> None:
    data = sarama([NOW - 5, NOW - 1, NOW - 9], compression)
    stored, header = normalised(data)
    assert isinstance(stored, bytearray)
    assert read_header(stored) == header._replace(position=0)
    assert header.max_timestamp == NOW - 1 and crc_is_valid(stored, header)
    assert header.compression == compression
    assert [r.timestamp_ms for r in decode_batch(stored)] == [NOW - 5, NOW - 1, NOW - 9]
    assert stored[HEADER_SIZE:] == data[HEADER_SIZE:]  # the records are untouched


def test_a_max_timestamp_below_the_first_timestamp_is_recomputed() -> None:
    _, header = normalised(sarama([NOW, NOW + 7], max_timestamp=NOW - 1))
    assert header.max_timestamp == NOW + 7


def test_a_plausible_but_low_header_is_trusted_as_documented() -> None:
    """The price of not walking every record: katka keeps a header that is wrong within the
    plausible range (no known client writes one)."""
    _, header = normalised(sarama([NOW, NOW + 7], max_timestamp=NOW + 1))
    assert header.max_timestamp == NOW + 1


def test_records_without_timestamps_give_no_max_timestamp_and_no_error() -> None:
    stored, header = normalised(sarama([-1, -1]))
    assert header.max_timestamp == -1 and crc_is_valid(stored, header)


def test_log_append_time_sets_the_flag_and_the_append_time() -> None:
    stored, header = normalised(batch(2, compression=3), TimestampRules(log_append_time=True))
    assert header.is_log_append_time and header.max_timestamp == NOW
    assert crc_is_valid(stored, header)
    assert [r.timestamp_ms for r in decode_batch(stored)] == [NOW, NOW]


def test_a_producer_may_not_send_log_append_time_batches_to_a_log_append_time_topic() -> None:
    data = batch(2)
    struct.pack_into(">h", data, 21, 0x08)
    error = refusal(resign(data), TimestampRules(log_append_time=True))
    assert isinstance(error, RecordValidationError)
    assert error.code == ErrorCode.invalid_timestamp
    assert error.message == "One or more records have been rejected due to invalid timestamp"
    assert [e.batch_index for e in error.record_errors] == [0, 1]
    assert error.record_errors[1].message == (
        "Invalid timestamp type in message DefaultRecord(offset=1, timestamp=1001, key=1 bytes,"
        " value=7 bytes). Producer should not set timestamp type to LogAppendTime."
    )


def test_records_more_than_after_max_ms_ahead_are_refused_one_by_one() -> None:
    data = sarama([NOW, NOW + HOUR + 1, NOW + HOUR, NOW + 2 * HOUR])
    error = refusal(data, CREATE_TIME)
    assert isinstance(error, RecordValidationError) and error.code == ErrorCode.invalid_timestamp
    assert [(e.batch_index, e.message) for e in error.record_errors] == [
        (
            index,
            f"Timestamp {timestamp} of message with offset {index} is out of range. The "
            f"timestamp should be within [{NOW - 2**63 + 1}, {NOW + HOUR}]",
        )
        for index, timestamp in [(1, NOW + HOUR + 1), (3, NOW + 2 * HOUR)]
    ]


def test_a_trusted_header_too_far_ahead_is_refused_too() -> None:
    data = bytearray(build_batch([(None, b"x", (), NOW + HOUR + 1)]))
    assert read_header(data).max_timestamp == NOW + HOUR + 1
    assert refusal(data, CREATE_TIME).code == ErrorCode.invalid_timestamp


def test_before_max_ms_reads_every_record_even_under_a_plausible_header() -> None:
    rules = TimestampRules(before_max_ms=1_000)
    data = bytearray(build_batch([(None, b"a", (), NOW), (None, b"b", (), NOW - 1_001)]))
    error = refusal(data, rules)
    assert isinstance(error, RecordValidationError)
    assert [e.batch_index for e in error.record_errors] == [1]
    assert f"should be within [{NOW - 1_000}, {NOW + HOUR}]" in error.record_errors[0].message
    stored, _ = normalised(build_batch([(None, b"a", (), NOW - 1_000)]), rules)
    assert read_header(stored).max_timestamp == NOW - 1_000


def test_records_without_timestamps_pass_the_bounds_as_in_kafka() -> None:
    _, header = normalised(sarama([-1, NOW]), TimestampRules(before_max_ms=10))
    assert header.max_timestamp == NOW


def test_unbounded_limits_accept_any_timestamp() -> None:
    rules = TimestampRules(after_max_ms=2**63 - 1)
    for timestamp in (0, 10**15, 2**62):
        assert normalised(sarama([timestamp]), rules)[1].max_timestamp == timestamp


def test_records_that_do_not_fill_the_batch_are_an_invalid_record() -> None:
    data = sarama([NOW, NOW])
    struct.pack_into(">i", data, 57, 1)  # record_count
    struct.pack_into(">i", data, 23, 0)  # last_offset_delta
    assert refusal(resign(data), CREATE_TIME).code == ErrorCode.invalid_record
    data = sarama([NOW, NOW])
    struct.pack_into(">i", data, 57, 3)
    struct.pack_into(">i", data, 23, 2)
    assert refusal(resign(data), CREATE_TIME).code == ErrorCode.invalid_record


def test_a_compressed_payload_that_does_not_decompress_is_a_corrupt_message() -> None:
    data = sarama([NOW], compression=3)
    data[HEADER_SIZE:] = b"\x00" * (len(data) - HEADER_SIZE)
    assert refusal(resign(data), CREATE_TIME).code == ErrorCode.corrupt_message


def test_record_max_timestamp_reads_a_stored_header_without_one() -> None:
    data = sarama([NOW - 5, NOW + 3, NOW], compression=4)
    assert record_max_timestamp(data, read_header(data)) == NOW + 3
    assert record_max_timestamp(sarama([-1, -7]), read_header(sarama([-1, -7]))) == -1


def test_a_produce_request_holds_one_batch_per_partition_as_in_kafka() -> None:
    headers = validate_produce_records(bytes(batch(1) + batch(2)), LIMIT)
    with pytest.raises(KafkaError) as error:
        validate_produce_request(headers, 9)
    assert error.value.code == ErrorCode.invalid_record
    validate_produce_request(headers[:1], 9)


def test_zstd_needs_produce_v7_as_in_kafka() -> None:
    headers = validate_produce_records(bytes(batch(1, compression=4)), LIMIT)
    with pytest.raises(KafkaError) as error:
        validate_produce_request(headers, 6)
    assert error.value.code == ErrorCode.unsupported_compression_type
    validate_produce_request(headers, 7)


def test_a_producer_id_without_a_sequence_is_an_invalid_record() -> None:
    expect(ErrorCode.invalid_record, batch(1, producer_id=5, producer_epoch=0, base_sequence=-1))


def test_record_errors_that_are_not_timestamps_read_as_kafka_writes_them() -> None:
    error = RecordValidationError([RecordError(i, f"bad {i}") for i in range(5)])
    assert error.code == ErrorCode.invalid_record
    assert error.message == (
        "One or more records have been rejected due to 5 record errors in total, and only "
        "showing the first three errors at most: [RecordError(batchIndex=0, message='bad 0'), "
        "RecordError(batchIndex=1, message='bad 1'), RecordError(batchIndex=2, message='bad 2')]"
    )
