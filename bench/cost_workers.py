"""Worker processes for the cost-as-work-grows rows (bench/cost.py).

Idle consumers and wide consumers speak the wire protocol directly (Fetch v11 over plain
asyncio sockets, encoded with kio): a parked fetch is all an idle consumer sends, and one client
process can then hold 1,000 of them on a 2-core machine without its own CPU deciding the row.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import struct
import time
from typing import Any

FETCH = 1
FETCH_VERSION = 11  # sessions (v7+), not yet flexible: plain request and response headers


def _fetch_request(
    topic: str,
    partitions: list[int],
    max_wait_ms: int,
    session_id: int = 0,
    epoch: int = -1,
) -> Any:
    from kio.schema.fetch.v11 import request as fetch
    from kio.schema.types import BrokerId, TopicName
    from kio.static.primitive import i8, i32, i64

    topics = ()
    if partitions:
        topics = (
            fetch.FetchTopic(
                topic=TopicName(topic),
                partitions=tuple(
                    fetch.FetchPartition(
                        partition=i32(p),
                        current_leader_epoch=i32(-1),
                        fetch_offset=i64(0),
                        log_start_offset=i64(-1),
                        partition_max_bytes=i32(1 << 20),
                    )
                    for p in partitions
                ),
            ),
        )
    return fetch.FetchRequest(
        replica_id=BrokerId(-1),
        max_wait=datetime.timedelta(milliseconds=max_wait_ms),
        min_bytes=i32(1),
        max_bytes=i32(50 << 20),
        isolation_level=i8(0),
        session_id=i32(session_id),
        session_epoch=i32(epoch),
        topics=topics,
        forgotten_topics_data=(),
        rack_id="",
    )


def _frame(request: Any, correlation_id: int) -> bytes:
    from kio.serial import entity_writer

    body = io.BytesIO()
    entity_writer(type(request))(body, request)
    header = struct.pack(">hhih", FETCH, FETCH_VERSION, correlation_id, 5) + b"bench"
    payload = header + body.getvalue()
    return struct.pack(">i", len(payload)) + payload


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def _session_of(reply: bytes) -> tuple[int, int]:
    """(error code, session id) of a Fetch v11 reply, read from its fixed leading fields:
    correlation id, throttle time, error code, session id."""
    _correlation, _throttle, error, session_id = struct.unpack_from(">iihi", reply)
    return error, session_id


def idle_fetchers(
    host: str,
    port: int,
    topic: str,
    count: int,
    max_wait_ms: int,
    ready: Any,
    done: Any,
    queue: Any,
) -> None:
    """`count` consumers, one connection each, each long-polling its own empty partition
    (fetch offset 0) until `done` is set; reports how many fetches were answered."""

    async def one(index: int, connected: list[int]) -> int:
        reader, writer = await asyncio.open_connection(host, port)
        frame = _frame(_fetch_request(topic, [index], max_wait_ms), 1)
        connected.append(index)
        answered = 0
        while not done.is_set():
            writer.write(frame)
            await _read_reply(reader)
            answered += 1
        writer.close()
        return answered

    async def main() -> None:
        connected: list[int] = []
        tasks = [asyncio.create_task(one(i, connected)) for i in range(count)]
        while len(connected) < count:
            await asyncio.sleep(0.05)
        await asyncio.sleep(max_wait_ms / 1000 + 0.2)  # every one has parked at least once
        ready.set()
        answered = await asyncio.gather(*tasks)
        queue.put({"fetches": sum(answered)})

    asyncio.run(main())


def wide_fetcher(
    host: str,
    port: int,
    topic: str,
    partitions: int,
    max_wait_ms: int,
    use_session: bool,
    seconds: float,
    ready: Any,
    go: Any,
    queue: Any,
) -> None:
    """One consumer of `partitions` idle partitions fetching back to back for `seconds` after
    `go`: with a session (KIP-227: a full fetch with epoch 0, then empty incremental ones) or
    without (every fetch names every partition, as librdkafka does)."""

    async def main() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        everything = list(range(partitions))
        session_id, epoch = 0, (0 if use_session else -1)
        fetches = 0
        sessions_used = 0
        began = 0.0
        while True:
            named = everything if session_id == 0 else []
            request = _fetch_request(topic, named, max_wait_ms, session_id, epoch)
            writer.write(_frame(request, fetches + 1))
            reply = await _read_reply(reader)
            error, answered_session = _session_of(reply)
            if use_session:
                if error != 0 or answered_session == 0:
                    session_id, epoch = 0, 0  # refused or not cached: start a new session
                elif session_id == 0:
                    session_id, epoch = answered_session, 1
                else:
                    epoch += 1
                    sessions_used += 1
            if fetches == 0:
                ready.set()
                while not go.is_set():
                    await asyncio.sleep(0.01)
                began = time.perf_counter()
            fetches += 1
            if time.perf_counter() - began >= seconds:
                break
        writer.close()
        queue.put({"fetches": fetches - 1, "incremental_fetches": sessions_used})

    asyncio.run(main())


def paced_producer(bootstrap: str, topic: str, rate: int, seconds: float, queue: Any) -> None:
    """`rate` 100-byte records/s to partition 0 with linger.ms=0 for `seconds`."""
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0, "batch.num.messages": 1}
    )
    producer.list_topics(topic, timeout=10)
    value = b"c" * 100
    began = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - began) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            producer.produce(topic, value, partition=0)
            sent += 1
        producer.poll(0)
        pause = sent / rate - (time.perf_counter() - began)
        if pause > 0:
            time.sleep(min(pause, 0.02))
    failed = producer.flush(10)
    queue.put({"sent": sent - failed})


PRODUCE = 0
PRODUCE_VERSION = 3  # the oldest version Kafka 4 answers; v2 record batches, not flexible


def _produce_frame(topic: str, partition: int, correlation_id: int) -> bytes:
    """A Produce v3 request (acks=1) of one 100-byte record in a v2 batch."""
    from kio.schema.produce.v3 import request as produce
    from kio.schema.types import TopicName
    from kio.serial import entity_writer
    from kio.static.primitive import i16, i32

    from katka.protocol.records import build_batch

    batch = build_batch([(None, b"m" * 100, (), int(time.time() * 1000))])
    request = produce.ProduceRequest(
        transactional_id=None,
        acks=i16(1),
        timeout=datetime.timedelta(seconds=30),
        topic_data=(
            produce.TopicProduceData(
                name=TopicName(topic),
                partition_data=(
                    produce.PartitionProduceData(index=i32(partition), records=bytes(batch)),
                ),
            ),
        ),
    )
    body = io.BytesIO()
    entity_writer(type(request))(body, request)
    header = struct.pack(">hhih", PRODUCE, PRODUCE_VERSION, correlation_id, 5) + b"bench"
    payload = header + body.getvalue()
    return struct.pack(">i", len(payload)) + payload


def many_producers(
    host: str,
    port: int,
    topic: str,
    connections: int,
    total_rate: int,
    seconds: float,
    opened: Any,
    go: Any,
    queue: Any,
) -> None:
    """`connections` producer connections sharing `total_rate` one-record Produce requests/s
    (each connection on its own schedule, replies read as they come); `opened` is set once all
    are connected (the broker's memory per idle connection is read then), sending starts at
    `go`. Reports the requests sent and answered."""

    async def one(index: int, connected: list[int], rate: float) -> tuple[int, int]:
        reader, writer = await asyncio.open_connection(host, port)
        frame = _produce_frame(topic, 0, index)
        connected.append(index)
        while not go.is_set():
            await asyncio.sleep(0.01)
        answered = 0

        async def read_replies() -> None:
            nonlocal answered
            while True:
                await _read_reply(reader)
                answered += 1

        replies = asyncio.create_task(read_replies())
        began = time.perf_counter() + (index / connections) / rate  # spread the connections
        sent = 0
        while (elapsed := time.perf_counter() - began) < seconds:
            due = int(elapsed * rate) + 1
            while sent < due:
                writer.write(frame)
                sent += 1
            await asyncio.sleep(max(sent / rate - (time.perf_counter() - began), 0.001))
        deadline = time.perf_counter() + 10
        while answered < sent and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        replies.cancel()
        writer.close()
        return sent, answered

    async def main() -> None:
        connected: list[int] = []
        rate = total_rate / connections
        tasks = [asyncio.create_task(one(i, connected, rate)) for i in range(connections)]
        while len(connected) < connections:
            await asyncio.sleep(0.05)
        opened.set()
        results = await asyncio.gather(*tasks)
        queue.put({"sent": sum(s for s, _ in results), "answered": sum(a for _, a in results)})

    asyncio.run(main())


def create_wide_topic(bootstrap: str, topic: str, partitions: int, queue: Any) -> None:
    """A topic of many partitions (a minute or more for 10,000 on some brokers)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    future = admin.create_topics(
        [NewTopic(topic, partitions, 1)], request_timeout=600, operation_timeout=600
    )[topic]
    future.result(600)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        described = admin.list_topics(topic, timeout=30).topics.get(topic)
        if described and not described.error and len(described.partitions) == partitions:
            if all(p.leader >= 0 for p in described.partitions.values()):
                break
        time.sleep(0.5)
    queue.put({"partitions": partitions})


def spread_producer(
    bootstrap: str,
    topic: str,
    partitions: int,
    rate: int,
    seconds: float,
    queue: Any,
    linger_ms: int = 5,
) -> None:
    """`rate` 100-byte records/s spread over `partitions` (record i to partition i mod P) with
    librdkafka's defaults (linger.ms 5 unless told, acks=all) for `seconds`."""
    from confluent_kafka import Producer

    produce_requests = [0]

    def on_stats(stats_json: str) -> None:
        brokers = json.loads(stats_json).get("brokers", {}).values()
        produce_requests[0] = sum(b.get("req", {}).get("Produce", 0) for b in brokers)

    config = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": linger_ms,
        "statistics.interval.ms": 200,
        "stats_cb": on_stats,
    }
    producer = Producer(config)
    producer.list_topics(topic, timeout=30)
    value = b"s" * 100
    began = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - began) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            try:
                producer.produce(topic, value, partition=sent % partitions)
            except BufferError:
                producer.poll(0.01)
                continue
            sent += 1
        producer.poll(0)
        pause = sent / rate - (time.perf_counter() - began)
        if pause > 0:
            time.sleep(min(pause, 0.02))
    failed = producer.flush(30)
    producer.poll(0.5)  # one more statistics callback: the Produce requests sent
    queue.put({"sent": sent - failed, "produce_requests": produce_requests[0]})
