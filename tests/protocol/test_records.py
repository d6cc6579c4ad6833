"""Building and decoding v2 record batches: round trips, every codec, another client's bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import read_header, validate_produce_records
from katka.protocol.records import (
    COMPRESSION_SNAPPY,
    XERIAL_MAGIC,
    Record,
    RecordInput,
    build_batch,
    decode_batch,
    decode_records,
    decode_varint,
    encode_varint,
    iter_batches,
    xerial_frame,
)

CODECS = [0, 1, 2, 3, 4]

optional_bytes = st.one_of(st.none(), st.binary(max_size=300))
headers = st.lists(st.tuples(st.text(max_size=10), optional_bytes), max_size=3)
record_inputs = st.lists(
    st.tuples(optional_bytes, optional_bytes, headers, st.integers(-1, 2**45)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(value=st.integers(-(2**63), 2**63 - 1))
def test_varints_round_trip_with_zigzag_encoding(value: int) -> None:
    encoded = encode_varint(value)
    assert decode_varint(encoded, 0) == (value, len(encoded))


def test_varints_use_zigzag_so_small_negatives_are_one_byte() -> None:
    assert [encode_varint(v) for v in (0, -1, 1, -2, 63, -64, 64)] == [
        b"\x00", b"\x01", b"\x02", b"\x03", b"\x7e", b"\x7f", b"\x80\x01",
    ]  # fmt: skip


def test_a_truncated_varint_is_a_corrupt_message() -> None:
    with pytest.raises(KafkaError) as error:
        decode_varint(b"\x80\x80", 0)
    assert error.value.code == ErrorCode.corrupt_message


@pytest.mark.parametrize("codec", CODECS)
@settings(max_examples=15, deadline=None)
@given(records=record_inputs, base_offset=st.integers(0, 2**40))
def test_batches_round_trip_for_every_codec(
    codec: int, records: list[RecordInput], base_offset: int
) -> None:
    batch = build_batch(records, base_offset=base_offset, compression=codec)

    header = validate_produce_records(batch, len(batch))[0]
    assert (header.compression, header.record_count) == (codec, len(records))
    assert header.max_timestamp == max(ts for *_, ts in records)
    assert decode_batch(batch) == [
        Record(base_offset + i, ts, key, value, tuple(hs))
        for i, (key, value, hs, ts) in enumerate(records)
    ]


def test_producer_fields_and_flags_are_written_to_the_header() -> None:
    batch = build_batch(
        [(b"k", b"v", (), 5)],
        producer_id=42,
        producer_epoch=3,
        base_sequence=7,
        transactional=True,
        partition_leader_epoch=9,
    )
    header = read_header(batch)
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (42, 3, 7)
    assert header.is_transactional and not header.is_log_append_time
    assert header.partition_leader_epoch == 9


def test_log_append_time_gives_every_record_the_batch_max_timestamp() -> None:
    batch = build_batch([(None, b"a", (), 10), (None, b"b", (), 30)], log_append_time=True)
    assert [r.timestamp_ms for r in decode_batch(batch)] == [30, 30]


def test_snappy_with_java_xerial_framing_is_decoded() -> None:
    records = [(b"key", b"value" * 20_000, (), 1)]
    raw = build_batch(records)
    payload = raw[61:]
    framed = xerial_frame(payload, chunk_size=1024)
    assert framed.startswith(XERIAL_MAGIC)
    batch = bytearray(raw[:61] + framed)
    batch[8:12] = (len(batch) - 12).to_bytes(4, "big")
    batch[21:23] = COMPRESSION_SNAPPY.to_bytes(2, "big")

    assert decode_batch(batch) == decode_batch(raw)


@pytest.mark.parametrize("codec", CODECS)
def test_batches_built_by_kafka_python_decode_to_the_same_records(codec: int) -> None:
    builder = DefaultRecordBatchBuilder(2, codec, False, 5, 1, 100, 1 << 20)
    builder.append(0, 1_700_000_000_000, b"k0", b"hello" * 50, [("h", b"x")])
    builder.append(1, 1_700_000_000_005, None, b"world", [])
    builder.append(2, 1_699_999_999_999, b"k2", None, [("a", None), ("b", b"")])
    batch = bytes(builder.build())

    validate_produce_records(batch, len(batch))
    assert decode_batch(batch) == [
        Record(0, 1_700_000_000_000, b"k0", b"hello" * 50, (("h", b"x"),)),
        Record(1, 1_700_000_000_005, None, b"world", ()),
        Record(2, 1_699_999_999_999, b"k2", None, (("a", None), ("b", b""))),
    ]


@pytest.mark.parametrize("codec", CODECS)
def test_batches_we_build_are_read_by_kafka_python(codec: int) -> None:
    batch = build_batch(
        [(b"k", b"v" * 100, [("h", b"1")], 1_000), (None, None, [], 1_001)],
        base_offset=77,
        compression=codec,
        producer_id=5,
        producer_epoch=2,
        base_sequence=10,
    )
    theirs = DefaultRecordBatch(batch)
    assert theirs.validate_crc()
    assert (theirs.base_offset, theirs.producer_id, theirs.base_sequence) == (77, 5, 10)
    records = list(theirs)
    assert [(r.offset, r.timestamp, r.key, r.value) for r in records] == [
        (77, 1_000, b"k", b"v" * 100),
        (78, 1_001, None, None),
    ]
    assert records[0].headers == [("h", b"1")]


def test_iter_batches_splits_a_record_set_and_drops_a_partial_tail() -> None:
    first = build_batch([(None, b"a", (), 1)], base_offset=0)
    second = build_batch([(None, b"b", (), 1), (None, b"c", (), 1)], base_offset=1)

    batches = iter_batches(first + second + second[:30])

    assert [(h.base_offset, bytes(view)) for h, view in batches] == [(0, first), (1, second)]
    assert [r.value for r in decode_records(first + second + second[:70])] == [b"a", b"b", b"c"]


def test_an_empty_record_list_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        build_batch([])


@pytest.mark.parametrize("cut", [10, 61, 70])
def test_decoding_a_truncated_or_inconsistent_batch_is_a_corrupt_message(cut: int) -> None:
    batch = bytearray(build_batch([(b"k", b"v" * 20, (), 1)] * 2))
    if cut == 70:
        batch[57:61] = (3).to_bytes(4, "big")  # claims three records, holds two
    else:
        batch = batch[:cut]
    with pytest.raises(KafkaError) as error:
        decode_batch(batch)
    assert error.value.code == ErrorCode.corrupt_message


def test_a_batch_that_does_not_decompress_is_a_corrupt_message() -> None:
    batch = bytearray(build_batch([(b"k", b"v" * 20, (), 1)], compression=1))
    batch[70:80] = b"\xff" * 10
    with pytest.raises(KafkaError) as error:
        decode_batch(batch)
    assert error.value.code == ErrorCode.corrupt_message
