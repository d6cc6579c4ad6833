"""What a handler knows about the request besides its body."""

from __future__ import annotations

from dataclasses import dataclass, field

from katka.security.principal import KafkaPrincipal
from katka.security.session import Session


@dataclass(frozen=True, slots=True)
class RequestContext:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str
    client_host: str
    # The connection's authentication state: its listener, its principal, its SASL exchange.
    session: Session = field(default_factory=Session)

    @property
    def principal(self) -> KafkaPrincipal:
        return self.session.principal
