"""One connection's authentication state, as Kafka's SaslServerAuthenticator keeps it.

On a SASL listener a connection starts unauthenticated: only ApiVersions and SaslHandshake may
come first, then only SaslAuthenticate until the mechanism completes; anything else closes
the connection (Kafka's IllegalSaslStateException). A handshake at v0 means the client sends
the mechanism's tokens as bare size-prefixed frames instead of SaslAuthenticate requests
(pre-KIP-152 clients). A failed authentication is answered, and the connection refuses every
further request. After success a SaslHandshake starts a re-authentication (KIP-368) that keeps
the principal.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from katka.security.principal import ANONYMOUS, USER_TYPE, KafkaPrincipal
from katka.security.sasl import AuthenticationFailed, SaslServer, SaslServerFactory

API_VERSIONS_KEY = 18
SASL_HANDSHAKE_KEY = 17
SASL_AUTHENTICATE_KEY = 36


class SaslState(enum.Enum):
    HANDSHAKE = "handshake"  # ApiVersions or SaslHandshake expected
    AUTHENTICATE = "authenticate"  # SaslAuthenticate (or a bare token after handshake v0)
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
        self._server: SaslServer | None = None

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

    def start_handshake(self, mechanism: str, raw_tokens: bool) -> bool:
        """SaslHandshake: False when the mechanism is not enabled on this listener."""
        factory = self.mechanisms.get(mechanism)
        if factory is None:
            self.state = SaslState.FAILED
            return False
        self._server = factory()
        self.raw_tokens = raw_tokens
        self.state = SaslState.AUTHENTICATE
        return True

    def authenticate(self, token: bytes) -> bytes:
        """One client token; returns the server's. Raises AuthenticationFailed (the session
        is then failed for good)."""
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
            if self.principal != ANONYMOUS and principal != self.principal:
                self.state = SaslState.FAILED  # KIP-368: re-authentication keeps the principal
                raise AuthenticationFailed("Cannot change principals during re-authentication")
            self.principal = principal
            self.state = SaslState.COMPLETE
            self.raw_tokens = False
        return challenge

    @property
    def attempted_user(self) -> str:
        return self._server.attempted_user if self._server is not None else ""

    @property
    def mechanism(self) -> str | None:
        return self._server.mechanism if self._server is not None else None
