"""confluent-kafka (librdkafka) clients, each run in its own spawned process.

A process per client keeps one client's GIL from throttling another and keeps librdkafka's
threads out of the orchestrating process. Every function here takes plain values plus a queue
and puts one result dict (or a stream of events, for group members) on it.
"""

from __future__ import annotations

import array
import os
import struct
import time
from typing import Any

KEYS = [b"key-%04d" % i for i in range(1024)]


def _admin_config(bootstrap: str) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000}


def create_topic(bootstrap: str, topic: str, partitions: int, queue: Any) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(_admin_config(bootstrap))
    began = time.monotonic()
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)
    # Wait until the topic's leaders are visible in Metadata, as a client would.
    while time.monotonic() - began < 30:
        metadata = admin.list_topics(topic, timeout=10)
        described = metadata.topics.get(topic)
        if described and not described.error and len(described.partitions) == partitions:
            if all(p.leader >= 0 for p in described.partitions.values()):
                break
        time.sleep(0.05)
    queue.put({"ok": True, "seconds": time.monotonic() - began})


def produce(
    bootstrap: str,
    topic: str,
    count: int,
    size: int,
    linger_ms: int,
    max_seconds: float,
    queue: Any,
    extra: dict[str, Any] | None = None,
    partitions: int | None = None,
) -> None:
    """Produce `count` keyed records as fast as the client goes; count only acknowledged ones.

    Delivery reports are requested for errors only (delivery.report.only.error), so the Python
    callback costs nothing per successful record: acknowledged = produced - failed - still queued
    after flush.
    """
    from confluent_kafka import Producer

    failed = 0

    def on_error(error: Any, _message: Any) -> None:
        nonlocal failed
        if error is not None:
            failed += 1

    config = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": linger_ms,
        "delivery.report.only.error": True,
        "on_delivery": on_error,
        "queue.buffering.max.messages": 500_000,
    }
    config.update(extra or {})
    producer = Producer(config)
    producer.list_topics(topic, timeout=10)  # metadata warm-up outside the timed region
    value = os.urandom(size)
    produce_one = producer.produce
    keys = KEYS
    began = time.perf_counter()
    produced = 0
    capped = False
    while produced < count:
        if produced % 8192 == 0 and time.perf_counter() - began > max_seconds:
            capped = True
            break
        try:
            if partitions:
                produce_one(topic, value, keys[produced & 1023], partition=produced % partitions)
            else:
                produce_one(topic, value, keys[produced & 1023])
            produced += 1
        except BufferError:
            producer.poll(0.005)
    remaining = producer.flush(120)
    elapsed = time.perf_counter() - began
    acked = produced - failed - remaining
    queue.put(
        {
            "records": acked,
            "produced": produced,
            "failed": failed,
            "unflushed": remaining,
            "seconds": elapsed,
            "capped": capped,
            "config": {k: v for k, v in config.items() if k not in ("on_delivery",)},
        }
    )


