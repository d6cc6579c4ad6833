"""An idle consumer's same Fetch is parked by the dispatcher without being handled, answered
as the full path would answer it, and woken at once by a record on its own partitions only
(server/idle_fetch.py)."""

from __future__ import annotations

import asyncio
import datetime
import io
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from kio.serial import entity_writer

from katka.api import HANDLERS, produce
from katka.api.context import RequestContext
from katka.node import Node
from katka.protocol.codec import EncodedFrame, request_schema
from katka.quotas.store import entity_of
from katka.security.session import Session
from katka.server.dispatch import Dispatcher, lazy_registry
from katka.server.idle_fetch import IdlePoll, TimerWheel
from tests.api.harness import ApiHarness, build
from tests.api.test_log_apis import batch

VERSIONS = (4, 11, 12, 16)
FIRST_FLEXIBLE = 12


@pytest.fixture
def harness() -> Iterator[ApiHarness]:
    harness = ApiHarness()
    harness.node.topics.create_topic("orders", 2, {})
    yield harness
    harness.close()


def fetch_frame(
    node: Node,
    version: int,
    correlation_id: int,
    partition: int = 0,
    offset: int = 0,
    max_wait_ms: int = 5000,
    min_bytes: int = 1,
    session_epoch: int = -1,
) -> bytes:
    """A consumer's Fetch of one partition of "orders", as its client encodes it."""
    info = node.topics.catalog.get("orders")
    assert info is not None
    request = build(
        request_schema(1, version),
        dict(
            replica_id=-1,
            max_wait=datetime.timedelta(milliseconds=max_wait_ms),
            min_bytes=min_bytes,
            max_bytes=1 << 20,
            session_epoch=session_epoch,
            topics=[
                {
                    "topic": "orders",
                    "topic_id": info.topic_id,
                    "partitions": [
                        {
                            "partition": partition,
                            "fetch_offset": offset,
                            "partition_max_bytes": 1 << 20,
                            "current_leader_epoch": -1,
                            "log_start_offset": -1,
                            "last_fetched_epoch": -1,
                        }
                    ],
                }
            ],
        ),
    )
    body = io.BytesIO()
    entity_writer(type(request))(body, request)
    header = struct.pack(">hhih", 1, version, correlation_id, 8) + b"consumer"
    if version >= FIRST_FLEXIBLE:
        header += b"\x00"
    return header + body.getvalue()


async def reply_of(reply: Any) -> bytes:
    if not isinstance(reply, EncodedFrame):
        reply = await asyncio.wait_for(reply, 10)
    assert isinstance(reply, EncodedFrame)
    return reply.payload()


async def append(harness: ApiHarness, partition: int) -> None:
    request = build(
        request_schema(produce.API_KEY, 9),
        dict(
            acks=1,
            timeout=datetime.timedelta(seconds=5),
            topic_data=[
                {"name": "orders", "partition_data": [{"index": partition, "records": batch(b"a")}]}
            ],
        ),
    )
    context = RequestContext(produce.API_KEY, 9, 1, "producer", "127.0.0.1")
    response = produce.handle(context, request, harness.node)
    if asyncio.iscoroutine(response) or isinstance(response, asyncio.Future):
        await response


def run(harness: ApiHarness, test: Any) -> None:
    harness.loop.run_until_complete(test())


async def remember(dispatcher: Dispatcher, session: Session, frame: bytes) -> None:
    """The first of a consumer's polls: handled (its long poll on the full path given up),
    its empty answer remembered."""
    first = dispatcher.dispatch(frame, "127.0.0.1", session)
    assert isinstance(first, asyncio.Future) and not isinstance(first, IdlePoll)
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    assert session.remembered_fetch is not None


