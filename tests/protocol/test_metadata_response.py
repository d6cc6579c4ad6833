"""Metadata responses v9-13 written by metadata_response.py are kio's, byte for byte."""

from __future__ import annotations

import datetime
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kio.index import load_payload_module
from kio.schema.errors import ErrorCode
from kio.serial import entity_writer
from kio.static.constants import EntityType

from katka.protocol.codec import encode_response
from katka.protocol.metadata_response import FIRST_VERSION, LAST_VERSION

VERSIONS = range(FIRST_VERSION, LAST_VERSION + 1)
NAMES = st.text(alphabet="abcé.-_0", max_size=12)
I32 = st.integers(-(2**31), 2**31 - 1)
BROKER_IDS = st.lists(st.integers(-1, 2**31 - 1), max_size=4).map(tuple)
CODES = st.sampled_from(list(ErrorCode))


def kio_payload(version: int, correlation_id: int, response: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(response))(buffer, response)
    return correlation_id.to_bytes(4, "big", signed=True) + b"\x00" + buffer.getvalue()


@st.composite
def metadata_responses(draw: st.DrawFn, version: int) -> Any:
    m = load_payload_module(3, version, EntityType.response)
    brokers = tuple(
        m.MetadataResponseBroker(
            node_id=draw(I32),
            host=draw(NAMES),
            port=draw(I32),
            rack=draw(st.none() | NAMES),
        )
        for _ in range(draw(st.integers(0, 3)))
    )

    def topic() -> Any:
        values: dict[str, Any] = {
            "error_code": draw(CODES),
            "name": draw((st.none() | NAMES) if version >= 12 else NAMES),
            "is_internal": draw(st.booleans()),
            "partitions": tuple(
                m.MetadataResponsePartition(
                    error_code=draw(CODES),
                    partition_index=draw(I32),
                    leader_id=draw(I32),
                    leader_epoch=draw(I32),
                    replica_nodes=draw(BROKER_IDS),
                    isr_nodes=draw(BROKER_IDS),
                    offline_replicas=draw(BROKER_IDS),
                )
                for _ in range(draw(st.integers(0, 4)))
            ),
            "topic_authorized_operations": draw(I32),
        }
        if version >= 10:
            values["topic_id"] = draw(st.none() | st.uuids())
        return m.MetadataResponseTopic(**values)

    values: dict[str, Any] = {
        "throttle_time": datetime.timedelta(milliseconds=draw(st.integers(0, 2**31 - 1))),
        "brokers": brokers,
        "cluster_id": draw(st.none() | NAMES),
        "controller_id": draw(I32),
        "topics": tuple(topic() for _ in range(draw(st.integers(0, 3)))),
    }
    if version <= 10:
        values["cluster_authorized_operations"] = draw(I32)
    if version >= 13:
        values["error_code"] = draw(CODES)
    return m.MetadataResponse(**values)


@pytest.mark.parametrize("version", VERSIONS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_metadata_response_encodes_as_kio_encodes_it(version: int, data: st.DataObject) -> None:
    response = data.draw(metadata_responses(version))
    correlation_id = data.draw(I32)
    fast = encode_response(3, version, correlation_id, response).payload()
    assert fast == kio_payload(version, correlation_id, response)


def test_no_covered_version_has_a_tagged_field_the_writer_would_skip() -> None:
    """The writer writes no tagged fields: a kio version that gained one must extend it."""
    import dataclasses

    for version in VERSIONS:
        m = load_payload_module(3, version, EntityType.response)
        for name in (
            "MetadataResponse",
            "MetadataResponseBroker",
            "MetadataResponseTopic",
            "MetadataResponsePartition",
        ):
            for field in dataclasses.fields(getattr(m, name)):
                assert "tag" not in field.metadata, (version, name, field.name)
