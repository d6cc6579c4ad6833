"""katka's own Fetch response writer writes exactly what kio's writer writes, at every version."""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import io
import struct
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.schema.errors import ErrorCode
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import Records

from katka.protocol.codec import encode_response
from katka.protocol.fetch_response import (
    LARGE_CHUNK_BYTES,
    Fetched,
    FetchedPartition,
    FetchedTopic,
    encode_fetch_response,
)

VERSIONS = range(4, 19)
FLEXIBLE = 12

st.register_type_strategy(uuid.UUID, st.uuids())
st.register_type_strategy(
    Records,
    st.one_of(
        st.binary(max_size=100),
        st.integers(LARGE_CHUNK_BYTES - 1, LARGE_CHUNK_BYTES + 100).map(lambda n: b"r" * n),
    ).map(Records),
)


def kio_bytes(version: int, correlation_id: int, response: Any) -> bytes:
    """The whole frame as kio's writer writes it (size, response header, body)."""
    body = io.BytesIO()
    body.write(struct.pack(">i", correlation_id))
    if version >= FLEXIBLE:
        body.write(b"\x00")
    entity_writer(type(response))(body, response)
    payload = body.getvalue()
    return struct.pack(">i", len(payload)) + payload


def ours(version: int, correlation_id: int, response: Any) -> bytes | None:
    encoded = encode_fetch_response(version, correlation_id, response)
    if encoded is None:
        return None
    chunks, size = encoded
    joined = bytearray(b"".join(chunks))
    assert len(joined) == size + 4
    struct.pack_into(">i", joined, 0, size)
    return bytes(joined)


def of_version(cls: type, **values: Any) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in values.items() if name in names})


def module(version: int) -> Any:
    return importlib.import_module(f"kio.schema.fetch.v{version}.response")


def with_default_tags(version: int, response: Any) -> Any:
    """The response with every tagged field at its default, as katka answers."""
    if version < FLEXIBLE:
        return response
    m = module(version)
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(m.PartitionData)
        if f.name in ("diverging_epoch", "current_leader", "snapshot_id")
    }
    topics = tuple(
        dataclasses.replace(
            topic,
            partitions=tuple(dataclasses.replace(p, **defaults) for p in topic.partitions),
        )
        for topic in response.responses
    )
    extra = {"node_endpoints": ()} if hasattr(response, "node_endpoints") else {}
    return dataclasses.replace(response, responses=topics, **extra)


def check_against_kio(version: int, examples: int) -> None:
    schema = module(version).FetchResponse

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        response=st.from_type(schema),
        defaults=st.booleans(),
        correlation_id=st.integers(0, 2**31 - 1),
    )
    def check(response: Any, defaults: bool, correlation_id: int) -> None:
        if defaults:
            response = with_default_tags(version, response)
        expected = kio_bytes(version, correlation_id, response)
        written = ours(version, correlation_id, response)
        if defaults:
            assert written is not None, "a response as katka answers is written without kio"
        if written is not None:
            assert written == expected
        frame = encode_response(1, version, correlation_id, response)
        assert b"".join(frame.chunks) == expected

    check()


def handler_built(version: int, response: Any) -> Fetched:
    """The response as the handler builds it (fetch_response's types), from kio's."""
    return Fetched(
        tuple(
            FetchedTopic(
                getattr(topic, "topic", "t"),
                getattr(topic, "topic_id", None),
                tuple(
                    FetchedPartition(
                        p.partition_index,
                        p.error_code,
                        p.high_watermark,
                        p.last_stable_offset,
                        getattr(p, "log_start_offset", -1),
                        p.aborted_transactions,
                        getattr(p, "preferred_read_replica", -1),
                        p.records,
                    )
                    for p in topic.partitions
                ),
            )
            for topic in response.responses
        ),
        getattr(response, "error_code", 0),
        getattr(response, "session_id", 0),
        response.throttle_time,
    )


def check_handler_types_against_kio(version: int, examples: int) -> None:
    schema = module(version).FetchResponse

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(response=st.from_type(schema), correlation_id=st.integers(0, 2**31 - 1))
    def check(response: Any, correlation_id: int) -> None:
        response = with_default_tags(version, response)
        expected = kio_bytes(version, correlation_id, response)
        frame = encode_response(1, version, correlation_id, handler_built(version, response))
        assert b"".join(frame.chunks) == expected

    check()


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_the_handlers_response_types_are_written_as_kio_writes_its_entities(version: int) -> None:
    check_handler_types_against_kio(version, examples=5)


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_many_responses_of_the_handlers_types_are_written_as_kio_writes_them(version: int) -> None:
    check_handler_types_against_kio(version, examples=100)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_any_fetch_response_is_written_as_kio_writes_it(version: int) -> None:
    check_against_kio(version, examples=5)


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_many_fetch_responses_are_written_as_kio_writes_them(version: int) -> None:
    check_against_kio(version, examples=150)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_what_katka_writes_reads_back_as_the_same_response(version: int) -> None:
    m = module(version)
    partition = of_version(
        m.PartitionData,
        partition_index=3,
        error_code=ErrorCode.none,
        high_watermark=10,
        last_stable_offset=9,
        log_start_offset=0,
        aborted_transactions=(m.AbortedTransaction(producer_id=5, first_offset=2),),
        preferred_read_replica=-1,
        records=Records(b"x" * (LARGE_CHUNK_BYTES * 2)),
    )
    topic = of_version(
        m.FetchableTopicResponse, topic="t", topic_id=uuid.uuid4(), partitions=(partition,)
    )
    response = of_version(
        m.FetchResponse,
        throttle_time=datetime.timedelta(milliseconds=7),
        error_code=ErrorCode.none,
        session_id=12,
        responses=(topic, topic),
    )
    frame = encode_response(1, version, 99, response)
    assert any(chunk is partition.records for chunk in frame.chunks), "records kept by reference"
    payload = b"".join(frame.chunks)
    assert struct.unpack_from(">i", payload)[0] == len(payload) - 4 == frame.size
    start = 9 if version >= FLEXIBLE else 8
    decoded, _ = entity_reader(m.FetchResponse)(payload, start)
    assert decoded == response
