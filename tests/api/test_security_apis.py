"""Request in, response out for the SASL exchange and the SCRAM credential APIs."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

from katka.api import (
    alter_user_scram_credentials,
    describe_user_scram_credentials,
    sasl_authenticate,
    sasl_handshake,
)
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.protocol.codec import request_schema
from katka.security.principal import KafkaPrincipal
from katka.security.sasl import PlainServer
from katka.security.scram import ScramMechanism, ScramServer
from katka.security.session import Session
from tests.api.harness import ApiHarness, build, edges


def sasl_session(api: ApiHarness) -> Session:
    store = api.node.scram_credentials
    assert store is not None
    return Session(
        "SASL_PLAINTEXT",
        "SASL_PLAINTEXT",
        mechanisms={
            "PLAIN": functools.partial(PlainServer, {"alice": "alice-secret"}),
            "SCRAM-SHA-256": functools.partial(
                ScramServer, ScramMechanism.SCRAM_SHA_256, store.get
            ),
        },
    )


def call_in(api: ApiHarness, session: Session, module: object, version: int, **fields: object):  # type: ignore[no-untyped-def]
    request = build(request_schema(module.API_KEY, version), fields)  # type: ignore[attr-defined]
    context = RequestContext(module.API_KEY, version, 1, "t", "127.0.0.1", session)  # type: ignore[attr-defined]
    response = module.handle(context, request, api.node)  # type: ignore[attr-defined]
    if not hasattr(response, "error_code"):
        response = api.loop.run_until_complete(response)
    return response


@edges(sasl_handshake)
def test_sasl_handshake_on_a_listener_without_sasl_is_illegal_sasl_state(
    api: ApiHarness, version: int
) -> None:
    response = api.call(sasl_handshake, version, mechanism="PLAIN")
    assert response.error_code == ErrorCode.illegal_sasl_state


@edges(sasl_authenticate)
def test_sasl_authenticate_on_a_listener_without_sasl_is_illegal_sasl_state(
    api: ApiHarness, version: int
) -> None:
    response = api.call(sasl_authenticate, version, auth_bytes=b"\0alice\0x")
    assert response.error_code == ErrorCode.illegal_sasl_state


def test_plain_authenticates_the_right_password_and_names_the_principal(api: ApiHarness) -> None:
    session = sasl_session(api)
    assert not session.allows(3)
    handshake = call_in(api, session, sasl_handshake, 1, mechanism="PLAIN")
    assert handshake.error_code == ErrorCode.none
    assert set(handshake.mechanisms) == {"PLAIN", "SCRAM-SHA-256"}
    answer = call_in(api, session, sasl_authenticate, 2, auth_bytes=b"\0alice\0alice-secret")
    assert answer.error_code == ErrorCode.none
    assert session.authenticated and session.principal == KafkaPrincipal("User", "alice")
    assert session.allows(3)


def test_plain_refuses_a_wrong_password_and_the_session_stays_refused(api: ApiHarness) -> None:
    session = sasl_session(api)
    call_in(api, session, sasl_handshake, 1, mechanism="PLAIN")
    answer = call_in(api, session, sasl_authenticate, 0, auth_bytes=b"\0alice\0guess")
    assert answer.error_code == ErrorCode.sasl_authentication_failed
    assert "guess" not in (answer.error_message or "")
    assert not session.allows(18) and not session.allows(36)


def test_an_unknown_mechanism_is_unsupported_with_the_enabled_list(api: ApiHarness) -> None:
    session = sasl_session(api)
    answer = call_in(api, session, sasl_handshake, 1, mechanism="GSSAPI")
    assert answer.error_code == ErrorCode.unsupported_sasl_mechanism
    assert "PLAIN" in answer.mechanisms


def scram_client_proof(
    password: str, client_first_bare: str, server_first: str, client_final_bare: str
) -> tuple[str, bytes]:
    """RFC 5802's client side: the proof, and the server signature it expects."""
    attributes = dict(item.split("=", 1) for item in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(attributes["s"]), int(attributes["i"])
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    auth_message = f"{client_first_bare},{server_first},{client_final_bare}".encode()
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return base64.b64encode(proof).decode(), hmac.new(server_key, auth_message, "sha256").digest()


def add_scram_user(api: ApiHarness, user: str, password: str) -> None:
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 4096)
    response = api.call(
        alter_user_scram_credentials,
        0,
        deletions=[],
        upsertions=[
            {
                "name": user,
                "mechanism": 1,
                "iterations": 4096,
                "salt": salt,
                "salted_password": salted,
            }
        ],
    )
    assert [(r.user, r.error_code) for r in response.results] == [(user, ErrorCode.none)]


