"""The Kafka listener: accepts client connections, applies the connection limits, and runs
one Connection per socket until it closes or the broker stops. The only place katka accepts
Kafka clients (the admin HTTP API has its own small listener in katka/admin/server.py).

One Listener per entry of `listeners`; on SSL and SASL_SSL ones asyncio does the TLS handshake
before the connection is handed over, and each connection gets its Session (the listener's
SASL mechanisms, the principal of its client certificate)."""

from __future__ import annotations

import asyncio
import logging
import socket

from katka.config import BrokerConfig
from katka.security.listeners import ListenerSecurity, ListenerSpec
from katka.security.session import Session
from katka.server.connection import Connection
from katka.server.dispatch import Dispatcher
from katka.server.limits import ConnectionLimiter

log = logging.getLogger("katka.server")

TLS_HANDSHAKE_TIMEOUT_S = 10.0


def bind_early(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket (0: an ephemeral port) for a server started later: its
    address is fixed and reported now, and its first connections wait in the kernel's queue
    meanwhile (the admin API binds with the Kafka listener and serves once loaded)."""
    return socket.create_server((host, port), backlog=128)


class Listener:
    def __init__(
        self,
        dispatcher: Dispatcher,
        config: BrokerConfig,
        security: ListenerSecurity | None = None,
        connection_limits: ConnectionLimiter | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.config = config
        self.security = security
        # Shared by every listener: max.connections is broker-wide.
        self.connection_limits = connection_limits or ConnectionLimiter()
        self._server: asyncio.Server | None = None
        self._connections: dict[Connection, str] = {}  # admitted, with their client's host

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: an ephemeral port); returns the bound port."""
        context = self.security.ssl_context if self.security is not None else None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_connection,
            host,
            port,
            reuse_address=True,
            backlog=1024,
            ssl=context,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S if context is not None else None,
        )
        sockets = list(self._server.sockets or [])
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def stop(self) -> None:
        """Accept no more; each connection writes what it owes (its parked replies, for up to
        30 s) and closes."""
        if self._server is not None:
            self._server.close()
        connections = list(self._connections)
        for connection in connections:
            connection.close()
        await asyncio.gather(*(c.closed for c in connections), return_exceptions=True)

    def _new_connection(self) -> Connection:
        return Connection(
            self.dispatcher,
            max_frame_bytes=self.config.get_int("socket.request.max.bytes"),
            max_queued_requests=self.config.get_int("queued.max.requests"),
            max_buffered_bytes=self.config.get_int("katka.connection.max.buffered.bytes"),
            admit=self._admit,
            on_closed=self._closed,
        )

    def _admit(self, connection: Connection, transport: asyncio.BaseTransport) -> Session | None:
        """The connection's session, or None when the limits or its certificate refuse it."""
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else "unknown"
        if not self.connection_limits.try_acquire(
            host,
            self.config.get_int("max.connections"),
            self.config.get_int("max.connections.per.ip"),
        ):
            return None
        session = self._new_session(host, transport)
        if session is None:
            self.connection_limits.release(host)
            return None
        self._connections[connection] = host
        return session

    def _closed(self, connection: Connection) -> None:
        host = self._connections.pop(connection, None)
        if host is not None:
            self.connection_limits.release(host)

    def _new_session(self, host: str, transport: asyncio.BaseTransport) -> Session | None:
        """The connection's starting security state (None: refuse it, as Kafka does when the
        certificate's subject matches no ssl.principal.mapping.rules)."""
        if self.security is None:
            return Session(client_host=host)
        spec: ListenerSpec = self.security.spec
        try:
            principal = self.security.tls_principal(transport.get_extra_info("peercert"))
        except ValueError as error:
            log.info("Failed authentication with %s (listener %s): %s", host, spec.name, error)
            return None
        return Session(
            spec.name,
            spec.security_protocol,
            principal,
            self.security.mechanisms,
            host,
            self.security.reauth_ms,
        )
