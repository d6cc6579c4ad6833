"""The SASL server side of one exchange, as Kafka's SaslServer implementations behave.

A mechanism is a small state machine over the client's tokens: `evaluate(token)` returns the
server's next token or raises AuthenticationFailed; `complete` says whether the client is
authenticated, and `authorization_id` then names it. PLAIN lives here; SCRAM in scram.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol


class AuthenticationFailed(Exception):
    """The client's credentials are wrong; the message is safe to send and to log (it never
    holds a password)."""


class SaslServer(Protocol):
    mechanism: str

    def evaluate(self, token: bytes) -> bytes: ...

    @property
    def complete(self) -> bool: ...

    @property
    def authorization_id(self) -> str: ...

    @property
    def attempted_user(self) -> str:
        """The user name the client gave, for the failed-authentication log ("" if none)."""
        ...


# mechanism name -> a fresh server for one exchange
SaslServerFactory = Callable[[], SaslServer]


class PlainServer:
    """RFC 4616: one message `authzid NUL authcid NUL passwd`, checked against the JAAS users
    (`user_NAME="password"` options of PlainLoginModule)."""

    mechanism = "PLAIN"

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = users
        self._username: str | None = None
        self.attempted_user = ""

    def evaluate(self, token: bytes) -> bytes:
        if self._username is not None:
            raise AuthenticationFailed("Authentication failed: PLAIN exchange already complete")
        parts = token.split(b"\x00")
        if len(parts) != 3:
            raise AuthenticationFailed("Invalid SASL/PLAIN response: expected 3 tokens")
        try:
            authzid, username, password = (part.decode() for part in parts)
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid SASL/PLAIN response: not UTF-8") from None
        if not username:
            raise AuthenticationFailed("Authentication failed: username not specified")
        self.attempted_user = username
        expected = self._users.get(username)
        import hmac  # here: a plaintext broker never loads OpenSSL's hashes

        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise AuthenticationFailed("Authentication failed: Invalid username or password")
        if authzid and authzid != username:
            raise AuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is "
                "different from username"
            )
        self._username = username
        return b""

    @property
    def complete(self) -> bool:
        return self._username is not None

    @property
    def authorization_id(self) -> str:
        assert self._username is not None
        return self._username
