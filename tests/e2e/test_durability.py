"""Acknowledged records survive a clean restart and `kill -9`, in order and exactly once."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from katka.reliability.process import BrokerProcess
from tests.e2e.test_produce_consume import consume_all, create_topic, unique


def test_sigterm_shuts_down_cleanly_and_keeps_every_record(
    start_katka: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    server = start_katka()
    topic = unique("clean")
    create_topic(server.bootstrap, topic, 2, {"segment.bytes": "20000"})
    producer = Producer({"bootstrap.servers": server.bootstrap, "acks": "all", "linger.ms": 2})
    for i in range(2000):
        producer.produce(topic, key=b"%d" % i, value=b"x" * 50 + b"%d" % i, partition=i % 2)
    assert producer.flush(15) == 0
    assert server.stop(sig=signal.SIGTERM) == 0
    assert (tmp_path / "data" / ".clean_shutdown").exists()
    restarted = start_katka(port=server.port)
    messages = consume_all(restarted.bootstrap, topic, 2, 2000)
    assert len(messages) == 2000
    for partition in (0, 1):
        offsets = [m.offset() for m in messages if m.partition() == partition]
        assert offsets == list(range(1000))
    # topics, their partition counts and configs are in the catalog
    assert b"x" * 50 + b"1999" in {m.value() for m in messages}


def test_sigkill_mid_stream_loses_no_acknowledged_record(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    server = start_katka()
    topic = unique("kill9")
    create_topic(server.bootstrap, topic, 3)
    acknowledged: list[tuple[int, int, bytes]] = []
    lock = threading.Lock()

    def on_delivery(error, message) -> None:  # type: ignore[no-untyped-def]
        if error is None:
            with lock:
                acknowledged.append((message.partition(), message.offset(), message.value()))

    producer = Producer(
        {
            "bootstrap.servers": server.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 1,
            "message.timeout.ms": 3000,
            "retries": 0 if False else 2147483647,
        }
    )
    stop = threading.Event()

    def produce_forever() -> None:
        i = 0
        while not stop.is_set():
            try:
                producer.produce(topic, value=b"rec-%d" % i, on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            producer.poll(0.001)

    thread = threading.Thread(target=produce_forever)
    thread.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    stop.set()
    thread.join()
    producer.flush(5)  # the rest fails or times out: they were never acknowledged
    restarted = start_katka(port=server.port)
    assert acknowledged, "the producer never got an acknowledgement"
    with lock:
        acked = list(acknowledged)
    expected_count = max(o for _p, o, _v in acked) + 1  # upper bound on per-partition offsets
    # Read everything stored (records the broker wrote but never acknowledged included: reading
    # only as many as were acknowledged could stop short of some acknowledged ones).
    probe = Consumer({"bootstrap.servers": restarted.bootstrap, "group.id": unique("probe")})
    stored_count = sum(
        probe.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(3)
    )
    probe.close()
    messages = consume_all(restarted.bootstrap, topic, 3, stored_count, timeout=90)
    stored = {(m.partition(), m.offset()): m.value() for m in messages}
    for partition, offset, value in acked:
        assert stored.get((partition, offset)) == value, (
            f"acknowledged {value!r} at {partition}/{offset} is missing; read {len(messages)} "
            f"of {stored_count} stored records, {len(acked)} acknowledged"
        )
    values = [m.value() for m in messages]
    assert len(values) == len(set(values)), "a record is stored twice"
    for partition in range(3):
        offsets = sorted(o for p, o in stored if p == partition)
        assert offsets == list(range(len(offsets)))
    assert expected_count > 0
