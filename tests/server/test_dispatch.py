"""The dispatcher decodes a connection's repeated request once, and every other one anew."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from katka.api import HANDLERS
from katka.protocol.codec import EncodedFrame
from katka.security.session import Session
from katka.server.dispatch import MAX_REMEMBERED_REQUEST_BYTES, Dispatcher, lazy_registry
from tests.api.harness import ApiHarness


@pytest.fixture
def harness() -> Iterator[ApiHarness]:
    harness = ApiHarness()
    yield harness
    harness.close()


def metadata_v1(correlation_id: int, topic: str, client_id: str = "c") -> bytes:
    """Metadata v1 asking for one topic (not flexible: plain strings and arrays)."""
    body = struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic.encode()
    header = struct.pack(">hhih", 3, 1, correlation_id, len(client_id)) + client_id.encode()
    return header + body


def answer(dispatcher: Dispatcher, frame: bytes, session: Session) -> bytes:
    reply = dispatcher.dispatch(frame, "127.0.0.1", session)
    assert isinstance(reply, EncodedFrame)
    return reply.payload()


def test_a_request_repeated_but_for_its_correlation_id_is_decoded_once(
    harness: ApiHarness,
) -> None:
    dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
    session = Session(client_host="127.0.0.1")
    first = answer(dispatcher, metadata_v1(1, "orders"), session)
    assert session.last_request is not None
    decoded = session.last_request[2]
    again = answer(dispatcher, metadata_v1(2, "orders"), session)
    assert session.last_request[2] is decoded
    assert struct.unpack_from(">i", again)[0] == 2
    assert again[4:] == first[4:]


def test_a_different_request_or_client_id_is_decoded_anew(harness: ApiHarness) -> None:
    dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
    session = Session(client_host="127.0.0.1")
    answer(dispatcher, metadata_v1(1, "orders"), session)
    assert session.last_request is not None
    orders = session.last_request[2]
    answer(dispatcher, metadata_v1(2, "refunds"), session)
    assert session.last_request[2] is not orders
    assert [topic.name for topic in session.last_request[2].topics] == ["refunds"]
    answer(dispatcher, metadata_v1(3, "refunds", client_id="other"), session)
    assert session.last_request[1] == "other"


def test_a_large_request_is_not_remembered(harness: ApiHarness) -> None:
    dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
    session = Session(client_host="127.0.0.1")
    answer(dispatcher, metadata_v1(1, "x" * MAX_REMEMBERED_REQUEST_BYTES), session)
    assert session.last_request is None
