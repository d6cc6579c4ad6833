"""What one Fetch costs katka's broker, in CPU microseconds (issue 17's idle and latency rows).

    python -m bench fetch-cost [--case idle,woken] [--connections 1000] [--seconds 10]
                               [--fetch-version 11] [--profile DIR]

Starts `katka serve` (as `python -m bench run` does) and drives it with raw Fetch requests from
one spawned client process, so the client's own cost stays out of the broker's figure. Broker
CPU is user+system of the broker process (all threads), read from /proc around each step.

- **idle**: N connections each long-poll their own empty partition (fetch.max.wait 500 ms,
  min_bytes 1), back to back: every poll parks and expires. Reported: broker CPU per expired
  poll (issue 17 (a): ~2,000 of them a second with 1,000 idle consumers).
- **woken**: one producer connection and one fetcher, in lockstep: the fetcher's long poll
  (max wait 5 s) is parked, the producer appends one 100-byte record (Produce v9, acks=1), the
  parked fetch wakes and answers that one record. Reported: broker CPU per record with the
  fetcher and, measured just before, without it; the difference is what one woken fetch costs
  (issue 17 (b): the latency row's consumer).

With --profile DIR, py-spy records the broker during each case (DIR/CASE.raw) and the top
functions are printed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import io
import struct
import time
import uuid
from pathlib import Path
from typing import Any

from bench import procs

IDLE_TOPIC = "fetch-cost-idle"
WOKEN_TOPIC = "fetch-cost-woken"
IDLE_MAX_WAIT_MS = 500
WOKEN_MAX_WAIT_MS = 5000
FETCH, PRODUCE, METADATA = 1, 0, 3
FIRST_FLEXIBLE_FETCH = 12
FIRST_TOPIC_ID_FETCH = 13


# --- requests, encoded with kio (the client side: its cost is not the broker's) -------------------


def _frame(api_key: int, version: int, flexible: bool, request: Any, correlation_id: int) -> bytes:
    from kio.serial import entity_writer

    body = io.BytesIO()
    entity_writer(type(request))(body, request)
    header = struct.pack(">hhih", api_key, version, correlation_id, 5) + b"bench"
    if flexible:
        header += b"\x00"  # no tagged fields in the request header
    payload = header + body.getvalue()
    return struct.pack(">i", len(payload)) + payload


def _make(cls: type, **values: Any) -> Any:
    """An entity of any version from the values its fields name (others left out)."""
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in values.items() if name in names})


def fetch_frame(
    version: int,
    topic: str,
    topic_id: uuid.UUID,
    partition: int,
    fetch_offset: int,
    max_wait_ms: int,
    correlation_id: int = 1,
) -> bytes:
    import importlib

    from kio.static.primitive import i8, i32, i64

    m = importlib.import_module(f"kio.schema.fetch.v{version}.request")
    fetch_partition = _make(
        m.FetchPartition,
        partition=i32(partition),
        current_leader_epoch=i32(-1),
        fetch_offset=i64(fetch_offset),
        last_fetched_epoch=i32(-1),
        log_start_offset=i64(-1),
        partition_max_bytes=i32(1 << 20),
    )
    fetch_topic = _make(m.FetchTopic, topic=topic, topic_id=topic_id, partitions=(fetch_partition,))
    extra: dict[str, Any] = {}
    if hasattr(m, "ReplicaState"):
        extra["replica_state"] = m.ReplicaState(replica_id=i32(-1), replica_epoch=i64(-1))
    request = _make(
        m.FetchRequest,
        cluster_id=None,
        replica_id=i32(-1),
        max_wait=datetime.timedelta(milliseconds=max_wait_ms),
        min_bytes=i32(1),
        max_bytes=i32(50 << 20),
        isolation_level=i8(0),
        session_id=i32(0),
        session_epoch=i32(-1),
        topics=(fetch_topic,),
        forgotten_topics_data=(),
        rack_id="",
        **extra,
    )
    return _frame(FETCH, version, version >= FIRST_FLEXIBLE_FETCH, request, correlation_id)


def produce_frame(topic: str, value: bytes, correlation_id: int) -> bytes:
    from kio.schema.produce.v9 import request as m
    from kio.static.primitive import i16, i32

    from katka.protocol.records import build_batch

    batch = build_batch([(None, value, (), int(time.time() * 1000))])
    request = m.ProduceRequest(
        transactional_id=None,
        acks=i16(1),
        timeout=datetime.timedelta(seconds=30),
        topic_data=(
            m.TopicProduceData(
                name=topic, partition_data=(m.PartitionProduceData(index=i32(0), records=batch),)
            ),
        ),
    )
    return _frame(PRODUCE, 9, True, request, correlation_id)


async def _topic_id(host: str, port: int, topic: str) -> uuid.UUID:
    from kio.schema.metadata.v12 import request as m
    from kio.schema.metadata.v12.response import MetadataResponse
    from kio.serial import entity_reader

    reader, writer = await asyncio.open_connection(host, port)
    request = m.MetadataRequest(
        topics=(m.MetadataRequestTopic(topic_id=None, name=topic),),
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )
    writer.write(_frame(METADATA, 12, True, request, 1))
    reply = await _read_reply(reader)
    writer.close()
    response, _ = entity_reader(MetadataResponse)(reply, 5)  # correlation id, no tagged fields
    topic_id: uuid.UUID = response.topics[0].topic_id
    return topic_id


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def _records_in(version: int, reply: bytes) -> int:
    """How many records the one-partition Fetch reply holds (v2 batches: last offset delta)."""
    from kio.index import load_response_schema
    from kio.serial import entity_reader

    schema = load_response_schema(FETCH, version)
    start = 5 if version >= FIRST_FLEXIBLE_FETCH else 4
    response, _ = entity_reader(schema)(reply, start)
    records = response.responses[0].partitions[0].records or b""
    count, position = 0, 0
    while position + 61 <= len(records):
        (length,) = struct.unpack_from(">i", records, position + 8)
        (last_offset_delta,) = struct.unpack_from(">i", records, position + 23)
        count += last_offset_delta + 1
        position += 12 + length
    return count


# --- workers (spawned processes) ----------------------------------------------------------------


def idle_pollers(
    host: str,
    port: int,
    topic: str,
    connections: int,
    version: int,
    answered: Any,
    ready: Any,
    done: Any,
    queue: Any,
) -> None:
    """`connections` connections, each long-polling its own empty partition back to back;
    `answered` (a shared counter) counts the polls answered."""

    async def one(index: int, topic_id: uuid.UUID, connected: list[int]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        frame = fetch_frame(version, topic, topic_id, index, 0, IDLE_MAX_WAIT_MS)
        connected.append(index)
        while not done.is_set():
            writer.write(frame)
            await _read_reply(reader)
            answered.value += 1
        writer.close()

    async def main() -> None:
        topic_id = await _topic_id(host, port, topic)
        connected: list[int] = []
        tasks = [asyncio.create_task(one(i, topic_id, connected)) for i in range(connections)]
        while len(connected) < connections:
            await asyncio.sleep(0.05)
        await asyncio.sleep(IDLE_MAX_WAIT_MS / 1000 + 0.2)  # every one has parked at least once
        ready.set()
        await asyncio.gather(*tasks)
        queue.put({})

    asyncio.run(main())


def lockstep(
    host: str, port: int, topic: str, version: int, records: int, with_fetcher: bool, queue: Any
) -> None:
    """`records` one-record Produce requests, one at a time; with a fetcher, each is sent while
    the fetcher's long poll is parked and the loop waits for that poll to answer the record."""

    async def main() -> None:
        topic_id = await _topic_id(host, port, topic)
        producer_reader, producer = await asyncio.open_connection(host, port)
        fetch_reader, fetcher = await asyncio.open_connection(host, port)
        value = b"x" * 100
        # Where the partition ends now: a first fetch (not parked) at offset 0 ... read to the end.
        offset = 0
        if with_fetcher:
            while True:
                fetcher.write(fetch_frame(version, topic, topic_id, 0, offset, 0))
                got = _records_in(version, await _read_reply(fetch_reader))
                if not got:
                    break
                offset += got
        woken, began = 0, time.monotonic()
        for i in range(records):
            if with_fetcher:
                fetcher.write(fetch_frame(version, topic, topic_id, 0, offset, WOKEN_MAX_WAIT_MS))
            await asyncio.sleep(0.001)  # the fetch is parked before the record is appended
            producer.write(produce_frame(topic, value, i))
            await _read_reply(producer_reader)
            if with_fetcher:
                got = _records_in(version, await _read_reply(fetch_reader))
                woken += 1 if got == 1 else 0
                offset += got
        queue.put({"woken": woken, "seconds": time.monotonic() - began})
        producer.close()
        fetcher.close()

    asyncio.run(main())


