"""SaslHandshake (key 17), v0-1: the client names its SASL mechanism.

v1 is followed by SaslAuthenticate requests (KIP-152); v0 by the mechanism's tokens as bare
size-prefixed frames, which dispatch hands to the session. An unknown or disabled mechanism is
UNSUPPORTED_SASL_MECHANISM with the enabled list, and the connection refuses anything more, as
Kafka closes it. On a listener without SASL, or on an authenticated connection
whose session did not start a re-authentication (KIP-368, security/session.py), the request is
ILLEGAL_SASL_STATE, as Kafka's KafkaApis answers it there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.security.session import SaslState

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 17
VERSIONS = range(0, 2)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    session = ctx.session
    enabled = tuple(session.mechanisms)
    if not session.uses_sasl or session.state is SaslState.COMPLETE:
        return make(m.SaslHandshakeResponse, error_code=ErrorCode.illegal_sasl_state, mechanisms=())
    if not session.start_handshake(request.mechanism, raw_tokens=ctx.api_version == 0):
        return make(
            m.SaslHandshakeResponse,
            error_code=ErrorCode.unsupported_sasl_mechanism,
            mechanisms=enabled,
        )
    return make(m.SaslHandshakeResponse, error_code=ErrorCode.none, mechanisms=enabled)
