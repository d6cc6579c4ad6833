"""Requests decode from the bytes a client sends; responses carry the right header version."""

from __future__ import annotations

import datetime
import io
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.metadata.v12.response import MetadataResponse
from kio.serial import entity_writer

from katka.protocol.codec import DecodeError, decode_request, encode_response, read_fixed_header


def frame_for(
    api_key: int, version: int, body: bytes, flexible_header: bool, client_id: bytes | None = b"c"
) -> bytes:
    header = struct.pack(">hhi", api_key, version, 42)
    header += (
        struct.pack(">h", -1)
        if client_id is None
        else struct.pack(">h", len(client_id)) + client_id
    )
    if flexible_header:
        header += b"\x00"
    return header + body


def encode(entity: object) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


@given(
    names=st.lists(st.text(alphabet="abc.-_", min_size=1, max_size=10), max_size=5),
    client=st.none() | st.binary(max_size=10).filter(lambda b: b"\xff" not in b),
)
def test_a_metadata_request_round_trips_with_its_flexible_header(
    names: list[str], client: bytes | None
) -> None:
    request = MetadataRequest(
        topics=tuple(MetadataRequestTopic(name=n, topic_id=None) for n in names),
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )
    frame = frame_for(3, 12, encode(request), flexible_header=True, client_id=client)
    header, decoded = decode_request(frame, read_fixed_header(frame))
    assert (header.api_key, header.api_version, header.correlation_id) == (3, 12, 42)
    assert decoded == request


def test_api_versions_responses_always_use_response_header_v0() -> None:
    from kio.schema.api_versions.v3.response import ApiVersionsResponse

    response = ApiVersionsResponse(
        error_code=ErrorCode.none, api_keys=(), throttle_time=datetime.timedelta(0)
    )  # type: ignore[arg-type]
    payload = encode_response(18, 3, 9, response).payload()
    assert payload[:4] == struct.pack(">i", 9)
    assert payload[4:6] == b"\x00\x00"  # error code follows the correlation id directly


def test_flexible_responses_carry_an_empty_tagged_field_section_in_the_header() -> None:
    response = MetadataResponse(
        throttle_time=datetime.timedelta(0),
        brokers=(),
        cluster_id=None,
        controller_id=1,
        topics=(),  # type: ignore[arg-type]
    )
    payload = encode_response(3, 12, 5, response).payload()
    assert payload[:5] == struct.pack(">i", 5) + b"\x00"


def test_a_body_that_does_not_match_its_schema_is_a_decode_error() -> None:
    frame = frame_for(18, 3, b"\xff\xff\xff", flexible_header=True)
    with pytest.raises(DecodeError):
        decode_request(frame, read_fixed_header(frame))
    good = frame_for(
        18,
        3,
        encode(ApiVersionsRequest(client_software_name="x", client_software_version="1")),
        True,
    )
    assert decode_request(good, read_fixed_header(good))[1].client_software_name == "x"


def test_large_record_sets_are_framed_by_reference_not_copied() -> None:
    from kio.schema.fetch.v12 import response as fetch

    records = bytes(range(256)) * 100
    response = fetch.FetchResponse(
        throttle_time=datetime.timedelta(0),
        error_code=ErrorCode.none,
        session_id=0,
        responses=(
            fetch.FetchableTopicResponse(
                topic="t",
                partitions=(
                    fetch.PartitionData(
                        partition_index=0,
                        error_code=ErrorCode.none,
                        high_watermark=1,
                        aborted_transactions=None,
                        records=records,  # type: ignore[arg-type]
                    ),
                ),
            ),
        ),
    )
    frame = encode_response(1, 12, 77, response)
    assert any(chunk is records for chunk in frame.chunks)
    whole = b"".join(frame.chunks)
    assert struct.unpack(">i", whole[:4])[0] == len(whole) - 4 == frame.size
    assert whole[4:8] == struct.pack(">i", 77)
    assert records in whole


def test_an_old_version_request_with_a_null_struct_array_decodes_and_encodes() -> None:
    # DescribeLogDirs v0 with null topics asks for every topic (kio has no v0; old_versions.py).
    from katka.protocol import old_versions

    body = struct.pack(">i", -1)
    request = old_versions.decode_request_body(35, 0, body, 0)
    assert request.topics is None
    assert old_versions.encode_body(35, 0, request, response=False) == body


def test_the_table_of_old_versions_names_exactly_the_versions_old_versions_py_serves() -> None:
    from katka.protocol import old_versions
    from katka.protocol.old_version_keys import OLD_VERSION_KEYS

    assert set(old_versions.OLD_VERSIONS) == OLD_VERSION_KEYS
