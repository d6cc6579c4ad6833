"""The cleaner's columnar record scan (columns.py) reads every record as the plain decoder
(protocol/records.py) does: offsets, keys, tombstones and each record's bytes, across runs of
batches of any shape, whichever of its two paths (across batches, one at a time) reads them."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katka.errors import KafkaError
from katka.protocol.batches import read_header
from katka.protocol.compression import (
    COMPRESSION_GZIP,
    COMPRESSION_LZ4,
    COMPRESSION_NONE,
    COMPRESSION_SNAPPY,
    COMPRESSION_ZSTD,
)
from katka.protocol.records import build_batch, decode_batch, encode_record
from katka.storage.cleaner import columns
from katka.storage.cleaner.records import map_key

keys = st.one_of(
    st.none(),
    st.binary(max_size=15),  # short: mapped by itself
    st.binary(min_size=16, max_size=200),  # long: by its digest; two-byte length varint
)
values = st.one_of(st.none(), st.binary(max_size=50), st.just(b"v" * 8500))  # 3-byte lengths
timestamps = st.one_of(st.integers(0, 100), st.integers(0, 2**62))  # deltas of 1 to 9 bytes
a_record = st.tuples(
    keys, values, st.lists(st.tuples(st.text(max_size=3), st.none()), max_size=2), timestamps
)
a_batch = st.tuples(
    st.lists(a_record, min_size=1, max_size=25),
    st.sampled_from(
        [COMPRESSION_NONE] * 4
        + [COMPRESSION_GZIP, COMPRESSION_SNAPPY, COMPRESSION_LZ4, COMPRESSION_ZSTD]
    ),
)


def batches_of(specs: list) -> list:
    batches = []
    base_offset = 0
    for records, compression in specs:
        data = build_batch(records, base_offset=base_offset, compression=compression)
        batches.append((read_header(data), memoryview(data)))
        base_offset += len(records) + 3  # a gap, as between cleaned batches
    return batches


@settings(max_examples=30, deadline=None)
@given(specs=st.lists(a_batch, min_size=1, max_size=30), vector_min=st.sampled_from([1, 2, 16]))
def test_the_columns_hold_every_record_as_the_plain_decoder_reads_it(specs, vector_min) -> None:
    batches = batches_of(specs)
    with mock.patch.object(columns, "VECTOR_MIN_BATCHES", vector_min):
        scanned = columns.scan(batches)
    expected = [record for _, batch in batches for record in decode_batch(batch)]
    assert scanned.offset.tolist() == [record.offset for record in expected]
    assert scanned.tombstone.tolist() == [record.value is None for record in expected]
    assert scanned.key_length.tolist() == [
        -1 if record.key is None else len(record.key) for record in expected
    ]
    encoded = [
        encode_record(delta, timestamp - records[0][3], key, value, headers)
        for records, _ in specs
        for delta, (key, value, headers, timestamp) in enumerate(records)
    ]
    payload = scanned.payload
    assert [
        payload[start:end]
        for start, end in zip(scanned.start.tolist(), scanned.end.tolist(), strict=True)
    ] == encoded
    keys, offsets = scanned.map_keys(0, len(expected))
    by_key = {map_key(r.key): r.offset for r in expected if r.key is not None}
    assert dict(zip(keys, offsets, strict=True)) == by_key


def test_a_batch_whose_records_do_not_fill_it_is_refused() -> None:
    record = encode_record(0, 0, b"k", b"v", ())
    data = bytearray(build_batch([(b"k", b"v", (), 0), (b"k", b"v", (), 0)]))
    data += record  # one record more than the count says
    data[8:12] = (len(data) - 12).to_bytes(4, "big")
    with pytest.raises(KafkaError):
        columns.scan([(read_header(data), memoryview(bytes(data)))])


@settings(max_examples=60, deadline=None)
@given(
    garbles=st.lists(st.tuples(st.integers(61, 2000), st.integers(0, 255)), min_size=1, max_size=4),
    vector_min=st.sampled_from([1, 48]),
)
def test_a_garbled_batch_is_read_or_refused_never_crashes(garbles, vector_min) -> None:
    data = bytearray(build_batch([(b"k%d" % i, b"v" * 30, (), 0) for i in range(40)]))
    for position, byte in garbles:
        data[position % len(data)] = byte
    header = read_header(data)
    with mock.patch.object(columns, "VECTOR_MIN_BATCHES", vector_min):
        try:
            columns.scan([(header, memoryview(bytes(data)))] * 50)
        except KafkaError:
            pass