# --- the orchestrator -----------------------------------------------------------------------


def _spy(pid: int, seconds: float, out: Path | None) -> Any:
    if out is None:
        return None
    from bench.profile import _record

    out.parent.mkdir(parents=True, exist_ok=True)
    return _record(pid, seconds, out)


def _print_profile(raw: Path) -> None:
    from bench.profile import hot_lines, summarise

    total, own, inclusive = summarise(raw, top=30)
    print(f"  py-spy {raw} ({total} samples)\n  self:")
    for name, share in own:
        print(f"    {share:5.1f} {name}")
    print("  inclusive:")
    for name, share in inclusive:
        print(f"    {share:5.1f} {name}")
    print("  innermost katka line:")
    for name, share in hot_lines(raw, 15):
        print(f"    {share:5.1f} {name}")


def idle(broker: Any, connections: int, seconds: float, version: int, profile: Path | None) -> None:
    answered = procs.CTX.Value("q", 0, lock=False)
    ready, done = procs.CTX.Event(), procs.CTX.Event()
    worker = procs.start(
        idle_pollers, "127.0.0.1", broker.port, IDLE_TOPIC, connections, version, answered,
        ready, done,
    )  # fmt: skip
    try:
        if not ready.wait(120):
            raise procs.WorkerFailed(f"{connections} idle pollers never became ready")
        spy = _spy(broker.pid, seconds, profile)
        polls_before, cpu_before, began = answered.value, broker.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        polls, cpu = answered.value - polls_before, broker.cpu_seconds() - cpu_before
        elapsed = time.monotonic() - began
    finally:
        done.set()
    procs.collect(*worker, timeout=60)
    print(
        f"idle Fetch v{version}, {connections} connections: {polls / elapsed:.0f} expired polls/s, "
        f"broker CPU {cpu / elapsed:.3f} s/s, {cpu / max(polls, 1) * 1e6:.1f} µs per expired poll"
    )
    if spy is not None:
        spy.wait(60)
        _print_profile(profile)  # type: ignore[arg-type]


