"""An idle consumer's repeated long poll, parked without a request's machinery (issue 17).

A consumer long-polling an empty partition sends the same Fetch every max wait (500 ms for
most clients): 1,000 idle consumers are 2,000 requests a second, each parked and answered
empty when its time is up. When a connection's Fetch is its last one byte for byte but for
the correlation id, and the answer remembered for it still holds (api/_fetch_memo.py), the
dispatcher parks it here instead of handling it: no request context, task or coroutine; one
shared timer per tick of deadlines instead of one per poll; and the expired poll answered
with the remembered response's bytes, its correlation id patched in.

What holds as on the full path: the poll waits on its own partitions (AppendNotifier), and
a change to one of them wakes it at once; it is then handled as the Fetch it is, with the
wait it has left (it answers the record, or parks again on the full path). A poll is
answered at most one tick (2% of its max wait, 1-10 ms) after its max wait, never before.
A closed connection cancels its parked polls, which drops them from the partitions and the
timer. Counted in the Fetch request metrics. Not taken (the full path runs) under an
authorizer, with client quotas configured, on a SASL session with a lifetime, or with debug
logging on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from katka.api._appends import TopicPartition
from katka.api._fetch_memo import RememberedFetch
from katka.api.context import RequestContext
from katka.node import Node
from katka.protocol.codec import EncodedFrame, encode_response, read_fixed_header
from katka.security.session import SaslState, Session
from katka.server.throttling import Throttling

log = logging.getLogger("katka.server")

FETCH_KEY = 1
# How late an expired poll may be answered: 2% of its max wait, between 1 ms (Kafka's
# purgatory's tick) and 10 ms. One loop timer per tick that has deadlines: a 500 ms poll's
# tick of 10 ms is shared by ~20 polls of 1,000 idle consumers, where a 1 ms tick for all cost
# ~6 µs more per poll; a 10 ms tick for all stretched a 10 ms wait by half.
LATE_SHARE = 50
MIN_TICK_MS, MAX_TICK_MS = 1, 10


class TimerWheel:
    """Deadlines rounded up to their tick (whole milliseconds), one loop timer per tick that
    has any."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._ticks: dict[int, dict[IdlePoll, None]] = {}

    def add(self, poll: IdlePoll, deadline: float, max_wait_ms: float) -> int:
        tick_ms = min(max(int(max_wait_ms) // LATE_SHARE, MIN_TICK_MS), MAX_TICK_MS)
        due_ms = math.ceil(deadline * 1000 / tick_ms) * tick_ms
        polls = self._ticks.get(due_ms)
        if polls is None:
            polls = self._ticks[due_ms] = {}
            self.loop.call_at(due_ms / 1000, self._expire, due_ms)
        polls[poll] = None
        return due_ms

    def remove(self, poll: IdlePoll, tick: int) -> None:
        polls = self._ticks.get(tick)
        if polls is not None:
            polls.pop(poll, None)

    def _expire(self, tick: int) -> None:
        for poll in self._ticks.pop(tick, ()):
            try:
                poll.expire()
            except Exception as error:  # that poll's connection closes; the others are answered
                if not poll.done():
                    poll.set_exception(error)

    def __len__(self) -> int:
        """Polls waiting on the wheel (for tests)."""
        return sum(len(polls) for polls in self._ticks.values())


class IdlePoll(asyncio.Future):  # type: ignore[type-arg]
    """One parked idle Fetch: the connection's reply, done when the poll is answered."""

    def __init__(
        self,
        parking: IdleFetches,
        session: Session,
        client_id: str,
        memo: RememberedFetch,
        frame: bytes,
        deadline: float,
        max_wait_ms: float,
    ) -> None:
        super().__init__(loop=parking.wheel.loop)
        self.parking = parking
        self.session = session
        self.client_id = client_id
        self.memo = memo
        self.frame = frame
        self.deadline = deadline
        self.started = time.perf_counter()
        self.tick = parking.wheel.add(self, deadline, max_wait_ms)
        self.handled: asyncio.Future[Any] | None = None  # the full path, once woken
        parking.appends.watch(self, memo.partitions)

    def expire(self) -> None:
        """The max wait passed with nothing new: the remembered answer."""
        if self.done():
            return
        parking = self.parking
        parking.appends.unwatch(self, self.memo.partitions)
        parking.stats.latency.observe(time.perf_counter() - self.started)
        self.set_result(parking.answer(self.memo, self.frame))

    def on_change(self, partition: TopicPartition) -> None:
        """One of the fetch's partitions changed (AppendNotifier): handle it as a Fetch with
        the wait left, once the change is complete (the next loop turn)."""
        if self.done() or self.tick < 0:
            return
        self.parking.wheel.remove(self, self.tick)
        self.tick = -1
        self.parking.appends.unwatch(self, self.memo.partitions)
        self.get_loop().call_soon(self._handle)

    def _handle(self) -> None:
        if self.done():
            return
        try:
            reply = self.parking.handle(self)
        except BaseException as error:  # as a handler's failure on the full path
            self.set_exception(error)
            return
        if isinstance(reply, asyncio.Future):
            self.handled = reply
            reply.add_done_callback(self._handled)
        else:
            self.set_result(reply)

    def _handled(self, reply: asyncio.Future[Any]) -> None:
        if self.done():
            return
        if reply.cancelled():
            self.cancel()
        elif (error := reply.exception()) is not None:
            self.set_exception(error)
        else:
            self.set_result(reply.result())

    def cancel(self, msg: Any = None) -> bool:
        """The connection closed: off the partitions and the timer."""
        if not self.done():
            if self.tick >= 0:
                self.parking.wheel.remove(self, self.tick)
                self.parking.appends.unwatch(self, self.memo.partitions)
                self.tick = -1
            if self.handled is not None:
                self.handled.cancel()
        return super().cancel(msg)


class IdleFetches:
    """The dispatcher's way around itself for an idle consumer's same Fetch."""

    def __init__(self, node: Node, throttling: Throttling, handle: Callable[..., Any]) -> None:
        """`handle`: the dispatcher's, for a woken poll."""
        self.node = node
        self.throttling = throttling
        self.handle_request = handle
        self.appends = node.appends
        self.stats = node.stats.api(FETCH_KEY)
        self._wheel: TimerWheel | None = None

    @property
    def wheel(self) -> TimerWheel:
        if self._wheel is None:
            self._wheel = TimerWheel(asyncio.get_running_loop())
        return self._wheel

    def park(self, frame: bytes, session: Session) -> EncodedFrame | IdlePoll | None:
        """The reply to this frame when it is the connection's idle Fetch again (parked, or
        answered at once when it does not wait); None: dispatch it."""
        memo: RememberedFetch | None = session.remembered_fetch
        last = session.last_request
        if memo is None or last is None or last[2] is not memo.decoded:
            return None
        if last[0] != frame[:4] + frame[8:]:  # all but the correlation id
            return None
        node = self.node
        if (
            session.state is not SaslState.COMPLETE
            or session.expires_at_ms is not None
            or node.authorizer.enabled
            or not self.throttling.quotas.store.empty
            or log.isEnabledFor(logging.DEBUG)
            or not memo.still_holds(node)
        ):
            return None
        self.stats.requests += 1
        request = memo.request
        max_wait_ms = request.max_wait.total_seconds() * 1000
        if max_wait_ms <= 0 or request.min_bytes <= 0:
            self.stats.latency.observe(0.0)
            return self.answer(memo, frame)
        deadline = self.wheel.loop.time() + max_wait_ms / 1000
        return IdlePoll(self, session, last[1], memo, frame, deadline, max_wait_ms)

    def answer(self, memo: RememberedFetch, frame: bytes) -> EncodedFrame:
        """The remembered response, with this request's correlation id."""
        if memo.encoded is None:
            version = read_fixed_header(frame).api_version
            whole = b"".join(encode_response(FETCH_KEY, version, 0, memo.response).chunks)
            memo.encoded = (whole[:4], whole[8:])
        before, after = memo.encoded
        return EncodedFrame.whole(before + frame[4:8] + after)

    def handle(self, poll: IdlePoll) -> Any:
        """A woken poll, handled as the Fetch it is with the wait it has left."""
        fixed = read_fixed_header(poll.frame)
        context = RequestContext(
            api_key=FETCH_KEY,
            api_version=fixed.api_version,
            correlation_id=fixed.correlation_id,
            client_id=poll.client_id,
            client_host=poll.session.client_host,
            session=poll.session,
        )
        left_ms = max(0, math.ceil((poll.deadline - poll.get_loop().time()) * 1000))
        return self.handle_request(
            FETCH_KEY, context, poll.memo.decoded, len(poll.frame), True, max_wait_ms=left_ms
        )
