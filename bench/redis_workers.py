"""Redis Streams clients (redis-py, with hiredis when installed) mirroring the Kafka workloads.

Mapping: a topic of N partitions is N streams `topic:0..N-1`; a keyed record goes to stream
crc32(key) % N as XADD topic:p * k KEY v VALUE. Produce pipelines XADDs (a reply per XADD is
the acknowledgement); "assign" consumption is XREAD from id 0 over every stream; group
consumption is XGROUP CREATE ... 0 then XREADGROUP ... > (records enter the pending list, as
Kafka's consumer would hold uncommitted offsets). Redis runs without persistence (--save "",
appendonly no), like Tansu's memory engine.
"""

from __future__ import annotations

import array
import os
import struct
import time
import zlib
from typing import Any

from bench.kafka_workers import KEYS

PIPELINE = 1000


def _client(port: int) -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)


def _streams(topic: str, partitions: int) -> list[str]:
    return [f"{topic}:{p}" for p in range(partitions)]


def produce(
    port: int, topic: str, partitions: int, count: int, size: int, max_seconds: float, queue: Any
) -> None:
    client = _client(port)
    client.ping()
    value = os.urandom(size)
    streams = _streams(topic, partitions)
    routes = [streams[zlib.crc32(key) % partitions] for key in KEYS]
    acked = 0
    capped = False
    began = time.perf_counter()
    produced = 0
    while produced < count:
        if time.perf_counter() - began > max_seconds:
            capped = True
            break
        pipe = client.pipeline(transaction=False)
        n = min(PIPELINE, count - produced)
        for i in range(produced, produced + n):
            pipe.xadd(routes[i & 1023], {"k": KEYS[i & 1023], "v": value})
        replies = pipe.execute(raise_on_error=False)
        acked += sum(1 for reply in replies if not isinstance(reply, Exception))
        produced += n
    elapsed = time.perf_counter() - began
    queue.put(
        {
            "records": acked,
            "produced": produced,
            "seconds": elapsed,
            "capped": capped,
            "config": {"pipeline": PIPELINE},
        }
    )


def consume(
    port: int,
    topic: str,
    partitions: int,
    expected: int,
    group: str | None,
    stall_seconds: float,
    queue: Any,
) -> None:
    client = _client(port)
    streams = _streams(topic, partitions)
    began = time.perf_counter()
    if group is None:
        positions: dict[str, Any] = {s: "0" for s in streams}
    else:
        for stream in streams:
            client.xgroup_create(stream, group, id="0")
        positions = {s: ">" for s in streams}
    received = 0
    received_bytes = 0
    first_at: float | None = None
    first_batch = first_batch_bytes = 0
    last_at = began
    while received < expected:
        if group is None:
            reply = client.xread(positions, count=10_000, block=500)
        else:
            reply = client.xreadgroup(group, "bench", positions, count=10_000, block=500)
        now = time.perf_counter()
        if not reply:
            if now - last_at > stall_seconds:
                break
            continue
        batch = batch_bytes = 0
        for stream, entries in reply:
            for _entry_id, fields in entries:
                batch += 1
                batch_bytes += len(fields[b"v"])
            if group is None and entries:
                positions[stream.decode()] = entries[-1][0]
        if first_at is None:
            first_at = now
            first_batch, first_batch_bytes = batch, batch_bytes
        received += batch
        received_bytes += batch_bytes
        last_at = now
    queue.put(
        {
            "records": received,
            "bytes": received_bytes,
            "steady_records": received - first_batch,
            "steady_bytes": received_bytes - first_batch_bytes,
            "steady_seconds": (last_at - first_at) if first_at else 0.0,
            "seconds": last_at - began,
            "time_to_first_record_s": (first_at - began) if first_at else None,
            "errors": 0,
            "config": {"count": 10_000, "block_ms": 500},
        }
    )


_STAMP = struct.Struct(">q")


def latency_consumer(
    port: int, topic: str, partitions: int, ready: Any, done: Any, queue: Any
) -> None:
    client = _client(port)
    positions: dict[str, Any] = {s: "$" for s in _streams(topic, partitions)}
    # Resolve "$" to concrete ids once so no entry is skipped between calls.
    for stream in positions:
        info = client.xinfo_stream(stream) if client.exists(stream) else None
        positions[stream] = info["last-generated-id"] if info else "0"
    ready.set()
    samples = array.array("q")
    idle_since: float | None = None
    while True:
        reply = client.xread(positions, count=1000, block=50)
        now = time.monotonic_ns()
        for stream, entries in reply or ():
            for _entry_id, fields in entries:
                samples.append(now - _STAMP.unpack_from(fields[b"v"])[0])
            positions[stream.decode()] = entries[-1][0]
        if done.is_set():
            if reply:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > 1.0:
                break
    queue.put({"samples_ns": samples.tobytes(), "cpu_s": time.process_time()})


def latency_producer(
    port: int, topic: str, partitions: int, rate: int, seconds: float, size: int, queue: Any
) -> None:
    client = _client(port)
    streams = _streams(topic, partitions)
    routes = [streams[zlib.crc32(key) % partitions] for key in KEYS]
    padding = os.urandom(max(0, size - _STAMP.size))
    total = int(rate * seconds)
    began = time.perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - began) * rate) + 1)
        while sent < due:
            key = KEYS[sent & 1023]
            client.xadd(
                routes[sent & 1023], {"k": key, "v": _STAMP.pack(time.monotonic_ns()) + padding}
            )
            sent += 1
        pause = sent / rate - (time.perf_counter() - began)
        if pause > 0:
            time.sleep(pause)
    queue.put(
        {
            "sent": sent,
            "failed": 0,
            "unflushed": 0,
            "seconds": time.perf_counter() - began,
            "cpu_s": time.process_time(),
        }
    )


def create_streams(port: int, topic: str, partitions: int) -> None:
    """Streams exist once written; make them exist up front so consumers can resolve ids."""
    client = _client(port)
    for stream in _streams(topic, partitions):
        client.xadd(stream, {"k": b"init", "v": b"init"})
        client.xtrim(stream, maxlen=0)
