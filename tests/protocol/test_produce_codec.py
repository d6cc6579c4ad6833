"""Produce's hand-written codec (produce_codec.py) is kio's, byte for byte, at every version."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kio.index import load_payload_module, load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.serial import entity_writer
from kio.static.constants import EntityType

from katka.protocol.bounds import BoundsError, check_bounds
from katka.protocol.codec import encode_response
from katka.protocol.produce_codec import (
    VERSIONS,
    PartitionProduced,
    Produced,
    TopicProduced,
    check_produce_bounds,
    encode_produce_response,
)

NAMES = st.text(alphabet="abcé.-_0", max_size=12)
MESSAGES = st.none() | st.text(max_size=20)
I32 = st.integers(-(2**31), 2**31 - 1)
I64 = st.integers(-(2**63), 2**63 - 1)
# Whole milliseconds from the epoch, as katka's handler builds them (datetime_ms).
APPEND_TIMES = st.none() | st.integers(0, 2**41).map(
    lambda ms: datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
)


def kio_body(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def kio_response_frame(version: int, correlation_id: int, response: Any) -> bytes:
    """The frame kio's writer makes: size, correlation id, tagged fields from v9, body."""
    header = correlation_id.to_bytes(4, "big", signed=True)
    if version >= 9:
        header += b"\x00"
    payload = header + kio_body(response)
    return len(payload).to_bytes(4, "big") + payload


