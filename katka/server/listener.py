"""The Kafka listener: accepts client connections, applies the connection limits, and runs
one Connection per socket until it closes or the broker stops. The only place katka accepts
Kafka clients (the admin HTTP API has its own small listener in katka/admin/server.py)."""

from __future__ import annotations

import asyncio

from katka.config import BrokerConfig
from katka.server.connection import Connection
from katka.server.dispatch import Dispatcher
from katka.server.limits import ConnectionLimiter


class Listener:
    def __init__(self, dispatcher: Dispatcher, config: BrokerConfig) -> None:
        self.dispatcher = dispatcher
        self.config = config
        self.connection_limits = ConnectionLimiter()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: an ephemeral port); returns the bound port."""
        self._server = await asyncio.start_server(
            self._on_connection, host, port, reuse_address=True, backlog=1024
        )
        sockets = list(self._server.sockets or [])
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if peer else "unknown"
        if not self.connection_limits.try_acquire(
            host,
            self.config.get_int("max.connections"),
            self.config.get_int("max.connections.per.ip"),
        ):
            writer.transport.abort()
            return
        connection = Connection(
            reader,
            writer,
            self.dispatcher,
            max_frame_bytes=self.config.get_int("socket.request.max.bytes"),
            max_queued_requests=self.config.get_int("queued.max.requests"),
            max_buffered_bytes=self.config.get_int("katka.connection.max.buffered.bytes"),
        )
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await connection.run()
        except asyncio.CancelledError:
            pass  # broker shutting down
        finally:
            self._connections.discard(task)
            self.connection_limits.release(host)
