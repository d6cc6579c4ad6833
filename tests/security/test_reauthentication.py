"""KIP-368 re-authentication through the dispatcher, on a ManualClock: the session lifetime
SaslAuthenticate reports, re-authentication on an established connection, and the connection
closed when a request arrives after the lifetime, as Kafka's SocketServer closes it."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from typing import Any

import pytest
from kio.index import load_response_schema
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i16, i32

from katka import api as handlers
from katka.errors import ErrorCode
from katka.protocol.codec import EncodedFrame, request_schema
from katka.security.principal import KafkaPrincipal
from katka.security.sasl import PlainServer
from katka.security.session import SaslState, Session
from katka.server.dispatch import CloseConnection, Dispatcher, build_registry
from tests.api.harness import ApiHarness, build

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
METADATA, SASL_HANDSHAKE, SASL_AUTHENTICATE = 3, 17, 36


@pytest.fixture
def harness() -> Iterator[ApiHarness]:
    api = ApiHarness()
    try:
        yield api
    finally:
        api.close()


class Client:
    """One connection's requests through the dispatcher, answers decoded."""

    def __init__(self, harness: ApiHarness, reauth_ms: int) -> None:
        self.harness = harness
        self.dispatcher = Dispatcher(build_registry(handlers.ALL), harness.node)
        plain = functools.partial(PlainServer, USERS)
        self.session = Session(
            "SASL_PLAINTEXT",
            "SASL_PLAINTEXT",
            mechanisms={"PLAIN": plain, "SCRAM-SHA-256": plain},
            client_host="127.0.0.1",
            reauth_ms={"PLAIN": reauth_ms, "SCRAM-SHA-256": reauth_ms},
        )
        self.correlation_id = 0

    def send(self, api_key: int, version: int, **fields: Any) -> Any:
        self.correlation_id += 1
        schema = request_schema(api_key, version)
        header_schema = schema.__header_schema__
        header = header_schema(
            request_api_key=i16(api_key),
            request_api_version=i16(version),
            correlation_id=i32(self.correlation_id),
            client_id="t",
        )
        buffer = io.BytesIO()
        entity_writer(header_schema)(buffer, header)
        entity_writer(schema)(buffer, build(schema, fields))

        async def exchange() -> Any:
            reply = self.dispatcher.dispatch(buffer.getvalue(), "127.0.0.1", self.session)
            return reply if isinstance(reply, EncodedFrame) else await reply  # type: ignore[misc]

        reply = self.harness.loop.run_until_complete(exchange())
        assert isinstance(reply, EncodedFrame)
        payload = b"".join(bytes(chunk) for chunk in reply.chunks)
        response_schema = load_response_schema(api_key, version)
        # size and correlation id, then the flexible header's empty tagged fields
        position = 9 if response_schema.__flexible__ else 8
        response, _size = entity_reader(response_schema)(payload, position)
        return response

    def authenticate(self, user: str, mechanism: str = "PLAIN") -> Any:
        handshake = self.send(SASL_HANDSHAKE, 1, mechanism=mechanism)
        assert handshake.error_code == ErrorCode.none
        return self.send(SASL_AUTHENTICATE, 2, auth_bytes=f"\0{user}\0{USERS[user]}".encode())


def lifetime_ms(response: Any) -> int:
    return int(response.session_lifetime.total_seconds() * 1000)


def test_saslauthenticate_reports_connections_max_reauth_ms_as_the_session_lifetime(
    harness: ApiHarness,
) -> None:
    client = Client(harness, reauth_ms=5000)
    answer = client.authenticate("alice")
    assert answer.error_code == ErrorCode.none and lifetime_ms(answer) == 5000
    assert client.send(METADATA, 12, topics=[]).brokers


def test_without_connections_max_reauth_ms_sessions_never_expire_and_cannot_reauthenticate(
    harness: ApiHarness,
) -> None:
    client = Client(harness, reauth_ms=0)
    assert lifetime_ms(client.authenticate("alice")) == 0
    harness.clock.advance(10**9)
    assert client.send(METADATA, 12, topics=[]).brokers
    again = client.send(SASL_HANDSHAKE, 1, mechanism="PLAIN")
    assert again.error_code == ErrorCode.illegal_sasl_state
    assert client.session.authenticated


def test_a_request_after_the_session_lifetime_closes_the_connection(harness: ApiHarness) -> None:
    client = Client(harness, reauth_ms=5000)
    client.authenticate("alice")
    harness.clock.advance(5000)
    assert client.send(METADATA, 12, topics=[]).brokers  # at the lifetime, not past it
    harness.clock.advance(1)
    with pytest.raises(CloseConnection, match="session expired"):
        client.send(METADATA, 12, topics=[])


def test_reauthentication_on_the_established_connection_renews_the_lifetime(
    harness: ApiHarness,
) -> None:
    client = Client(harness, reauth_ms=5000)
    client.authenticate("alice")
    harness.clock.advance(4000)
    answer = client.authenticate("alice")
    assert answer.error_code == ErrorCode.none and lifetime_ms(answer) == 5000
    harness.clock.advance(4000)  # 8 s after the first authentication, 4 s after the second
    assert client.send(METADATA, 12, topics=[]).brokers
    assert client.session.principal == KafkaPrincipal("User", "alice")


def test_an_expired_session_may_still_reauthenticate(harness: ApiHarness) -> None:
    client = Client(harness, reauth_ms=1000)
    client.authenticate("alice")
    harness.clock.advance(60_000)  # an idle connection is left alone until it sends something
    assert client.authenticate("alice").error_code == ErrorCode.none
    assert client.send(METADATA, 12, topics=[]).brokers


def test_reauthentication_as_another_principal_fails_and_refuses_the_connection(
    harness: ApiHarness,
) -> None:
    client = Client(harness, reauth_ms=5000)
    client.authenticate("alice")
    harness.clock.advance(2000)
    answer = client.authenticate("bob")
    assert answer.error_code == ErrorCode.sasl_authentication_failed
    assert "Cannot change principals" in answer.error_message
    assert client.session.state is SaslState.FAILED
    with pytest.raises(CloseConnection):
        client.send(METADATA, 12, topics=[])


def test_reauthentication_with_another_mechanism_closes_the_connection_at_its_first_token(
    harness: ApiHarness,
) -> None:
    client = Client(harness, reauth_ms=5000)
    client.authenticate("alice")
    harness.clock.advance(2000)
    assert client.send(SASL_HANDSHAKE, 1, mechanism="SCRAM-SHA-256").error_code == ErrorCode.none
    with pytest.raises(CloseConnection):
        client.send(SASL_AUTHENTICATE, 2, auth_bytes=b"\0alice\0alice-secret")


def test_a_second_reauthentication_within_a_second_is_illegal_sasl_state(
    harness: ApiHarness,
) -> None:
    client = Client(harness, reauth_ms=5000)
    client.authenticate("alice")
    harness.clock.advance(2000)
    client.authenticate("alice")
    harness.clock.advance(500)
    again = client.send(SASL_HANDSHAKE, 1, mechanism="PLAIN")
    assert again.error_code == ErrorCode.illegal_sasl_state


def test_saslauthenticate_after_authentication_is_illegal_sasl_state(harness: ApiHarness) -> None:
    client = Client(harness, reauth_ms=5000)
    client.authenticate("alice")
    answer = client.send(SASL_AUTHENTICATE, 2, auth_bytes=b"\0alice\0alice-secret")
    assert answer.error_code == ErrorCode.illegal_sasl_state
    assert client.session.authenticated