def test_scram_sha_256_authenticates_a_user_added_by_alter_user_scram_credentials(
    api: ApiHarness,
) -> None:
    add_scram_user(api, "carol", "carol-secret")
    session = sasl_session(api)
    call_in(api, session, sasl_handshake, 1, mechanism="SCRAM-SHA-256")
    client_first_bare = "n=carol,r=abcdefgh"
    first = call_in(
        api, session, sasl_authenticate, 1, auth_bytes=f"n,,{client_first_bare}".encode()
    )
    server_first = first.auth_bytes.decode()
    nonce = dict(item.split("=", 1) for item in server_first.split(","))["r"]
    assert nonce.startswith("abcdefgh")
    client_final_bare = f"c=biws,r={nonce}"
    proof, server_signature = scram_client_proof(
        "carol-secret", client_first_bare, server_first, client_final_bare
    )
    final = call_in(
        api, session, sasl_authenticate, 2, auth_bytes=f"{client_final_bare},p={proof}".encode()
    )
    assert final.error_code == ErrorCode.none
    assert final.auth_bytes.decode() == "v=" + base64.b64encode(server_signature).decode()
    assert session.principal == KafkaPrincipal("User", "carol")


def test_scram_refuses_a_proof_made_from_another_password(api: ApiHarness) -> None:
    add_scram_user(api, "carol", "carol-secret")
    session = sasl_session(api)
    call_in(api, session, sasl_handshake, 1, mechanism="SCRAM-SHA-256")
    first = call_in(api, session, sasl_authenticate, 1, auth_bytes=b"n,,n=carol,r=xyz")
    server_first = first.auth_bytes.decode()
    nonce = dict(item.split("=", 1) for item in server_first.split(","))["r"]
    proof, _ = scram_client_proof("guess", "n=carol,r=xyz", server_first, f"c=biws,r={nonce}")
    final = call_in(
        api, session, sasl_authenticate, 1, auth_bytes=f"c=biws,r={nonce},p={proof}".encode()
    )
    assert final.error_code == ErrorCode.sasl_authentication_failed


@edges(alter_user_scram_credentials)
def test_alter_user_scram_credentials_adds_deletes_and_refuses_bad_iterations(
    api: ApiHarness, version: int
) -> None:
    add_scram_user(api, "erin", "pw")
    response = api.call(
        alter_user_scram_credentials,
        version,
        deletions=[{"name": "erin", "mechanism": 1}, {"name": "nobody", "mechanism": 2}],
        upsertions=[
            {
                "name": "frank",
                "mechanism": 2,
                "iterations": 10,
                "salt": b"s",
                "salted_password": b"p",
            }
        ],
    )
    assert {r.user: r.error_code for r in response.results} == {
        "erin": ErrorCode.none,
        "nobody": ErrorCode.resource_not_found,
        "frank": ErrorCode.unacceptable_credential,
    }


@edges(describe_user_scram_credentials)
def test_describe_user_scram_credentials_lists_mechanisms_and_iterations_only(
    api: ApiHarness, version: int
) -> None:
    add_scram_user(api, "grace", "pw")
    every = api.call(describe_user_scram_credentials, version, users=None)
    (result,) = every.results
    assert result.user == "grace"
    assert [(c.mechanism, c.iterations) for c in result.credential_infos] == [(1, 4096)]
    unknown = api.call(describe_user_scram_credentials, version, users=[{"name": "nobody"}])
    assert unknown.results[0].error_code == ErrorCode.resource_not_found


def test_describe_configs_reports_passwords_as_null_and_sensitive() -> None:
    from katka.api import describe_configs

    harness = ApiHarness({"ssl.keystore.password": "keep-me-secret", "ssl.keystore.type": "PEM"})
    try:
        response = harness.call(
            describe_configs, 4, include_synonyms=True, include_documentation=False,
            resources=[{"resource_type": 4, "resource_name": "1", "configuration_keys": None}],
        )  # fmt: skip
        entries = {c.name: c for c in response.results[0].configs}
        password = entries["ssl.keystore.password"]
        assert password.value is None and password.is_sensitive
        assert all(s.value is None for s in password.synonyms)
        assert entries["ssl.keystore.type"].value == "PEM"
        assert not entries["ssl.keystore.type"].is_sensitive
    finally:
        harness.close()
