"""One client connection: a read loop, and replies written in request order as they complete.

Kafka clients pipeline requests and match responses by order as much as by correlation id, so
responses leave in request order even when one is parked (a JoinGroup waiting for the
rebalance, a Fetch long poll). The read loop keeps decoding while a reply is parked, up to
`queued.max.requests` outstanding replies; then it stops reading, which pushes back on the
client through TCP.

There is no writer task: a reply is written to the transport as soon as it and every reply
before it are ready, by the read loop (a reply answered at once) or by the parked reply's
completion callback. A task switch per reply was a good part of what an idle consumer's
expired long poll cost (issue 17).

Memory per connection is bounded for a client that stops reading its socket: the read loop
awaits `drain()` while the transport holds more than its high-water mark, and also stops
reading while the encoded replies waiting behind a parked one exceed
`katka.connection.max.buffered.bytes` (pipelined Fetch requests are answered at once, so
without this a client that never reads could make the broker hold queued.max.requests full
fetch responses). The bound is that limit plus the high-water mark plus the replies of
requests still parked (at most queued.max.requests). Kafka gets the same effect by muting a
channel until its one in-flight response is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from katka.protocol.codec import EncodedFrame
from katka.protocol.framing import FrameDecoder, FrameError
from katka.security.session import Session
from katka.server.dispatch import CloseConnection, Dispatcher

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
        # Replies owed, in request order: encoded, parked (a future), or nothing (acks=0).
        self._replies: deque[EncodedFrame | asyncio.Future[EncodedFrame]] = deque()
        self._room = asyncio.Event()
        self._room.set()
        self._aborted = False
        transport = writer.transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    async def run(self) -> None:
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
            parked = [reply for reply in self._replies if isinstance(reply, asyncio.Future)]
            if parked and not self._aborted:  # the replies still owed are written first
                await asyncio.wait(parked, timeout=30)
                self._write_ready()
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
        transport = self.writer.transport
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
                if isinstance(reply, EncodedFrame):
                    if not self._replies:  # nothing owed before it: straight to the socket
                        transport.writelines(reply.chunks)
                    else:
                        self._replies.append(reply)
                        self._buffered_bytes += reply.size
                else:
                    self._replies.append(reply)
                    reply.add_done_callback(self._on_parked_reply_done)
                while self._is_full():
                    self._room.clear()
                    await self._room.wait()
                if transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                    await self.writer.drain()

    def _is_full(self) -> bool:
        return (
            len(self._replies) >= self.max_queued_requests
            or self._buffered_bytes > self.max_buffered_bytes
        )

    def _on_parked_reply_done(self, future: asyncio.Future[EncodedFrame]) -> None:
        if not future.cancelled() and future.exception() is None:
            result = future.result()
            if result is not None:
                self._buffered_bytes += result.size
        if self._replies and self._replies[0] is future:
            self._write_ready()

    def _write_ready(self) -> None:
        """Write the replies at the head of the queue that are ready, in request order."""
        replies = self._replies
        while replies and not self._aborted:
            head = replies[0]
            reply: EncodedFrame | None
            if isinstance(head, asyncio.Future):
                if not head.done():
                    break
                if head.cancelled():
                    replies.popleft()
                    continue
                error = head.exception()
                if error is not None:
                    self._abort(error)
                    return
                reply = head.result()
            else:
                reply = head
            replies.popleft()
            if reply is not None:
                self.writer.transport.writelines(reply.chunks)
                self._buffered_bytes -= reply.size
        if not self._room.is_set() and not self._is_full():
            self._room.set()

    def _abort(self, error: BaseException) -> None:
        if isinstance(error, CloseConnection):
            log.info("closing connection from %s: %s", self.client_host, error)
        else:
            log.error(
                "handler failed; closing connection from %s",
                self.client_host,
                exc_info=(type(error), error, error.__traceback__),
            )
        self._aborted = True
        self.writer.transport.abort()
        if not self._room.is_set():
            self._room.set()  # the read loop ends on the closed transport

    def _abandon_parked(self) -> None:
        for reply in self._replies:
            if isinstance(reply, asyncio.Future) and not reply.done():
                reply.cancel()
        self._replies.clear()
