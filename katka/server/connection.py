"""One client connection: a read loop and a FIFO writer.

Kafka clients pipeline requests and match responses by order as much as by correlation id, so
responses leave in request order even when one is parked (a JoinGroup waiting for the
rebalance, a Fetch long poll). The read loop keeps decoding while a reply is parked, up to
`queued.max.requests` outstanding replies; then it stops reading, which pushes back on the
client through TCP.

Memory per connection is bounded for a client that stops reading its socket: the writer awaits
`drain()` above the transport's high-water mark, and the read loop also stops reading while
the encoded replies waiting for the writer exceed `katka.connection.max.buffered.bytes`
(pipelined Fetch requests are answered at once, so without this a client that never reads
could make the broker hold queued.max.requests full fetch responses). The bound is that limit
plus the high-water mark plus the replies of requests still parked (at most
queued.max.requests). Kafka gets the same effect by muting a channel until its one in-flight
response is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from katka.protocol.codec import EncodedFrame
from katka.protocol.framing import FrameDecoder, FrameError
from katka.security.session import Session
from katka.server.dispatch import CloseConnection, Dispatcher, Reply

log = logging.getLogger("katka.server")

READ_CHUNK = 256 * 1024
WRITE_HIGH_WATER = 4 * 1024 * 1024


class Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        dispatcher: Dispatcher,
        max_frame_bytes: int,
        max_queued_requests: int,
        max_buffered_bytes: int = 16 * 1024 * 1024,
        session: Session | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.dispatcher = dispatcher
        self.decoder = FrameDecoder(max_frame_bytes)
        self.max_queued_requests = max_queued_requests
        self.max_buffered_bytes = max_buffered_bytes
        self._buffered_bytes = 0  # encoded replies queued for the writer
        peer = writer.get_extra_info("peername")
        self.client_host = peer[0] if peer else "unknown"
        self.client_port = peer[1] if peer else 0
        self.session = session or Session(client_host=self.client_host)
        self._replies: deque[Reply] = deque()
        self._reply_ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        transport = writer.transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    async def run(self) -> None:
        writer_task = asyncio.create_task(self._write_loop())
        stats = self.dispatcher.node.stats
        stats.connection_opened()
        address = f"{self.client_host}:{self.client_port}"
        log.debug("connection from %s opened on listener %s", address, self.session.listener_name)
        try:
            await self._read_loop()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except FrameError as error:
            log.info("closing connection from %s: %s", self.client_host, error)
        except CloseConnection as error:
            log.info("closing connection from %s: %s", self.client_host, error)
        except Exception:
            log.exception("unexpected error on connection from %s", self.client_host)
        finally:
            stats.connection_closed()
            self._run_close_callbacks()
            self._closing = True
            self._reply_ready.set()
            try:
                await asyncio.wait_for(writer_task, timeout=30)
            except (TimeoutError, Exception):
                writer_task.cancel()
            self._abandon_parked()
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except Exception:
                pass
            log.debug("connection from %s (client id %r) closed", address, self.session.client_id)

    def _run_close_callbacks(self) -> None:
        callbacks, self.session.on_close = self.session.on_close, {}
        for callback in callbacks.values():
            try:
                callback()
            except Exception:
                log.exception("a close callback failed (connection from %s)", self.client_host)

    async def _read_loop(self) -> None:
        while True:
            data = await self.reader.read(READ_CHUNK)
            if not data:
                return
            self.decoder.receive_data(data)
            while (frame := self.decoder.next_frame()) is not None:
                muted_s = self.dispatcher.throttling.muted_for(self.session)
                if muted_s > 0:  # a client over its quota: nothing read until it has passed
                    await asyncio.sleep(muted_s)
                reply = self.dispatcher.dispatch(frame, self.client_host, self.session)
                if reply is None:
                    continue
                self._replies.append(reply)
                if isinstance(reply, EncodedFrame):
                    self._buffered_bytes += reply.size
                elif isinstance(reply, asyncio.Future):
                    reply.add_done_callback(self._on_parked_reply_done)
                self._reply_ready.set()
                while self._is_full():
                    self._room.clear()
                    await self._room.wait()

    def _is_full(self) -> bool:
        return (
            len(self._replies) >= self.max_queued_requests
            or self._buffered_bytes > self.max_buffered_bytes
        )

    def _on_parked_reply_done(self, future: asyncio.Future[EncodedFrame | None]) -> None:
        if not future.cancelled() and future.exception() is None:
            result = future.result()
            if result is not None:
                self._buffered_bytes += result.size

    async def _write_loop(self) -> None:
        while True:
            while not self._replies:
                if self._closing:
                    return
                self._reply_ready.clear()
                await self._reply_ready.wait()
            reply = self._replies[0]
            counted = isinstance(reply, EncodedFrame | asyncio.Future)
            if reply is not None and not isinstance(reply, EncodedFrame):
                try:
                    reply = await reply
                except CloseConnection as error:
                    log.info("closing connection from %s: %s", self.client_host, error)
                    self._closing = True
                    self.writer.transport.abort()
                    return
                except Exception:
                    log.exception("handler failed; closing connection from %s", self.client_host)
                    self.writer.transport.abort()
                    return
            self._replies.popleft()
            if reply is None:
                self._maybe_make_room()
                continue
            self.writer.writelines(reply.chunks)
            if counted:
                self._buffered_bytes -= reply.size
            self._maybe_make_room()
            if self.writer.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                await self.writer.drain()

    def _maybe_make_room(self) -> None:
        if not self._room.is_set() and not self._is_full():
            self._room.set()

    def _abandon_parked(self) -> None:
        for reply in self._replies:
            if isinstance(reply, asyncio.Future | asyncio.Task) and not reply.done():
                reply.cancel()
        self._replies.clear()
