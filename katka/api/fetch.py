"""Fetch (key 1), v0-12.

Returns stored batch bytes as they are: the client skips records before its fetch offset
inside the first batch. read_uncommitted reads up to the high watermark; read_committed
(isolation_level 1) up to the last stable offset, with the aborted transactions overlapping
the range so the client drops their records (every client drops control batches).
Long poll: when fewer than min_bytes are available the reply is parked on the fetch's own
partitions until they hold min_bytes (or one fails) or max_wait_ms passes. The first batch of
the first non-empty partition is returned whole even above the byte limits (KIP-74). Fetch
sessions (KIP-227) are not created: session id 0 keeps clients on full fetches.
v0-3 (Kafka 4.0 dropped them) read message formats v0 (v0-1) and v1 (v2-3):
protocol/message_sets.py converts the whole batches read, on that path only.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, millis, response_module
from katka.api._partitions import answer_partitions
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.protocol import message_sets

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 1
VERSIONS = range(0, 13)
LEADER_EPOCH = 0
READ_COMMITTED = 1


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    if getattr(request, "session_id", 0) != 0 or getattr(request, "session_epoch", -1) > 0:
        m = response_module(ctx)
        return make(
            m.FetchResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.fetch_session_id_not_found,
            session_id=0,
            responses=(),
        )
    response, total_bytes, has_error = _read(ctx, request, node)
    max_wait_ms = millis(request.max_wait)
    if has_error or total_bytes >= request.min_bytes or max_wait_ms <= 0:
        return response
    return _long_poll(ctx, request, node, max_wait_ms, response)


async def _long_poll(
    ctx: RequestContext, request: Any, node: Node, max_wait_ms: int, first: Any
) -> Any:
    """Park until min_bytes are ready or max_wait_ms passes. The fetch waits on its own
    partitions only; when some change it re-reads those alone (what each partition has ready
    is remembered), and reads the whole response once enough is ready, as Kafka's
    DelayedFetch does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait_ms / 1000
    wanted = {
        (fetch_topic.topic, fetch_partition.partition): fetch_partition
        for fetch_topic in request.topics
        for fetch_partition in fetch_topic.partitions
    }
    ready = {
        (topic.topic, partition.partition_index): len(partition.records)
        for topic in first.responses
        for partition in topic.partitions
    }
    with node.appends.parked(wanted) as waiter:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            changed = await waiter.changed(remaining)
            if not changed:
                break
            try:
                for partition in changed:
                    ready[partition] = _ready_bytes(request, node, partition, wanted[partition])
            except KafkaError:
                break  # the partition failed (deleted, out of range): the full read says how
            if sum(ready.values()) >= request.min_bytes:
                break
    return _read(ctx, request, node)[0]


def _ready_bytes(request: Any, node: Node, partition: tuple[str, int], fetch_partition: Any) -> int:
    """What one partition would return now (raises KafkaError when it would fail)."""
    partition_log = node.topics.get_log(*partition)
    if getattr(request, "isolation_level", 0) == READ_COMMITTED:
        max_offset = partition_log.last_stable_offset
    else:
        max_offset = partition_log.high_watermark
    return len(
        partition_log.read(
            fetch_partition.fetch_offset,
            fetch_partition.partition_max_bytes,
            max_offset,
            min_one_batch=True,
        )
    )


def _read(ctx: RequestContext, request: Any, node: Node) -> tuple[Any, int, bool]:
    """The response as of now, the record bytes in it, and whether a partition failed."""
    m = response_module(ctx)
    max_bytes_of_response = getattr(request, "max_bytes", 0)  # v3+
    remaining_bytes = max_bytes_of_response if max_bytes_of_response > 0 else 2**31 - 1
    read_committed = getattr(request, "isolation_level", 0) == READ_COMMITTED
    total_bytes = 0
    has_error = False

    def answer(fetch_topic: Any, fetch_partition: Any) -> Any:
        nonlocal total_bytes, remaining_bytes
        partition_log = node.topics.get_log(fetch_topic.topic, fetch_partition.partition)
        if getattr(fetch_partition, "current_leader_epoch", -1) > LEADER_EPOCH:
            raise KafkaError(ErrorCode.unknown_leader_epoch)
        high_watermark = partition_log.high_watermark
        last_stable_offset = partition_log.last_stable_offset
        max_offset = last_stable_offset if read_committed else high_watermark
        aborted = None
        if read_committed:
            aborted = tuple(
                make(
                    m.AbortedTransaction, producer_id=txn.producer_id, first_offset=txn.first_offset
                )
                for txn in partition_log.aborted_transactions(
                    fetch_partition.fetch_offset, max_offset
                )
            )
        records: bytes | memoryview = b""
        max_bytes = min(fetch_partition.partition_max_bytes, remaining_bytes)
        if max_bytes > 0 or total_bytes == 0:
            records = partition_log.read(
                fetch_partition.fetch_offset, max_bytes, max_offset, min_one_batch=total_bytes == 0
            )
        total_bytes += len(records)
        remaining_bytes -= len(records)
        if ctx.api_version < 4:
            magic = 0 if ctx.api_version < 2 else 1
            records = message_sets.down_convert(records, magic, fetch_partition.fetch_offset)
        return partition(
            fetch_partition,
            ErrorCode.none,
            high_watermark,
            last_stable_offset,
            partition_log.log_start_offset,
            aborted,
            records,
        )

    def partition(
        fetch_partition: Any,
        error: ErrorCode,
        high_watermark: int = -1,
        last_stable_offset: int = -1,
        log_start_offset: int = -1,
        aborted: tuple[Any, ...] | None = None,
        records: bytes | memoryview = b"",
    ) -> Any:
        return make(
            m.PartitionData,
            partition_index=fetch_partition.partition,
            error_code=error,
            high_watermark=high_watermark,
            last_stable_offset=last_stable_offset,
            log_start_offset=log_start_offset,
            aborted_transactions=aborted,
            preferred_read_replica=-1,
            records=records,
        )

    def refuse(_topic: Any, fetch_partition: Any, error: ErrorCode, _message: str | None) -> Any:
        nonlocal has_error
        has_error = True
        return partition(fetch_partition, error)

    topics = answer_partitions(
        request.topics,
        lambda fetch_topic: fetch_topic.partitions,
        answer,
        refuse,
        lambda fetch_topic, partitions: make(
            m.FetchableTopicResponse, topic=fetch_topic.topic, partitions=partitions
        ),
    )
    response = make(
        m.FetchResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        session_id=0,
        responses=topics,
    )
    return response, total_bytes, has_error
