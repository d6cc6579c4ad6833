"""A producer that batches as the Java client does, for issue 17's 10,000-partition row.

librdkafka sends one partition per Produce request, so a producer spreading 2,000 records/s
over 10,000 partitions sends a request per record. The Java client (and aiokafka and
kafka-python, which copy its accumulator) put every partition's pending batch for a node in one
request. aiokafka 0.14 and kafka-python 3.0 cannot drive 2,000 records/s over 10,000
partitions on this 2-core machine: their own CPU there is about 1 ms per record (0.9 and 1.1 ms
measured), they fall behind and send a few requests of thousands of partitions. This worker
speaks the protocol directly (Produce v3, plain asyncio sockets) and keeps the Java
RecordAccumulator's rule:

- a record joins its partition's open batch; a partition without one opens it (and its clock);
- the node is ready when the oldest open batch has waited linger.ms; the request then takes
  every partition's open batch, lingered or not, up to max.request.size (1 MiB);
- at most 5 requests in flight (max.in.flight.requests.per.connection); a flush makes
  everything ready.

One partition at 2,000 records/s and linger.ms 5 then gives about ten records in one batch per
request; 10,000 partitions give the same number of requests, each about ten one-record batches
of ten partitions. The single node is the leader of every partition (one-node brokers only).
"""

from __future__ import annotations

import asyncio
import datetime
import io
import struct
import time
from typing import Any

from bench.cost_workers import PRODUCE, PRODUCE_VERSION, _read_reply

MAX_REQUEST_BYTES = 1 << 20
MAX_IN_FLIGHT = 5
WARM_UP_PARTITIONS_PER_REQUEST = 1_000
VALUE = b"b" * 100


def _produce_request(topic: str, batches: dict[int, int], correlation_id: int) -> bytes:
    """One Produce v3 request (acks=all) holding, per partition, one batch of that many
    100-byte records."""
    from kio.schema.produce.v3 import request as produce
    from kio.schema.types import TopicName
    from kio.serial import entity_writer
    from kio.static.primitive import i16, i32

    from katka.protocol.records import build_batch

    now_ms = int(time.time() * 1000)
    request = produce.ProduceRequest(
        transactional_id=None,
        acks=i16(-1),
        timeout=datetime.timedelta(seconds=30),
        topic_data=(
            produce.TopicProduceData(
                name=TopicName(topic),
                partition_data=tuple(
                    produce.PartitionProduceData(
                        index=i32(partition),
                        records=build_batch([(None, VALUE, (), now_ms)] * count),
                    )
                    for partition, count in batches.items()
                ),
            ),
        ),
    )
    body = io.BytesIO()
    entity_writer(type(request))(body, request)
    header = struct.pack(">hhih", PRODUCE, PRODUCE_VERSION, correlation_id, 5) + b"bench"
    payload = header + body.getvalue()
    return struct.pack(">i", len(payload)) + payload


def _acknowledged(reply: bytes, batches: dict[int, int]) -> int:
    """Records of `batches` that the Produce v3 reply acknowledges (error code 0)."""
    from kio.schema.produce.v3.response import ProduceResponse
    from kio.serial import entity_reader

    response, _ = entity_reader(ProduceResponse)(reply, 4)  # after the correlation id
    return sum(
        batches.get(partition.index, 0)
        for topic in response.responses
        for partition in topic.partition_responses
        if partition.error_code == 0
    )


class _Connection:
    """One connection with its requests in flight, answered in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.in_flight: list[dict[int, int]] = []
        self.requests = 0
        self.partitions_sent = 0
        self.acknowledged = 0
        self.answered = asyncio.Event()
        self.replies = asyncio.create_task(self._read_replies())

    def send(self, topic: str, batches: dict[int, int]) -> None:
        self.requests += 1
        self.partitions_sent += len(batches)
        self.in_flight.append(batches)
        self.writer.write(_produce_request(topic, batches, self.requests))

    async def _read_replies(self) -> None:
        while True:
            reply = await _read_reply(self.reader)
            self.acknowledged += _acknowledged(reply, self.in_flight.pop(0))
            self.answered.set()

    async def drained(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            self.answered.clear()
            try:
                await asyncio.wait_for(self.answered.wait(), deadline - time.monotonic())
            except TimeoutError:
                break

    def close(self) -> None:
        self.replies.cancel()
        self.writer.close()


def _take(pending: dict[int, list[float]]) -> dict[int, int]:
    """Every partition's open batch, oldest first, up to MAX_REQUEST_BYTES."""
    batches: dict[int, int] = {}
    size = 0
    for partition, (_opened, count) in list(pending.items()):
        size += 61 + count * (len(VALUE) + 8) + 12  # batch header, records, partition entry
        if batches and size > MAX_REQUEST_BYTES:
            break
        batches[partition] = int(count)
        del pending[partition]
    return batches


def batching_producer(
    host: str,
    port: int,
    topic: str,
    partitions: int,
    rate: int,
    seconds: float,
    linger_ms: float,
    warmed: Any,
    go: Any,
    queue: Any,
) -> None:
    """`rate` 100-byte records/s, record i to partition i mod `partitions`, for `seconds`.
    First one record to every partition (a partition's first append is paid once, not in the
    measured window), then `warmed` is set and sending starts at `go` (either may be None).
    Reports records sent and acknowledged, Produce requests, partitions per request and the
    worker's own CPU seconds over the measured part."""

    async def main() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        connection = _Connection(reader, writer)
        for first in range(0, partitions, WARM_UP_PARTITIONS_PER_REQUEST):
            last = min(first + WARM_UP_PARTITIONS_PER_REQUEST, partitions)
            connection.send(topic, dict.fromkeys(range(first, last), 1))
            await connection.drained(120)
        warm = (connection.requests, connection.partitions_sent, connection.acknowledged)
        if warmed is not None:
            warmed.set()
        while go is not None and not go.is_set():
            await asyncio.sleep(0.01)
        linger = linger_ms / 1000
        pending: dict[int, list[float]] = {}  # partition -> [batch opened at, records]
        cpu_before, began = time.process_time(), time.perf_counter()
        sent = 0
        while (now := time.perf_counter() - began) < seconds:
            due = int(now * rate) + 1
            while sent < due:
                batch = pending.get(sent % partitions)
                if batch is None:
                    pending[sent % partitions] = [now, 1]
                else:
                    batch[1] += 1
                sent += 1
            oldest = next(iter(pending.values()))[0] if pending else None
            if oldest is not None and now - oldest >= linger:
                if len(connection.in_flight) >= MAX_IN_FLIGHT:
                    connection.answered.clear()
                    await connection.answered.wait()
                    continue
                connection.send(topic, _take(pending))
                oldest = next(iter(pending.values()))[0] if pending else None
            wake = sent / rate if oldest is None else min(sent / rate, oldest + linger)
            await asyncio.sleep(max(wake - (time.perf_counter() - began), 0))
        while pending:  # flush: everything is ready
            if len(connection.in_flight) >= MAX_IN_FLIGHT:
                connection.answered.clear()
                await connection.answered.wait()
                continue
            connection.send(topic, _take(pending))
        await connection.drained(60)
        cpu = time.process_time() - cpu_before
        connection.close()
        requests = connection.requests - warm[0]
        queue.put(
            {
                "sent": sent,
                "acknowledged": connection.acknowledged - warm[2],
                "warm_up_acknowledged": warm[2],
                "produce_requests": requests,
                "partitions_per_request": round(
                    (connection.partitions_sent - warm[1]) / max(requests, 1), 2
                ),
                "client_cpu_s": round(cpu, 3),
            }
        )

    asyncio.run(main())
