"""SaslAuthenticate (key 36), v0-2: one SASL token each way (KIP-152).

A failed exchange answers SASL_AUTHENTICATION_FAILED with the mechanism's message (never a
password) after `connection.failed.authentication.delay.ms`, as Kafka delays it to slow down
password guessing; the connection then refuses every further request. The failure is logged
with the mechanism and the client's address. session_lifetime_ms (v1+) is the mechanism's
`connections.max.reauth.ms` on the listener (0: the session does not expire); a client that
supports KIP-368 re-authenticates before it passes (security/session.py). After a completed
authentication (and outside a re-authentication) the request is ILLEGAL_SASL_STATE, as Kafka's
KafkaApis answers it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from katka.api._build import make, response_module, timedelta_ms
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.security.sasl import AuthenticationFailed
from katka.security.session import SaslState

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 36
VERSIONS = range(0, 3)

log = logging.getLogger("katka.security")


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    session = ctx.session
    if not session.uses_sasl:
        return make(
            m.SaslAuthenticateResponse,
            error_code=ErrorCode.illegal_sasl_state,
            error_message="SaslAuthenticate on a listener without SASL",
            auth_bytes=b"",
        )
    if session.state is SaslState.COMPLETE:
        return make(
            m.SaslAuthenticateResponse,
            error_code=ErrorCode.illegal_sasl_state,
            error_message="SaslAuthenticate request received after successful authentication",
            auth_bytes=b"",
        )
    reauthenticating = session.reauthenticating
    try:
        challenge = session.authenticate(request.auth_bytes, node.clock.monotonic_ms())
    except AuthenticationFailed as failure:
        log.info(
            "Failed %s of User:%s with %s (mechanism %s, listener %s): %s",
            "re-authentication" if reauthenticating else "authentication",
            session.attempted_user,
            ctx.client_host,
            session.mechanism,
            session.listener_name,
            failure,
        )
        response = make(
            m.SaslAuthenticateResponse,
            error_code=ErrorCode.sasl_authentication_failed,
            error_message=str(failure),
            auth_bytes=b"",
        )
        return _after_delay(
            node.config.get_int("connection.failed.authentication.delay.ms"), response
        )
    lifetime_ms = 0
    if session.authenticated:
        lifetime_ms = session.session_lifetime_ms
        log.debug(
            "%s %s as %s (session lifetime %d ms)",
            ctx.client_host,
            "re-authenticated" if reauthenticating else "authenticated",
            session.principal,
            lifetime_ms,
        )
    return make(
        m.SaslAuthenticateResponse,
        error_code=ErrorCode.none,
        error_message=None,
        auth_bytes=challenge,
        session_lifetime=timedelta_ms(lifetime_ms),
    )


async def _after_delay(delay_ms: int, response: Any) -> Any:
    await asyncio.sleep(delay_ms / 1000)
    return response
