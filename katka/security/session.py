"""One connection's authentication state, as Kafka's SaslServerAuthenticator keeps it.

On a SASL listener a connection starts unauthenticated: only ApiVersions and SaslHandshake may
come first, then only SaslAuthenticate until the mechanism completes; anything else closes
the connection (Kafka's IllegalSaslStateException). A handshake at v0 means the client sends
the mechanism's tokens as bare size-prefixed frames instead of SaslAuthenticate requests
(pre-KIP-152 clients). A failed authentication is answered, and the connection refuses every
further request.

Re-authentication (KIP-368), as Kafka's SaslServerAuthenticator and SocketServer do it: with
`connections.max.reauth.ms` > 0 for the mechanism, a successful authentication gives the
session that lifetime (SaslAuthenticate v1+ reports it, so the client re-authenticates in
time). A SaslHandshake on an authenticated connection starts a re-authentication only when the
session has a lifetime and the last one started at least a second ago; otherwise it is answered
ILLEGAL_SASL_STATE. Re-authentication must keep the mechanism (another one closes the connection
at its first token) and the principal (another one fails it). Any other request arriving after
the lifetime closes the connection; an idle connection is left alone until it sends one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

from katka.security.principal import ANONYMOUS, USER_TYPE, KafkaPrincipal
from katka.security.sasl import AuthenticationFailed, SaslServer, SaslServerFactory

API_VERSIONS_KEY = 18
SASL_HANDSHAKE_KEY = 17
SASL_AUTHENTICATE_KEY = 36


# Kafka refuses a second re-authentication started within a second of the previous one.
MIN_REAUTH_INTERVAL_MS = 1000


class SaslState(enum.Enum):
    HANDSHAKE = "handshake"  # ApiVersions or SaslHandshake expected
    AUTHENTICATE = "authenticate"  # SaslAuthenticate (or a bare token after handshake v0)
    REAUTH_BAD_MECHANISM = "reauth_bad_mechanism"  # re-authentication asked another mechanism
    COMPLETE = "complete"
    FAILED = "failed"


class Session:
    def __init__(
        self,
        listener_name: str = "PLAINTEXT",
        security_protocol: str = "PLAINTEXT",
        principal: KafkaPrincipal = ANONYMOUS,
        mechanisms: Mapping[str, SaslServerFactory] | None = None,
        client_host: str = "",
        reauth_ms: Mapping[str, int] | None = None,
    ) -> None:
        self.listener_name = listener_name
        self.security_protocol = security_protocol
        self.principal = principal
        self.client_host = client_host
        self.mechanisms = dict(mechanisms or {})
        self.uses_sasl = security_protocol.startswith("SASL_")
        self.state = SaslState.HANDSHAKE if self.uses_sasl else SaslState.COMPLETE
        self.raw_tokens = False  # handshake v0: tokens come as bare frames
        self.client_id = ""  # of the last request, for the connection's log lines
        # The last small request's bytes (less its correlation id), client id and decoded body:
        # an idle consumer sends the same Fetch again and again (server/dispatch.py).
        self.last_request: tuple[bytes, str, Any] | None = None
        # The last full Fetch answer that read nothing, while it holds (api/_fetch_memo.py).
        self.remembered_fetch: Any = None
        # Run when the connection closes, once each (a share session opened on the connection
        # closes with it, as Kafka's share session cache does on a disconnect).
        self.on_close: dict[object, Callable[[], None]] = {}
        self._server: SaslServer | None = None
        # mechanism -> connections.max.reauth.ms for it on this listener (0: no lifetime)
        self.reauth_ms = dict(reauth_ms or {})
        self.expires_at_ms: int | None = None  # monotonic; None: the session never expires
        self._previous_mechanism: str | None = None  # set while re-authenticating
        self._reauth_started_ms: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.state is SaslState.COMPLETE

    def allows(self, api_key: int) -> bool:
        """May this request be dispatched now? (False: Kafka closes the connection.)"""
        if self.state is SaslState.COMPLETE:
            return True
        if self.state is SaslState.HANDSHAKE:
            return api_key in (API_VERSIONS_KEY, SASL_HANDSHAKE_KEY)
        if self.state is SaslState.AUTHENTICATE:
            return api_key == SASL_AUTHENTICATE_KEY and not self.raw_tokens
        return False

    @property
    def reauthenticating(self) -> bool:
        return self._previous_mechanism is not None

    def expired(self, now_ms: int) -> bool:
        """Has an authenticated session outlived connections.max.reauth.ms?"""
        return (
            self.state is SaslState.COMPLETE
            and self.expires_at_ms is not None
            and now_ms > self.expires_at_ms
        )

    def maybe_begin_reauthentication(self, now_ms: int) -> bool:
        """A SaslHandshake on an authenticated connection: True when it starts a
        re-authentication (Kafka's KafkaChannel.maybeBeginServerReauthentication)."""
        if self.state is not SaslState.COMPLETE or self.expires_at_ms is None:
            return False
        started = self._reauth_started_ms
        if started is not None and now_ms - started < MIN_REAUTH_INTERVAL_MS:
            return False
        self._reauth_started_ms = now_ms
        self._previous_mechanism = self.mechanism
        self.state = SaslState.HANDSHAKE
        return True

    def start_handshake(self, mechanism: str, raw_tokens: bool) -> bool:
        """SaslHandshake: False when the mechanism is not enabled on this listener."""
        factory = self.mechanisms.get(mechanism)
        if factory is None:
            self.state = SaslState.FAILED
            return False
        if self.reauthenticating and mechanism != self._previous_mechanism:
            # Kafka answers the handshake, then closes the connection at the next token.
            self.state = SaslState.REAUTH_BAD_MECHANISM
            return True
        self._server = factory()
        self.raw_tokens = raw_tokens
        self.state = SaslState.AUTHENTICATE
        return True

    def authenticate(self, token: bytes, now_ms: int = 0) -> bytes:
        """One client token; returns the server's. Raises AuthenticationFailed (the session
        is then failed for good). On success the session's lifetime starts at now_ms."""
        if self._server is None or self.state is not SaslState.AUTHENTICATE:
            self.state = SaslState.FAILED
            raise AuthenticationFailed("Unexpected SASL token: no handshake in progress")
        try:
            challenge = self._server.evaluate(token)
        except AuthenticationFailed:
            self.state = SaslState.FAILED
            raise
        if self._server.complete:
            principal = KafkaPrincipal(USER_TYPE, self._server.authorization_id)
            if self.reauthenticating and principal != self.principal:
                self.state = SaslState.FAILED  # KIP-368: re-authentication keeps the principal
                raise AuthenticationFailed(
                    f"Cannot change principals during re-authentication from {self.principal}: "
                    f"{principal}"
                )
            self.principal = principal
            self.state = SaslState.COMPLETE
            self.raw_tokens = False
            self._previous_mechanism = None
            lifetime_ms = self.session_lifetime_ms
            self.expires_at_ms = now_ms + lifetime_ms if lifetime_ms > 0 else None
        return challenge

    @property
    def session_lifetime_ms(self) -> int:
        """What SaslAuthenticate reports once the mechanism completes (0: no lifetime)."""
        mechanism = self.mechanism
        return max(0, self.reauth_ms.get(mechanism, 0)) if mechanism is not None else 0

    @property
    def attempted_user(self) -> str:
        return self._server.attempted_user if self._server is not None else ""

    @property
    def mechanism(self) -> str | None:
        return self._server.mechanism if self._server is not None else None