def woken(broker: Any, records: int, version: int, profile: Path | None, rounds: int = 3) -> None:
    """`rounds` alternating pairs (produce alone, then with the fetcher): the median pair's
    difference is reported, so a burst of other work on the machine moves one pair only."""
    differences, pairs = [], []
    for round_number in range(rounds):
        figures = {}
        for with_fetcher in (False, True):
            last = round_number == rounds - 1 and with_fetcher
            spy = _spy(broker.pid, 8, profile) if last else None
            cpu_before = broker.cpu_seconds()
            result = procs.run(
                lockstep, "127.0.0.1", broker.port, WOKEN_TOPIC, version, records, with_fetcher,
                timeout=records * 0.05 + 120,
            )  # fmt: skip
            figures[with_fetcher] = (broker.cpu_seconds() - cpu_before) / records * 1e6
            if with_fetcher and result["woken"] < records * 0.95:
                print(f"  (only {result['woken']} of {records} polls woke with their record)")
            if spy is not None:
                spy.wait(60)
        differences.append(figures[True] - figures[False])
        pairs.append((figures[False], figures[True]))
    median = sorted(range(rounds), key=lambda i: differences[i])[rounds // 2]
    alone, both = pairs[median]
    print(
        f"woken Fetch v{version} (median of {rounds} pairs, {records} records each): broker CPU "
        f"per record {alone:.1f} µs produce alone, {both:.1f} µs with the woken fetch: "
        f"{both - alone:.1f} µs per woken fetch (all pairs: "
        + ", ".join(f"{d:.0f}" for d in differences)
        + ")"
    )
    if profile is not None:
        _print_profile(profile)


def run(
    cases: list[str],
    connections: int,
    seconds: float,
    records: int,
    version: int,
    profile: Path | None,
) -> None:
    import os

    from bench.brokers import start_broker
    from bench.run import SPECS
    from bench.workloads import create_topic

    spec = next(s for s in SPECS if s.name == "katka")
    broker, _ = start_broker(spec)
    try:
        print(f"load average {os.getloadavg()[0]:.2f} at start")
        if "idle" in cases:
            create_topic(broker, IDLE_TOPIC, connections)
            idle(broker, connections, seconds, version, profile and profile / "idle.raw")
        if "woken" in cases:
            create_topic(broker, WOKEN_TOPIC, 1)
            woken(broker, records, version, profile and profile / "woken.raw")
        print(f"load average {os.getloadavg()[0]:.2f} at end")
    finally:
        broker.stop()
