"""A byte garbled in an old segment, end to end: a real consumer gets CORRUPT_MESSAGE for the
damaged batch instead of its data, the broker log names the file and offset once, and the
batches around it are still served."""

from __future__ import annotations

import os
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from katka.protocol.records import iter_batches
from katka.reliability.process import BrokerProcess
from tests.conditions import wait_until
from tests.reliability.test_overload import create_topic


def test_a_garbled_old_segment_is_reported_as_corrupt_message(tmp_path: Path) -> None:
    broker = BrokerProcess(
        tmp_path / "data",
        overrides=["log.segment.bytes=2048", "group.initial.rebalance.delay.ms=0"],
    )
    broker.start()
    create_topic(broker, "ledger")
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})
    for i in range(200):
        producer.produce("ledger", value=b"entry-%04d" % i)
        producer.flush(10)  # one batch per record
    broker.stop()  # a clean shutdown: recovery will not rescan the old segments

    directory = tmp_path / "data" / "ledger-0"
    segments = sorted(name for name in os.listdir(directory) if name.endswith(".log"))
    assert len(segments) >= 4
    victim_path = directory / segments[1]
    content = bytearray(victim_path.read_bytes())
    batches = [header for header, _ in iter_batches(content)]
    victim = batches[len(batches) // 2]
    content[victim.position + victim.size - 3] ^= 0x20  # inside a record value
    victim_path.write_bytes(bytes(content))

    broker.start()
    try:
        consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": "auditor",
                "enable.auto.commit": False,
                "fetch.error.backoff.ms": 100,
                "log_level": 0,
            }
        )
        consumer.assign([TopicPartition("ledger", 0, victim.base_offset)])
        error = None
        deadline = time.monotonic() + 20
        while error is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                assert message.error() is not None, f"served damaged data: {message.value()!r}"
                error = message.error()
        consumer.close()
        # Kafka error 2, CORRUPT_MESSAGE (librdkafka calls it INVALID_MSG)
        assert error is not None and error.code() == KafkaError.INVALID_MSG == 2, error
        wait_until(
            lambda: "CORRUPT_MESSAGE returned to fetches" in broker.log_tail(400),
            what="the broker's log line",
        )
        log_text = broker.log_tail(400)
        assert "CORRUPT_MESSAGE" in log_text and segments[1] in log_text, log_text
        assert f"offset {victim.base_offset}" in log_text
        assert log_text.count("CORRUPT_MESSAGE returned to fetches") == 1  # not per retry

        # the batches before and after the damage are still served
        reader = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "r", "log_level": 0})
        reader.assign([TopicPartition("ledger", 0, victim.next_offset)])
        values = []
        deadline = time.monotonic() + 20
        while len(values) < 200 - victim.next_offset and time.monotonic() < deadline:
            values += [m.value() for m in reader.consume(100, 0.5) if m.error() is None]
        reader.close()
        assert values == [b"entry-%04d" % i for i in range(victim.next_offset, 200)]
    finally:
        broker.kill()