@st.composite
def produce_responses(draw: st.DrawFn, version: int) -> Any:
    m = load_payload_module(0, version, EntityType.response)

    def partition() -> Any:
        values: dict[str, Any] = {
            "index": draw(I32),
            "error_code": draw(st.sampled_from(list(ErrorCode))),
            "base_offset": draw(I64),
            "log_append_time": draw(APPEND_TIMES),
        }
        if version >= 5:
            values["log_start_offset"] = draw(I64)
        if version >= 8:
            values["record_errors"] = tuple(
                m.BatchIndexAndErrorMessage(batch_index=i, batch_index_error_message=message)
                for i, message in draw(st.lists(st.tuples(I32, MESSAGES), max_size=3))
            )
            values["error_message"] = draw(MESSAGES)
        return m.PartitionProduceResponse(**values)

    topics = tuple(
        m.TopicProduceResponse(
            name=draw(NAMES),
            partition_responses=tuple(partition() for _ in range(draw(st.integers(0, 3)))),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    throttle = datetime.timedelta(milliseconds=draw(st.integers(0, 2**31 - 1)))
    return m.ProduceResponse(responses=topics, throttle_time=throttle)


# A few examples per version in the default run, many in the slow run (.ci/run runs both).
EXAMPLES = [pytest.param(8, id="few"), pytest.param(120, id="many", marks=pytest.mark.slow)]


@pytest.mark.parametrize("examples", EXAMPLES)
@pytest.mark.parametrize("version", VERSIONS)
def test_a_produce_response_encodes_as_kio_encodes_it(version: int, examples: int) -> None:
    @settings(max_examples=examples, deadline=None)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        response = data.draw(produce_responses(version))
        correlation_id = data.draw(I32)
        fast = encode_response(0, version, correlation_id, response).payload()
        assert fast == kio_response_frame(version, correlation_id, response)[4:]

    check()


def handler_built(response: Any) -> Produced:
    """The response as the handler builds it (produce_codec's types), from kio's."""
    return Produced(
        tuple(
            TopicProduced(
                topic.name,
                tuple(
                    PartitionProduced(
                        p.index,
                        p.error_code,
                        p.base_offset,
                        -1
                        if p.log_append_time is None
                        else round(p.log_append_time.timestamp() * 1000),
                        getattr(p, "log_start_offset", -1),
                        getattr(p, "record_errors", ()),
                        getattr(p, "error_message", None),
                    )
                    for p in topic.partition_responses
                ),
            )
            for topic in response.responses
        ),
        response.throttle_time,
    )


@pytest.mark.parametrize("examples", EXAMPLES)
@pytest.mark.parametrize("version", VERSIONS)
def test_the_handlers_response_types_encode_as_kios_entities(version: int, examples: int) -> None:
    @settings(max_examples=examples, deadline=None)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        response = data.draw(produce_responses(version))
        light = handler_built(response)
        for topic, kio_topic in zip(light.responses, response.responses, strict=True):
            for partition, kio_partition in zip(
                topic.partition_responses, kio_topic.partition_responses, strict=True
            ):
                assert partition.log_append_time == kio_partition.log_append_time
        correlation_id = data.draw(I32)
        fast = encode_response(0, version, correlation_id, light).payload()
        assert fast == kio_response_frame(version, correlation_id, response)[4:]

    check()


@pytest.mark.parametrize("version", [10, 11])
def test_a_response_with_a_current_leader_is_left_to_kio(version: int) -> None:
    m = load_payload_module(0, version, EntityType.response)
    partition = m.PartitionProduceResponse(
        index=0,
        error_code=ErrorCode.not_leader_or_follower,
        base_offset=-1,
        log_append_time=None,
        record_errors=(),
        current_leader=m.LeaderIdAndEpoch(leader_id=1, leader_epoch=3),
    )
    response = m.ProduceResponse(
        responses=(m.TopicProduceResponse(name="t", partition_responses=(partition,)),),
        throttle_time=datetime.timedelta(0),
    )
    assert encode_produce_response(version, 5, response) is None
    encoded = encode_response(0, version, 5, response).payload()
    assert encoded == kio_response_frame(version, 5, response)[4:]


@pytest.mark.parametrize("version", [10, 11])
def test_a_response_with_node_endpoints_is_left_to_kio(version: int) -> None:
    m = load_payload_module(0, version, EntityType.response)
    response = m.ProduceResponse(
        responses=(),
        throttle_time=datetime.timedelta(0),
        node_endpoints=(m.NodeEndpoint(node_id=1, host="h", port=9092, rack=None),),
    )
    assert encode_produce_response(version, 5, response) is None
    encoded = encode_response(0, version, 5, response).payload()
    assert encoded == kio_response_frame(version, 5, response)[4:]


@st.composite
def produce_request_bodies(draw: st.DrawFn, version: int) -> bytes:
    m = load_payload_module(0, version, EntityType.request)
    topics = tuple(
        m.TopicProduceData(
            name=draw(NAMES),
            partition_data=tuple(
                m.PartitionProduceData(
                    index=draw(I32), records=draw(st.none() | st.binary(max_size=80))
                )
                for _ in range(draw(st.integers(0, 3)))
            ),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    request = m.ProduceRequest(
        transactional_id=draw(st.none() | NAMES),
        acks=draw(st.sampled_from([-1, 0, 1])),
        timeout=datetime.timedelta(milliseconds=draw(st.integers(0, 2**31 - 1))),
        topic_data=topics,
    )
    return kio_body(request)


def refused(check: Any, data: bytes) -> bool:
    try:
        check(data)
    except BoundsError:
        return True
    return False


@pytest.mark.parametrize("examples", EXAMPLES)
@pytest.mark.parametrize("version", VERSIONS)
def test_the_produce_bounds_walk_refuses_what_the_generic_walk_refuses(
    version: int, examples: int
) -> None:
    """Whole requests pass both walks; truncated and corrupted ones fail both or neither."""
    schema = load_request_schema(0, version)

    @settings(max_examples=examples, deadline=None)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        body = data.draw(produce_request_bodies(version))
        assert not refused(lambda d: check_produce_bounds(d, 0, version), body)
        cut = data.draw(st.integers(0, len(body)))
        spliced = data.draw(st.binary(max_size=6))
        at = data.draw(st.integers(0, len(body)))
        for mutated in (body[:cut], body[:at] + spliced + body[at + len(spliced) :]):
            generic = refused(lambda d: check_bounds(schema, d, 0), mutated)
            assert refused(lambda d: check_produce_bounds(d, 0, version), mutated) == generic

    check()


def test_the_codec_covers_exactly_the_versions_kio_generates() -> None:
    for version in VERSIONS:
        assert load_request_schema(0, version) and load_response_schema(0, version)
    assert list(VERSIONS) == list(range(3, 12))
