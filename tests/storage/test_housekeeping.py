"""The housekeeping walk: idle segments roll and due flushes run, walked as often as the
shortest segment.ms / flush.ms needs, not every second for every partition."""

from __future__ import annotations

import asyncio
from pathlib import Path

from katka.broker import Broker, Endpoint
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.timers import ManualTimers
from tests.storage.test_timestamps import append, header_batch


def started_broker(tmp_path: Path, clock: ManualClock) -> Broker:
    broker = Broker(BrokerConfig(), tmp_path, Endpoint("127.0.0.1", 0), clock=clock)
    broker.open()
    broker.start_coordinator(ManualTimers(clock))
    return broker


def test_with_kafkas_defaults_the_walk_comes_every_30_seconds(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = started_broker(tmp_path, clock)
    broker.topics.create_topic("orders", 3, {})
    asyncio.run(broker.housekeeping.walk())
    assert broker.housekeeping.next_walk_ms == clock.monotonic_ms() + 30_000


def test_a_short_segment_ms_brings_the_walk_to_a_tenth_of_it(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = started_broker(tmp_path, clock)
    broker.topics.create_topic("orders", 1, {"segment.ms": "50000"})
    asyncio.run(broker.housekeeping.walk())
    assert broker.housekeeping.next_walk_ms == clock.monotonic_ms() + 5_000


def test_the_walk_is_never_more_often_than_the_tick(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = started_broker(tmp_path, clock)
    broker.topics.create_topic("orders", 1, {"segment.ms": "100", "flush.ms": "10"})
    asyncio.run(broker.housekeeping.walk())
    assert broker.housekeeping.next_walk_ms == clock.monotonic_ms() + 1_000


def test_a_new_topic_or_a_config_change_is_walked_at_the_next_tick(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = started_broker(tmp_path, clock)
    asyncio.run(broker.housekeeping.walk())
    assert broker.housekeeping.next_walk_ms > clock.monotonic_ms()
    broker.topics.create_topic("orders", 1, {})
    assert broker.housekeeping.next_walk_ms == 0
    asyncio.run(broker.housekeeping.walk())
    broker.topics.set_topic_configs("orders", {"segment.ms": "2000"})
    assert broker.housekeeping.next_walk_ms == 0


def test_the_walk_rolls_an_idle_segment_once_its_segment_ms_passed(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = started_broker(tmp_path, clock)
    broker.topics.create_topic("orders", 1, {"segment.ms": "60000"})
    (orders,) = [log for log in broker.topics.logs() if log.topic == "orders"]
    asyncio.run(broker.housekeeping.walk())  # the active segment is opened now
    append(orders, header_batch([clock.now_ms()]), clock.now_ms())
    clock.advance(59_000)
    asyncio.run(broker.housekeeping.walk())
    assert len(orders.segments) == 1
    clock.advance(2_000)
    asyncio.run(broker.housekeeping.walk())
    assert len(orders.segments) == 2