def parked(dispatcher: Dispatcher, session: Session, frame: bytes) -> IdlePoll:
    reply = dispatcher.dispatch(frame, "127.0.0.1", session)
    assert isinstance(reply, IdlePoll)
    return reply


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"v{v}")
def test_the_same_idle_fetch_is_parked_and_answered_as_the_full_path_answers_it(
    harness: ApiHarness, version: int
) -> None:
    async def test() -> None:
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        session = Session(client_host="127.0.0.1")
        first = dispatcher.dispatch(
            fetch_frame(harness.node, version, 1, max_wait_ms=20), "h", session
        )
        assert not isinstance(first, IdlePoll)  # the first one is handled: nothing remembered
        await reply_of(first)
        requests = harness.node.stats.api(1).requests
        poll = parked(dispatcher, session, fetch_frame(harness.node, version, 2, max_wait_ms=20))
        fast = await reply_of(poll)
        full = await reply_of(
            dispatcher.dispatch(
                fetch_frame(harness.node, version, 2, max_wait_ms=20), "h", Session(client_host="h")
            )
        )
        assert fast == full
        assert struct.unpack_from(">i", fast)[0] == 2
        assert harness.node.stats.api(1).requests == requests + 2
        assert harness.node.appends.waiting_on(("orders", 0)) == 0
        assert len(dispatcher.idle_fetches.wheel) == 0

    run(harness, test)


def test_the_same_fetch_that_does_not_wait_is_answered_at_once(harness: ApiHarness) -> None:
    async def test() -> None:
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        session = Session(client_host="127.0.0.1")
        first = await reply_of(
            dispatcher.dispatch(fetch_frame(harness.node, 11, 1, max_wait_ms=0), "h", session)
        )
        again = dispatcher.dispatch(fetch_frame(harness.node, 11, 2, max_wait_ms=0), "h", session)
        assert isinstance(again, EncodedFrame)
        assert again.payload()[4:] == first[4:]
        assert harness.node.appends.waiting_on(("orders", 0)) == 0

    run(harness, test)


def test_a_record_on_the_polled_partition_wakes_the_parked_poll_at_once(
    harness: ApiHarness,
) -> None:
    async def test() -> None:
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        session = Session(client_host="127.0.0.1")
        frame = fetch_frame(harness.node, 11, 1, max_wait_ms=60_000)
        await remember(dispatcher, session, frame)
        poll = parked(dispatcher, session, frame)
        assert harness.node.appends.waiting_on(("orders", 0)) == 1
        requests = harness.node.stats.api(1).requests
        await append(harness, 0)
        answer = await reply_of(poll)  # long before its 60 s: reply_of waits 10 s at most
        assert harness.node.stats.api(1).requests == requests  # counted once, when parked
        assert b"a" in answer and struct.unpack_from(">i", answer)[0] == 1
        assert harness.node.appends.waiting_on(("orders", 0)) == 0
        assert len(dispatcher.idle_fetches.wheel) == 0

    run(harness, test)


def test_a_record_on_another_partition_leaves_the_parked_poll_waiting(
    harness: ApiHarness,
) -> None:
    async def test() -> None:
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        session = Session(client_host="127.0.0.1")
        frame = fetch_frame(harness.node, 11, 1, max_wait_ms=60_000)
        await remember(dispatcher, session, frame)
        poll = parked(dispatcher, session, frame)
        await append(harness, 1)
        for _ in range(5):
            await asyncio.sleep(0)
        assert not poll.done()
        assert harness.node.appends.waiting_on(("orders", 0)) == 1
        poll.cancel()

    run(harness, test)


