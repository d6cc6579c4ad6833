"""Retention never deletes the internal logs' segments: __consumer_offsets holds offsets a group
committed long ago and still needs (Kafka keeps that topic compacted, never deleted by time)."""

from __future__ import annotations

from pathlib import Path

from katka.broker import Broker, Endpoint
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.timers import ManualTimers
from tests.storage.test_timestamps import append, header_batch

DAY = 24 * 3600 * 1000


def test_retention_deletes_old_user_segments_but_never_internal_ones(tmp_path: Path) -> None:
    clock = ManualClock()
    broker = Broker(BrokerConfig(), tmp_path, Endpoint("127.0.0.1", 0), clock=clock)
    broker.open()
    broker.start_coordinator(ManualTimers(clock))
    broker.topics.create_topic("orders", 1, {"segment.bytes": "100"})
    logs = {log.topic: log for log in broker.topics.logs() if log.partition == 0}
    for log in logs.values():
        append(log, header_batch([clock.now_ms()]), clock.now_ms())
        log.roll()  # the old record's segment is closed: only closed segments expire
    clock.advance(9 * DAY)  # retention.ms defaults to 7 days
    for log in logs.values():
        append(log, header_batch([clock.now_ms()]), clock.now_ms())

    assert broker.housekeeping.enforce_retention() > 0
    assert logs["orders"].log_start_offset == 1
    assert logs["__consumer_offsets"].log_start_offset == 0
