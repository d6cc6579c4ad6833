"""Driving handlers with no sockets: a Node over the memory storage engine, requests built for
one version from plain values, parked replies awaited while the coordinator's manual time moves
on, and every response encoded for its version (what the wire would carry)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import inspect
import types
import typing
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from kio.static.primitive import Records

from katka.api._build import _field_names_in_any_version
from katka.api.context import RequestContext
from katka.broker import Broker
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.timers import ManualTimers
from katka.node import Endpoint, Node
from katka.protocol.codec import encode_response, request_schema
from katka.storage.memory import MemoryStorageEngine

ANSWER_WITHIN_S = 5.0


async def answer_of(pending: Any, timers: ManualTimers, within_s: float = ANSWER_WITHIN_S) -> Any:
    """The parked reply, moving the coordinator's manual time on to its next timer each round
    until it comes (a rebalance delay, a session or rebalance timeout); a handler that never
    answers fails the test instead of hanging it."""
    task = asyncio.ensure_future(pending)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        await asyncio.sleep(0.002)
        if task.done():
            return task.result()
        if not timers.run_due():
            deadlines = [timers.deadline(key) for key in timers.keys()]
            due = [d for d in deadlines if d is not None]
            if due:
                timers.advance_to(min(due))
    task.cancel()
    pytest.fail(f"no answer within {within_s} s")


class ApiHarness:
    def __init__(self, configs: Mapping[str, str] | None = None) -> None:
        self.clock = ManualClock()
        self.timers = ManualTimers(self.clock)
        self.broker = Broker(
            BrokerConfig({"group.initial.rebalance.delay.ms": "0", **(configs or {})}),
            None,
            Endpoint("127.0.0.1", 9092),
            storage=MemoryStorageEngine(),
            clock=self.clock,
        )
        self.broker.open()
        self.broker.start_coordinator(self.timers)
        self.loop = asyncio.new_event_loop()

    @property
    def node(self) -> Node:
        return self.broker.node

    def close(self) -> None:
        self.loop.close()

    def call(self, module: types.ModuleType, version: int, **fields: Any) -> Any:
        """Build the request for `version` from plain values (fields that version lacks are
        dropped, as make() does), answer it, and return the response after encoding it."""
        request = build(request_schema(module.API_KEY, version), fields)
        context = RequestContext(module.API_KEY, version, 7, "api-test", "127.0.0.1")
        response = module.handle(context, request, self.node)
        if inspect.isawaitable(response):
            response = self.loop.run_until_complete(answer_of(response, self.timers))
        encode_response(module.API_KEY, version, 7, response)
        return response


def build(cls: Any, values: Mapping[str, Any]) -> Any:
    """An entity of `cls` from a mapping; nested entities from mappings or lists of them.
    Fields left out get the field's default, else a neutral value of its type; fields of
    other versions are dropped, names of no version refused."""
    known = _field_names_in_any_version(cls)
    unknown = set(values) - known if known is not None else set()
    if unknown:  # a typo in a test, not a field of another version
        raise TypeError(f"no version of {cls.__name__} has the field(s) {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if field.name in values:
            kwargs[field.name] = _convert(hint, values[field.name])
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            kwargs[field.name] = _neutral(hint)
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None:
            return None
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    element = _entity_element(hint)
    if element is not None and isinstance(value, list | tuple):
        return tuple(build(element, item) if isinstance(item, Mapping) else item for item in value)
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return build(hint, value)
    if isinstance(value, list):
        return tuple(value)
    return value


def _entity_element(hint: Any) -> Any:
    if typing.get_origin(hint) is tuple:
        (element, *_rest) = typing.get_args(hint)
        if dataclasses.is_dataclass(element):
            return element
    return None


def _neutral(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return None
    if typing.get_origin(hint) is tuple:
        return ()
    if dataclasses.is_dataclass(hint):
        return build(hint, {})
    for base, value in (
        (bool, False),
        (int, 0),
        (datetime.timedelta, datetime.timedelta(0)),
        (str, ""),
        (Records, Records(b"")),
        (bytes, b""),
        (uuid.UUID, uuid.UUID(int=0)),
    ):
        if isinstance(hint, type) and issubclass(hint, base):
            return value
    raise TypeError(f"no neutral value for {hint}")


COVERED: set[str] = set()  # handler modules that have request-in/response-out tests


def edges(module: types.ModuleType) -> Any:
    """The lowest and the highest version a handler answers, as pytest parameters."""
    COVERED.add(module.__name__)
    versions: range = module.VERSIONS
    lowest, highest = versions.start, versions.stop - 1
    return pytest.mark.parametrize("version", sorted({lowest, highest}), ids=lambda v: f"v{v}")
