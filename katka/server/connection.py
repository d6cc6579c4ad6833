"""One client connection: frames read as they arrive, replies written in request order as they
complete.

Kafka clients pipeline requests and match responses by order as much as by correlation id, so
responses leave in request order even when one is parked (a JoinGroup waiting for the
rebalance, a Fetch long poll). Frames keep being dispatched while a reply is parked, up to
`queued.max.requests` outstanding replies; then the connection stops reading, which pushes
back on the client through TCP.

The connection is an asyncio Protocol, not a task over a stream: a frame is dispatched from
the transport's `data_received` and a reply written to the transport as soon as it and every
reply before it are ready, so a request costs no task switch and no stream buffering (an
idle consumer's expired long poll was mostly such machinery, issue 17).

Memory per connection is bounded for a client that stops reading its socket: reading pauses
while the transport holds more than its high-water mark (`pause_writing`), and also while the
encoded replies waiting behind a parked one exceed `katka.connection.max.buffered.bytes`
(pipelined Fetch requests are answered at once, so without this a client that never reads
could make the broker hold queued.max.requests full fetch responses). The bound is that limit
plus the high-water mark plus the replies of requests still parked (at most
queued.max.requests). Kafka gets the same effect by muting a channel until its one in-flight
response is sent. A client over its quota is muted the same way, for its throttle time.

When the client closes its side (or sends what Kafka would close the connection for), the
replies still parked are written as they complete, for up to 30 s, before the connection
closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import cast

from katka.protocol.codec import EncodedFrame
from katka.protocol.framing import FrameDecoder, FrameError
from katka.security.session import Session
from katka.server.dispatch import CloseConnection, Dispatcher

log = logging.getLogger("katka.server")

WRITE_HIGH_WATER = 4 * 1024 * 1024
PARKED_REPLIES_AT_CLOSE_S = 30.0


class Connection(asyncio.Protocol):
    def __init__(
        self,
        dispatcher: Dispatcher,
        max_frame_bytes: int,
        max_queued_requests: int,
        max_buffered_bytes: int = 16 * 1024 * 1024,
        admit: Callable[[Connection, asyncio.BaseTransport], Session | None] | None = None,
        on_closed: Callable[[Connection], None] | None = None,
    ) -> None:
        """`admit`: the connection's session, or None to refuse it (limits, a certificate
        no rule maps); `on_closed`: called once when the transport is gone."""
        self.dispatcher = dispatcher
        self.decoder = FrameDecoder(max_frame_bytes)
        self.max_frame_bytes = max_frame_bytes
        self.max_queued_requests = max_queued_requests
        self.max_buffered_bytes = max_buffered_bytes
        self._admit = admit
        self._on_closed = on_closed
        self._buffered_bytes = 0  # encoded replies queued behind a parked one
        self.client_host = "unknown"
        self.client_port = 0
        self.session = Session()
        self.transport: asyncio.Transport | None = None
        # Replies owed, in request order: encoded, parked (a future), or nothing (acks=0).
        self._replies: deque[EncodedFrame | asyncio.Future[EncodedFrame]] = deque()
        self._reading_paused = False
        self._writing_paused = False
        self._muted: asyncio.TimerHandle | None = None
        self._processing = False
        self._reading_done = False  # the client closed its side, or we decided to close
        self._close_timer: asyncio.TimerHandle | None = None
        self._aborted = False
        self._opened = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # --- transport events -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass
        peer = transport.get_extra_info("peername")
        self.client_host = str(peer[0]) if peer else "unknown"
        self.client_port = int(peer[1]) if peer else 0
        session = self._admit(self, transport) if self._admit is not None else Session()
        if session is None:
            self._aborted = True
            transport.abort()
            return
        self.session = session
        if not session.client_host:
            session.client_host = self.client_host
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self._opened = True
        self.dispatcher.node.stats.connection_opened()
        log.debug(
            "connection from %s:%d opened on listener %s",
            self.client_host,
            self.client_port,
            session.listener_name,
        )

    def data_received(self, data: bytes) -> None:
        if self._reading_done:
            return
        self.decoder.receive_data(data)
        self._process()

    def eof_received(self) -> bool:
        """The client closed its side: what it is owed is still written (over plain TCP)."""
        self._stop_reading()
        self._maybe_finish()
        return bool(self._replies)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_reading()
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._muted is not None:
            self._muted.cancel()
        self._abandon_parked()
        if self._opened:
            log.debug(
                "connection from %s:%d (client id %r) closed",
                self.client_host,
                self.client_port,
                self.session.client_id,
            )
        if not self.closed.done():
            self.closed.set_result(None)
        if self._on_closed is not None:
            self._on_closed(self)

    def close(self) -> None:
        """The broker stops: read nothing more, write what is owed (as a client's close)."""
        self._stop_reading()
        self._maybe_finish()

    # --- reading ----------------------------------------------------------------------------

    def _process(self) -> None:
        """Dispatch the frames received, until there are none or the connection must wait
        (full, the transport's buffer above its mark, muted)."""
        if self._processing:
            return
        self._processing = True
        try:
            self._dispatch_frames()
        except (FrameError, CloseConnection) as error:
            log.info("closing connection from %s: %s", self.client_host, error)
            self._stop_reading()
            self._maybe_finish()
        except Exception:
            log.exception("unexpected error on connection from %s", self.client_host)
            self._stop_reading()
            self._maybe_finish()
        finally:
            self._processing = False

    def _dispatch_frames(self) -> None:
        transport = self.transport
        assert transport is not None
        dispatcher = self.dispatcher
        session = self.session
        throttling = dispatcher.throttling
        while not self._reading_done:
            if self._writing_paused or self._is_full() or self._muted is not None:
                self._pause_reading()
                return
            muted_s = throttling.muted_for(session)
            if muted_s > 0:  # a client over its quota: nothing read until it has passed
                self._pause_reading()
                loop = asyncio.get_running_loop()
                self._muted = loop.call_later(muted_s, self._unmute)
                return
            frame = self.decoder.next_frame()
            if frame is None:
                self._resume_reading()
                return
            reply = dispatcher.dispatch(frame, self.client_host, session)
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

    def _unmute(self) -> None:
        self._muted = None
        self._process()

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()

    def _stop_reading(self) -> None:
        """Read no more: the close callbacks run now (a share session opened on the
        connection closes with it, as Kafka's share session cache does)."""
        if self._reading_done:
            return
        self._reading_done = True
        if self._opened:
            self.dispatcher.node.stats.connection_closed()
        self._pause_reading()
        callbacks, self.session.on_close = self.session.on_close, {}
        for callback in callbacks.values():
            try:
                callback()
            except Exception:
                log.exception("a close callback failed (connection from %s)", self.client_host)

    def _is_full(self) -> bool:
        return (
            len(self._replies) >= self.max_queued_requests
            or self._buffered_bytes > self.max_buffered_bytes
        )

    # --- writing ----------------------------------------------------------------------------

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
        transport = self.transport
        assert transport is not None
        was_full = self._is_full()
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
                transport.writelines(reply.chunks)
                self._buffered_bytes -= reply.size
        if self._reading_done:
            self._maybe_finish()
        elif was_full and not self._is_full():
            self._process()

    def _maybe_finish(self) -> None:
        """Reading is done: close once nothing parked is owed (or 30 s have passed)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not self._replies:
            transport.close()  # after what is buffered is written
        elif self._close_timer is None:
            loop = asyncio.get_running_loop()
            self._close_timer = loop.call_later(PARKED_REPLIES_AT_CLOSE_S, self._give_up)

    def _give_up(self) -> None:
        """Parked replies still owed 30 s after the close: dropped."""
        self._abandon_parked()
        if self.transport is not None:
            self.transport.close()

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
        self._stop_reading()
        if self.transport is not None:
            self.transport.abort()

    def _abandon_parked(self) -> None:
        replies, self._replies = self._replies, deque()
        for reply in replies:
            if isinstance(reply, asyncio.Future) and not reply.done():
                reply.cancel()
