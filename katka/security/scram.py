"""SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server side, and the stored form
of a credential.

Only the salted form is ever kept: salt, iterations, StoredKey = H(HMAC(SaltedPassword,
"Client Key")) and ServerKey = HMAC(SaltedPassword, "Server Key"). AlterUserScramCredentials
(KIP-554) carries SaltedPassword, never the password; the broker derives the two keys and drops
it. The primitives are the standard library's hashlib.pbkdf2_hmac and hmac (OpenSSL's).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from katka.security.sasl import AuthenticationFailed


class ScramMechanism(enum.IntEnum):
    """Codes as AlterUserScramCredentials and DescribeUserScramCredentials carry them."""

    SCRAM_SHA_256 = 1
    SCRAM_SHA_512 = 2

    @property
    def mechanism_name(self) -> str:
        return self.name.replace("_", "-")

    @property
    def hash_name(self) -> str:
        return "sha256" if self is ScramMechanism.SCRAM_SHA_256 else "sha512"

    @classmethod
    def from_name(cls, name: str) -> ScramMechanism:
        return cls[name.upper().replace("-", "_")]


# Kafka's ScramMechanism.minIterations; AlterUserScramCredentials refuses more than 16384.
MIN_ITERATIONS = 4096
MAX_ITERATIONS = 16384


@dataclass(frozen=True, slots=True)
class ScramCredential:
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    @classmethod
    def from_salted_password(
        cls, mechanism: ScramMechanism, salt: bytes, salted_password: bytes, iterations: int
    ) -> ScramCredential:
        client_key = _hmac(mechanism, salted_password, b"Client Key")
        return cls(
            salt=salt,
            stored_key=hashlib.new(mechanism.hash_name, client_key).digest(),
            server_key=_hmac(mechanism, salted_password, b"Server Key"),
            iterations=iterations,
        )

    @classmethod
    def from_password(
        cls, mechanism: ScramMechanism, password: str, iterations: int = MIN_ITERATIONS
    ) -> ScramCredential:
        salt = os.urandom(32)
        return cls.from_salted_password(
            mechanism, salt, salted_password(mechanism, password, salt, iterations), iterations
        )


def salted_password(
    mechanism: ScramMechanism, password: str, salt: bytes, iterations: int
) -> bytes:
    return hashlib.pbkdf2_hmac(mechanism.hash_name, password.encode(), salt, iterations)


def _hmac(mechanism: ScramMechanism, key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, mechanism.hash_name).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _attributes(message: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in message.split(","):
        name, separator, value = item.partition("=")
        if not separator or len(name) != 1:
            raise AuthenticationFailed(f"Invalid SCRAM message: bad attribute {name[:16]!r}")
        result[name] = value
    return result


def _decode_saslname(name: str) -> str:
    """RFC 5802 saslname: `=2C` is a comma, `=3D` an equals sign."""
    return name.replace("=2C", ",").replace("=3D", "=")


class ScramServer:
    """One SCRAM exchange: client-first -> server-first, client-final -> server-final."""

    def __init__(
        self,
        mechanism: ScramMechanism,
        lookup: Callable[[str, ScramMechanism], ScramCredential | None],
    ) -> None:
        self.mechanism = mechanism.mechanism_name
        self._scram = mechanism
        self._lookup = lookup
        self._state = "client-first"
        self._username = ""
        self._gs2_header = ""
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""
        self._credential: ScramCredential | None = None

    def evaluate(self, token: bytes) -> bytes:
        try:
            message = token.decode()
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid SCRAM message: not UTF-8") from None
        if self._state == "client-first":
            return self._client_first(message)
        if self._state == "client-final":
            return self._client_final(message)
        raise AuthenticationFailed("Invalid SCRAM exchange: already complete")

    def _client_first(self, message: str) -> bytes:
        # gs2-header: "n,," or "y,," or "n,a=authzid," then the bare message.
        parts = message.split(",", 2)
        if len(parts) != 3 or parts[0] not in ("n", "y"):
            raise AuthenticationFailed("Invalid SCRAM client-first message")
        authzid = parts[1]
        self._gs2_header = f"{parts[0]},{authzid},"
        self._client_first_bare = parts[2]
        attributes = _attributes(self._client_first_bare)
        if "n" not in attributes or "r" not in attributes:
            raise AuthenticationFailed("Invalid SCRAM client-first message: no name or nonce")
        self._username = _decode_saslname(attributes["n"])
        if authzid and _decode_saslname(authzid.removeprefix("a=")) != self._username:
            raise AuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is "
                "different from username"
            )
        credential = self._lookup(self._username, self._scram)
        if credential is None:
            raise AuthenticationFailed("Authentication failed: Invalid user credentials")
        self._credential = credential
        # Printable without commas, as RFC 5802 asks; hex is the simplest such alphabet.
        self._nonce = attributes["r"] + secrets.token_hex(16)
        self._server_first = f"r={self._nonce},s={_b64(credential.salt)},i={credential.iterations}"
        self._state = "client-final"
        return self._server_first.encode()

    def _client_final(self, message: str) -> bytes:
        assert self._credential is not None
        without_proof, separator, proof_part = message.rpartition(",p=")
        if not separator:
            raise AuthenticationFailed("Invalid SCRAM client-final message: no proof")
        attributes = _attributes(without_proof)
        if attributes.get("r") != self._nonce:
            raise AuthenticationFailed("Invalid SCRAM client-final message: nonce mismatch")
        if attributes.get("c") != _b64(self._gs2_header.encode()):
            raise AuthenticationFailed("Invalid SCRAM client-final message: channel binding")
        try:
            proof = base64.b64decode(proof_part, validate=True)
        except ValueError:
            raise AuthenticationFailed("Invalid SCRAM client-final message: proof") from None
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        client_signature = _hmac(self._scram, self._credential.stored_key, auth_message)
        if len(proof) != len(client_signature):
            raise AuthenticationFailed("Authentication failed: Invalid client final message")
        client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
        computed = hashlib.new(self._scram.hash_name, client_key).digest()
        if not hmac.compare_digest(computed, self._credential.stored_key):
            raise AuthenticationFailed(
                f"Authentication failed during authentication due to invalid credentials "
                f"with SASL mechanism {self.mechanism}"
            )
        server_signature = _hmac(self._scram, self._credential.server_key, auth_message)
        self._state = "complete"
        return f"v={_b64(server_signature)}".encode()

    @property
    def complete(self) -> bool:
        return self._state == "complete"

    @property
    def authorization_id(self) -> str:
        return self._username

    @property
    def attempted_user(self) -> str:
        return self._username