def test_a_woken_poll_that_is_still_short_of_min_bytes_waits_only_what_is_left(
    harness: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def test() -> None:
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        waits: list[int] = []
        handle = dispatcher.idle_fetches.handle_request

        def recording(*args: Any, **options: Any) -> Any:
            waits.append(options["max_wait_ms"])
            return handle(*args, **options)

        monkeypatch.setattr(dispatcher.idle_fetches, "handle_request", recording)
        session = Session(client_host="127.0.0.1")
        frame = fetch_frame(harness.node, 11, 1, max_wait_ms=400, min_bytes=1 << 20)
        await reply_of(dispatcher.dispatch(frame, "h", session))
        poll = parked(dispatcher, session, frame)
        await asyncio.sleep(0.1)
        await append(harness, 0)
        answer = await reply_of(poll)
        (left_ms,) = waits
        assert 0 <= left_ms < 400  # woken: handled with the wait that was left
        assert b"a" in answer  # answered with the record when the wait ran out

    run(harness, test)


def test_a_changed_fetch_or_one_in_a_fetch_session_is_handled_not_parked(
    harness: ApiHarness,
) -> None:
    async def test() -> None:
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        session = Session(client_host="127.0.0.1")
        await reply_of(
            dispatcher.dispatch(fetch_frame(harness.node, 12, 1, max_wait_ms=10), "h", session)
        )
        changed = dispatcher.dispatch(
            fetch_frame(harness.node, 12, 2, 1, max_wait_ms=10), "h", session
        )
        assert not isinstance(changed, IdlePoll)
        await reply_of(changed)
        for epoch in (0, 0):  # a session's full fetch: it must create a session each time
            frame = fetch_frame(harness.node, 12, 3, max_wait_ms=10, session_epoch=epoch)
            reply = dispatcher.dispatch(frame, "h", session)
            assert not isinstance(reply, IdlePoll)
            await reply_of(reply)

    run(harness, test)


def test_a_produce_between_two_polls_makes_the_next_one_read_again(harness: ApiHarness) -> None:
    async def test() -> None:
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        session = Session(client_host="127.0.0.1")
        await reply_of(
            dispatcher.dispatch(fetch_frame(harness.node, 11, 1, max_wait_ms=10), "h", session)
        )
        await append(harness, 0)
        reply = dispatcher.dispatch(fetch_frame(harness.node, 11, 2, max_wait_ms=10), "h", session)
        assert not isinstance(reply, IdlePoll)
        assert b"a" in await reply_of(reply)

    run(harness, test)


def test_a_closed_connection_drops_its_parked_poll(harness: ApiHarness) -> None:
    async def test() -> None:
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        session = Session(client_host="127.0.0.1")
        frame = fetch_frame(harness.node, 11, 1, max_wait_ms=60_000)
        await remember(dispatcher, session, frame)
        poll = parked(dispatcher, session, frame)
        poll.cancel()
        assert harness.node.appends.waiting_on(("orders", 0)) == 0
        assert len(dispatcher.idle_fetches.wheel) == 0
        await append(harness, 0)  # nothing to wake
        await asyncio.sleep(0)
        assert poll.cancelled()

    run(harness, test)


def test_with_client_quotas_every_fetch_takes_the_full_path(harness: ApiHarness) -> None:
    async def test() -> None:
        harness.node.quotas.store.alter(
            entity_of([("client-id", "someone-else")]), [("consumer_byte_rate", 1e9, False)]
        )
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        session = Session(client_host="127.0.0.1")
        for correlation_id in (1, 2):
            frame = fetch_frame(harness.node, 11, correlation_id, max_wait_ms=10)
            reply = dispatcher.dispatch(frame, "h", session)
            assert not isinstance(reply, IdlePoll)
            await reply_of(reply)

    run(harness, test)


def test_a_poll_whose_answer_fails_leaves_the_others_of_its_tick_answered(
    harness: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def test() -> None:
        dispatcher = Dispatcher(lazy_registry(HANDLERS), harness.node)
        frame = fetch_frame(harness.node, 11, 1, max_wait_ms=60_000)
        polls = []
        for _ in range(2):
            session = Session(client_host="127.0.0.1")
            await remember(dispatcher, session, frame)
            polls.append(parked(dispatcher, session, frame))
        failing, answered = polls
        answer = dispatcher.idle_fetches.answer

        def failing_once(memo: Any, frame: bytes) -> EncodedFrame:
            if memo is failing.memo:
                raise RuntimeError("cannot encode")
            return answer(memo, frame)

        monkeypatch.setattr(dispatcher.idle_fetches, "answer", failing_once)
        wheel = dispatcher.idle_fetches.wheel
        for tick in sorted({failing.tick, answered.tick}):
            wheel._expire(tick)
        assert isinstance(failing.exception(), RuntimeError)
        assert struct.unpack_from(">i", (await reply_of(answered)))[0] == 1

    run(harness, test)


@pytest.mark.parametrize("max_wait_ms", [1, 10, 100, 500, 30_000])
def test_the_timer_wheel_answers_a_poll_never_early_and_late_by_at_most_2_percent_or_1_ms(
    harness: ApiHarness, max_wait_ms: int
) -> None:
    wheel = TimerWheel(harness.loop)
    for start in (0.0, 12.3456, 1000.0009):
        deadline = start + max_wait_ms / 1000
        due_s = wheel.add(object(), deadline, max_wait_ms) / 1000  # type: ignore[arg-type]
        assert deadline - 1e-9 <= due_s <= deadline + max(max_wait_ms / 50, 1) / 1000 + 1e-9
