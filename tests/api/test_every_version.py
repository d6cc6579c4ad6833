"""Every handler answers every version it advertises, for arbitrary well-typed requests,
with a response that encodes: errors become error codes, never exceptions."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from pathlib import Path

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

st.register_type_strategy(Records, st.binary(max_size=200).map(Records))
st.register_type_strategy(uuid.UUID, st.uuids())

CASES = [(module, version) for module in api.ALL for version in module.VERSIONS]


@pytest.fixture(scope="module")
def broker() -> Broker:
    clock = ManualClock()
    broker = Broker(
        BrokerConfig({"group.initial.rebalance.delay.ms": "0"}),
        None,
        Endpoint("127.0.0.1", 9092),
        storage=MemoryStorageEngine(),
        clock=clock,
    )
    broker.open()
    broker.start_coordinator(ManualTimers(clock))
    broker.topics.create_topic("existing", 3, {})
    return broker


@pytest.mark.parametrize(
    ("module", "version"), CASES, ids=[f"{m.__name__.split('.')[-1]}-v{v}" for m, v in CASES]
)
def test_random_requests_get_an_encodable_response(
    module, version: int, broker: Broker, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    schema = request_schema(module.API_KEY, version)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(request=st.from_type(schema))
    def check(request: object) -> None:
        context = RequestContext(module.API_KEY, version, 1, "fuzz", "127.0.0.1")
        response = module.handle(context, request, broker.node)
        if inspect.isawaitable(response):

            async def wait() -> object:
                try:
                    return await asyncio.wait_for(response, 0.2)
                except TimeoutError:
                    return None

            response = asyncio.run(wait())
        if response is not None:
            encode_response(module.API_KEY, version, 1, response)

    check()