def consume(
    bootstrap: str,
    topic: str,
    partitions: int,
    expected: int,
    group: str | None,
    stall_seconds: float,
    queue: Any,
    extra: dict[str, Any] | None = None,
) -> None:
    """Read `expected` records from the start: assign (no group) or subscribe with `group`;
    `extra` adds client configs (security.protocol, SASL and TLS settings).

    Time to first record is measured from assign()/subscribe() to the first consume() call that
    returns a record; throughput from then to the last record (the first batch is excluded).
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

    error_of = Message.error
    value_of = Message.value
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group or f"bench-assign-{os.getpid()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": group is not None,
        # librdkafka pauses fetching for fetch.queue.backoff.ms (default 1000) whenever its
        # local queue holds queued.min.messages; at default the consumer idles most of the time.
        "fetch.queue.backoff.ms": 5,
    }
    if group is not None:
        # Tansu holds a new group's first JoinGroup for about session.timeout.ms / 2 (23 s at
        # librdkafka's default 45 s); 6 s is Kafka's group.min.session.timeout.ms.
        config["session.timeout.ms"] = 6000
    config.update(extra or {})
    consumer = Consumer(config)
    # Connect and learn the leaders first: time to first record then measures the broker (offset
    # lookup, join, fetch), not librdkafka's 500 ms offset-query retry timer before metadata.
    consumer.list_topics(topic, timeout=10)
    began = time.perf_counter()
    if group is None:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    else:
        consumer.subscribe([topic])
    received = 0
    received_bytes = 0
    first_at: float | None = None
    first_batch = 0
    first_batch_bytes = 0
    last_at = began
    errors = 0
    while received < expected:
        messages = consumer.consume(10_000, 0.5)
        now = time.perf_counter()
        if not messages:
            if now - last_at > stall_seconds:
                break
            continue
        # Iterate in C (map over method descriptors): a Python loop per record costs more
        # than librdkafka does and would make the client, not the broker, the limit.
        if any(map(error_of, messages)):
            good = [m for m in messages if not m.error()]
            errors += len(messages) - len(good)
            messages = good
        batch = len(messages)
        batch_bytes = sum(map(len, map(value_of, messages)))
        if batch:
            if first_at is None:
                first_at = now
                first_batch = batch
                first_batch_bytes = batch_bytes
            received += batch
            received_bytes += batch_bytes
            last_at = now
    consumer.close()
    first = (first_at - began) if first_at is not None else None
    steady_seconds = (last_at - first_at) if first_at is not None else 0.0
    queue.put(
        {
            "records": received,
            "bytes": received_bytes,
            "steady_records": received - first_batch,
            "steady_bytes": received_bytes - first_batch_bytes,
            "steady_seconds": steady_seconds,
            "seconds": last_at - began,
            "time_to_first_record_s": first,
            "errors": errors,
            "config": config,
        }
    )


# --- end-to-end latency --------------------------------------------------------------------

_STAMP = struct.Struct(">q")


def latency_consumer(
    bootstrap: str,
    topic: str,
    partitions: int,
    ready: Any,
    done: Any,
    queue: Any,
    extra: dict[str, Any] | None = None,
) -> None:
    """Assigned from the start of a fresh topic; latency = receive time - stamp in the value.

    Stamps are CLOCK_MONOTONIC nanoseconds, which is one clock for every process on the machine.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-latency-{os.getpid()}",
            "enable.auto.commit": False,
            **(extra or {}),
        }
    )
    # Known leaders before assign(), else librdkafka retries its offset query on a 500 ms timer.
    consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    consumer.consume(100, 0.5)  # connect and start fetching before the producer begins
    ready.set()
    samples = array.array("q")
    slow: list[list[int]] = []  # [sample index, partition, offset, latency ns] over 50 ms
    unpack = _STAMP.unpack_from
    idle_since: float | None = None
    poll = consumer.poll
    while True:
        # poll() returns each record as soon as it is there; consume(n, t) would wait for n
        # records or t seconds and add up to t to every latency.
        message = poll(0.05)
        now = time.monotonic_ns()
        if message is not None and not message.error():
            latency_ns = now - unpack(message.value())[0]
            samples.append(latency_ns)
            if latency_ns > 50_000_000 and len(slow) < 100:
                slow.append([len(samples), message.partition(), message.offset(), latency_ns])
        if done.is_set():
            if message is not None:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > 1.0:
                break
    consumer.close()
    queue.put({"samples_ns": samples.tobytes(), "slow": slow, "cpu_s": _process_cpu_s()})


