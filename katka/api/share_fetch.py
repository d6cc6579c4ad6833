"""ShareFetch (key 78), v1-2: fetch records of a share group's partitions under acquisition
locks, acknowledging earlier ones in the same request (KIP-932).

A share session (per group and member) remembers the partitions: epoch 0 opens it with the
request's partitions, later epochs add partitions and forget `forgotten_topics_data`, -1 closes
it (then only the piggybacked acknowledgements are applied, nothing is fetched, and the
member's records still acquired are released; closing the connection that opened the session
does the same). Each partition
answers the whole batches it read and the offsets it acquired for this member with their
delivery counts; the client hands out only the acquired ones. With nothing to acquire the
request parks up to max_wait for new records or released ones.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, millis, response_module, timedelta_ms
from katka.api._share import (
    acknowledge,
    close_session,
    open_session,
    share_partition,
    topic_name,
)
from katka.api.context import RequestContext
from katka.coordinator.share.partition import AcquiredRange
from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import scan_batches

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 78
VERSIONS = range(1, 3)

# Read at most this much per partition and fetch (Kafka's max.partition.fetch.bytes default):
# a share fetch acquires max_records, not max_bytes, and the rest would be sent for nothing.
PARTITION_READ_BYTES = 1024 * 1024

Acked = dict[tuple[uuid.UUID, int], ErrorCode]
Fetched = dict[tuple[uuid.UUID, int], tuple[bytes | memoryview, list[AcquiredRange], ErrorCode]]


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    group_id, member_id = request.group_id or "", request.member_id or ""
    epoch = request.share_session_epoch
    if not node.coordinator.is_active:
        return _answer(m, node, group_id, ErrorCode.coordinator_load_in_progress, {}, {})
    has_acks = any(p.acknowledgement_batches for t in request.topics for p in t.partitions)
    if epoch == 0 and has_acks:
        return _answer(m, node, group_id, ErrorCode.invalid_request, {}, {})
    try:
        session = open_session(ctx, node, group_id, member_id, epoch)
    except KafkaError as error:
        return _answer(m, node, group_id, error.code, {}, {})
    acked: Acked = {}
    for topic in request.topics:
        for partition in topic.partitions:
            if partition.acknowledgement_batches:
                acked[(topic.topic_id, partition.partition_index)] = acknowledge(
                    node,
                    group_id,
                    member_id,
                    topic.topic_id,
                    partition.partition_index,
                    partition.acknowledgement_batches,
                )
    if epoch == -1:
        close_session(node, group_id, member_id)
        return _answer(m, node, group_id, ErrorCode.none, acked, {})
    for topic in request.topics:
        for partition in topic.partitions:
            session.partitions[(topic.topic_id, partition.partition_index)] = None
    for forgotten in request.forgotten_topics_data:
        for index in forgotten.partitions:
            session.partitions.pop((forgotten.topic_id, index), None)
    wanted = list(session.partitions)
    fetched = _acquire(node, group_id, member_id, wanted, request.max_records, request.max_bytes)
    max_wait_ms = millis(request.max_wait)
    if any(acquired for _, acquired, _ in fetched.values()) or max_wait_ms <= 0 or not wanted:
        return _answer(m, node, group_id, ErrorCode.none, acked, fetched)
    return _long_poll(m, node, group_id, member_id, request, wanted, max_wait_ms, acked)


async def _long_poll(
    m: Any,
    node: Node,
    group_id: str,
    member_id: str,
    request: Any,
    wanted: list[tuple[uuid.UUID, int]],
    max_wait_ms: int,
    acked: Acked,
) -> Any:
    """Wait for appends (or releases) on the session's partitions, or for a lock to expire."""
    names: dict[tuple[str, int], None] = {}
    for topic_id, partition in wanted:
        try:
            names[(topic_name(node, topic_id), partition)] = None
        except KafkaError:
            pass
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait_ms / 1000
    fetched: Fetched = {}
    with node.appends.parked(names) as waiter:
        while (remaining := deadline - loop.time()) > 0:
            lock_deadlines = [
                d for key in wanted if (d := _next_lock_deadline(node, group_id, key)) is not None
            ]
            if lock_deadlines:
                remaining = min(
                    remaining, max(0.0, (min(lock_deadlines) - node.clock.now_ms()) / 1000) + 0.01
                )
            await waiter.changed(remaining)
            fetched = _acquire(
                node, group_id, member_id, wanted, request.max_records, request.max_bytes
            )
            if any(acquired for _, acquired, _ in fetched.values()):
                break
    return _answer(m, node, group_id, ErrorCode.none, acked, fetched)


