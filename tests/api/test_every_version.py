"""Every handler answers every version it advertises, for arbitrary well-typed requests,
with a response that encodes: errors become error codes, never exceptions, and a parked reply
is answered within a bounded wait (the group coordinator's manual time is moved on meanwhile,
so rebalance and session timeouts fire)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import inspect
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.static.primitive import Records

from katka import api
from katka.api.context import RequestContext
from katka.broker import Broker
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.timers import ManualTimers
from katka.node import Endpoint
from katka.protocol.codec import encode_response, request_schema
from katka.storage.memory import MemoryStorageEngine
from tests.api.harness import answer_of

st.register_type_strategy(Records, st.binary(max_size=200).map(Records))
st.register_type_strategy(uuid.UUID, st.uuids())

CASES = [(module, version) for module in api.ALL for version in module.VERSIONS]


# Fetch's long poll waits on the loop's real clock: a random max_wait (up to 24 days) is capped.
LONG_POLL_CAP = datetime.timedelta(milliseconds=20)


@dataclasses.dataclass
class Harness:
    broker: Broker
    timers: ManualTimers
    loop: asyncio.AbstractEventLoop


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    clock = ManualClock()
    broker = Broker(
        BrokerConfig({"group.initial.rebalance.delay.ms": "0"}),
        None,
        Endpoint("127.0.0.1", 9092),
        storage=MemoryStorageEngine(),
        clock=clock,
    )
    timers = ManualTimers(clock)
    broker.open()
    broker.start_coordinator(timers)
    broker.topics.create_topic("existing", 3, {})
    loop = asyncio.new_event_loop()  # one loop for every parked reply of the module
    yield Harness(broker, timers, loop)
    loop.close()


def with_short_long_poll(request: Any) -> Any:
    if hasattr(request, "min_bytes") and isinstance(request.max_wait, datetime.timedelta):
        return dataclasses.replace(request, max_wait=min(request.max_wait, LONG_POLL_CAP))
    return request


# A few random requests per version in the default run; .ci/run adds the full count (slow).
@pytest.mark.parametrize(
    "examples", [pytest.param(3, id="quick"), pytest.param(25, id="full", marks=pytest.mark.slow)]
)
@pytest.mark.parametrize(
    ("module", "version"), CASES, ids=[f"{m.__name__.split('.')[-1]}-v{v}" for m, v in CASES]
)
def test_random_requests_get_an_encodable_response(
    module: Any, version: int, examples: int, harness: Harness, tmp_path: Path
) -> None:
    schema = request_schema(module.API_KEY, version)

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(request=st.from_type(schema))
    def check(request: object) -> None:
        context = RequestContext(module.API_KEY, version, 1, "fuzz", "127.0.0.1")
        response = module.handle(context, with_short_long_poll(request), harness.broker.node)
        if inspect.isawaitable(response):
            response = harness.loop.run_until_complete(answer_of(response, harness.timers))
        assert response is not None, "a handler answers with a response object"
        encode_response(module.API_KEY, version, 1, response)

    check()


def test_a_handler_that_never_answers_fails_the_bounded_wait(harness: Harness) -> None:
    never: asyncio.Future[None] = harness.loop.create_future()
    with pytest.raises(pytest.fail.Exception, match="no answer"):
        harness.loop.run_until_complete(answer_of(never, harness.timers, within_s=0.2))