def latency_producer(
    bootstrap: str,
    topic: str,
    rate: int,
    seconds: float,
    size: int,
    queue: Any,
    extra: dict[str, Any] | None = None,
) -> None:
    """Send `rate` records/s for `seconds`, linger.ms=0, acks=all, each stamped at send time."""
    from confluent_kafka import Producer

    failed = 0

    def on_error(error: Any, _message: Any) -> None:
        nonlocal failed
        if error is not None:
            failed += 1

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 0,
            "delivery.report.only.error": True,
            "on_delivery": on_error,
            **(extra or {}),
        }
    )
    producer.list_topics(topic, timeout=10)
    padding = os.urandom(max(0, size - _STAMP.size))
    total = int(rate * seconds)
    pack = _STAMP.pack
    began = time.perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - began) * rate) + 1)
        while sent < due:
            try:
                producer.produce(topic, pack(time.monotonic_ns()) + padding, KEYS[sent & 1023])
            except BufferError:  # the broker is behind: wait for room, the delay is measured
                producer.poll(0.001)
                continue
            sent += 1
        producer.poll(0)
        pause = sent / rate - (time.perf_counter() - began)
        if pause > 0:
            time.sleep(pause)
    remaining = producer.flush(30)
    queue.put(
        {
            "sent": sent,
            "failed": failed,
            "unflushed": remaining,
            "seconds": time.perf_counter() - began,
            "cpu_s": _process_cpu_s(),
        }
    )


def _process_cpu_s() -> float:
    """The worker's CPU, every thread (librdkafka's included): a client that needs a core of
    its own on a 2-core machine leaves the broker less."""
    return time.process_time()


# --- consumer-group members for the rebalance workload --------------------------------------


def steady_producer(
    bootstrap: str, topic: str, partitions: int, rate: int, stop: Any, queue: Any
) -> None:
    """Write `rate` records/s round-robin over every partition until `stop` is set."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    producer.list_topics(topic, timeout=10)
    value = b"r" * 100
    began = time.perf_counter()
    sent = 0
    while not stop.is_set():
        due = int((time.perf_counter() - began) * rate) + 1
        while sent < due:
            producer.produce(topic, value, partition=sent % partitions)
            sent += 1
        producer.poll(0)
        pause = sent / rate - (time.perf_counter() - began)
        if pause > 0:
            time.sleep(min(pause, 0.05))
    producer.flush(10)
    queue.put({"sent": sent})


def group_member(
    bootstrap: str,
    topic: str,
    group: str,
    name: str,
    strategy: str,
    instance_id: str | None,
    session_timeout_ms: int,
    leave: Any,
    events: Any,
) -> None:
    """One consumer-group member that reports what it owns and when it consumed each partition.

    Events (tuples on `events`): ("assign"|"revoke"|"lost", name, [partitions], t) as the
    callbacks fire, and every 50 ms ("consumed", name, {partition: [t, ...]}) with the times
    (CLOCK_MONOTONIC seconds, 2 ms resolution) at which it was handed records of that partition.
    When `leave` is set it closes (LeaveGroup, unless static) and exits.
    """
    from confluent_kafka import Consumer

    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "partition.assignment.strategy": strategy,
        "session.timeout.ms": session_timeout_ms,
        "heartbeat.interval.ms": 500,
        "auto.offset.reset": "latest",
        "auto.commit.interval.ms": 1000,
    }
    if instance_id:
        config["group.instance.id"] = instance_id
    consumer = Consumer(config)

    def report(kind: str):  # type: ignore[no-untyped-def]
        def callback(_consumer: Any, partitions: Any) -> None:
            events.put((kind, name, sorted(p.partition for p in partitions), time.monotonic()))

        return callback

    consumer.subscribe(
        [topic], on_assign=report("assign"), on_revoke=report("revoke"), on_lost=report("lost")
    )
    events.put(("started", name, [], time.monotonic()))
    pending: dict[int, list[float]] = {}
    last_flush = time.monotonic()
    while not leave.is_set():
        messages = consumer.consume(500, 0.02)
        now = time.monotonic()
        stamp = round(now, 3)
        for message in messages:
            if message.error():
                continue
            times = pending.setdefault(message.partition(), [])
            if not times or stamp - times[-1] >= 0.002:
                times.append(stamp)
        if now - last_flush >= 0.05:
            if pending:
                events.put(("consumed", name, pending, now))
                pending = {}
            last_flush = now
    if pending:
        events.put(("consumed", name, pending, time.monotonic()))
    consumer.close()
    events.put(("closed", name, [], time.monotonic()))