def _next_lock_deadline(node: Node, group_id: str, key: tuple[uuid.UUID, int]) -> int | None:
    try:
        return share_partition(node, group_id, *key).next_deadline()
    except KafkaError:
        return None


def _acquire(
    node: Node,
    group_id: str,
    member_id: str,
    wanted: list[tuple[uuid.UUID, int]],
    max_records: int,
    max_bytes: int,
) -> Fetched:
    """Read and acquire from each partition in turn, within max_records and max_bytes."""
    fetched: Fetched = {}
    records_left = max_records if max_records > 0 else 500
    bytes_left = max_bytes  # 0 (fetch.max.bytes=0): nothing, as Kafka answers (librdkafka 0180)
    now_ms = node.clock.now_ms()
    for topic_id, partition in wanted:
        key = (topic_id, partition)
        try:
            target = share_partition(node, group_id, topic_id, partition)
            if records_left <= 0 or bytes_left <= 0:
                continue
            log = node.topics.get_log(topic_name(node, topic_id), partition)
            start = target.next_fetch_offset()
            readable = (
                log.last_stable_offset if target.config.read_committed else log.high_watermark
            )
            if start >= readable:
                continue
            data = log.read(
                start, min(bytes_left, PARTITION_READ_BYTES), readable, min_one_batch=True
            )
            headers = list(scan_batches(data, verify_crc=False))
            end = headers[-1].next_offset if headers else start
            aborted = _aborted_batches(log, headers) if target.config.read_committed else []
            acquired = target.acquire(member_id, now_ms, end, records_left, aborted)
            if acquired:
                data = _covering(data, headers, acquired[-1].last_offset)
            if any(r.delivery_count > 1 for r in acquired):  # a redelivery: keep its count
                node.coordinator.share_partitions.persist([(group_id, topic_id, partition)])
        except KafkaError as error:
            fetched[key] = (b"", [], error.code)
            continue
        if acquired:
            records_left -= sum(r.last_offset - r.first_offset + 1 for r in acquired)
            bytes_left -= len(data)
            fetched[key] = (data, acquired, ErrorCode.none)
    return fetched


def _aborted_batches(log: Any, headers: list[Any]) -> list[tuple[int, int]]:
    """(first, last) offsets of the read batches that belong to aborted transactions."""
    if not headers:
        return []
    transactions = log.aborted_transactions(headers[0].base_offset, headers[-1].next_offset)
    return [
        (header.base_offset, header.next_offset - 1)
        for header in headers
        if header.is_transactional
        and not header.is_control
        and any(
            t.producer_id == header.producer_id
            and t.first_offset <= header.base_offset <= t.last_offset
            for t in transactions
        )
    ]


def _covering(data: bytes | memoryview, headers: list[Any], last_offset: int) -> bytes | memoryview:
    """The read batches up to the one holding `last_offset`: the client is sent only batches
    with records it acquired (or records in between, which it skips as not acquired)."""
    for header in headers:
        if header.last_offset >= last_offset:
            return data[: header.position + header.size]
    return data


def _answer(
    m: Any, node: Node, group_id: str, error: ErrorCode, acked: Acked, fetched: Fetched
) -> Any:
    by_topic: dict[uuid.UUID, list[Any]] = {}
    for key in dict.fromkeys([*acked, *fetched]):
        data, acquired, code = fetched.get(key, (b"", [], ErrorCode.none))
        by_topic.setdefault(key[0], []).append(
            make(
                m.PartitionData,
                partition_index=key[1],
                error_code=code,
                error_message=None,
                acknowledge_error_code=acked.get(key, ErrorCode.none),
                acknowledge_error_message=None,
                current_leader=make(m.LeaderIdAndEpoch, leader_id=node.node_id, leader_epoch=0),
                records=data if acquired else b"",
                acquired_records=tuple(
                    make(
                        m.AcquiredRecords,
                        first_offset=r.first_offset,
                        last_offset=r.last_offset,
                        delivery_count=r.delivery_count,
                    )
                    for r in acquired
                ),
            )
        )
    lock_ms = node.coordinator.share_partitions.config_for(group_id).lock_duration_ms
    return make(
        m.ShareFetchResponse,
        throttle_time=ZERO,
        error_code=error,
        error_message=None,
        acquisition_lock_timeout=timedelta_ms(lock_ms),
        responses=tuple(
            make(m.ShareFetchableTopicResponse, topic_id=topic_id, partitions=tuple(partitions))
            for topic_id, partitions in by_topic.items()
        ),
        node_endpoints=(),
    )
