"""Fetch (key 1), v0-18.

Returns stored batch bytes as they are: the client skips records before its fetch offset
inside the first batch. read_uncommitted reads up to the high watermark; read_committed
(isolation_level 1) up to the last stable offset, with the aborted transactions overlapping
the range so the client drops their records (every client drops control batches).
Long poll: when fewer than min_bytes are available the reply is parked on the fetch's own
partitions until they hold min_bytes (or one fails) or max_wait_ms passes. The first batch of
the first non-empty partition is returned whole even above the byte limits (KIP-74).
Fetch sessions (KIP-227, v7+): epoch 0 creates one, epoch > 0 fetches incrementally (only the
partitions with something to say are read and answered), epoch -1 fetches without one; see
_fetch_sessions.py.
v0-3 (Kafka 4.0 dropped them) read message formats v0 (v0-1) and v1 (v2-3):
protocol/message_sets.py converts the whole batches read, on that path only.
v13+ name topics by id: the request is read by name (an unknown id becomes a name no topic
can have, answered UNKNOWN_TOPIC_ID) and the response names them by id again. v15+'s replica
state, v16+'s leader endpoints and v18's follower high watermark are for followers: none here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from katka.api._appends import PartitionWaiter, TopicPartition
from katka.api._authorize import READ, TOPIC, authorized
from katka.api._build import ZERO, make, millis, response_module
from katka.api._fetch_memo import maybe_remember, remembered
from katka.api._fetch_sessions import (
    FINAL_EPOCH,
    INITIAL_EPOCH,
    CachedPartition,
    FetchSession,
    PartitionResult,
)
from katka.api._partitions import answer_partitions, by_topic
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.protocol import message_sets
from katka.protocol.fetch_response import FIRST_VERSION as FIRST_FAST_FETCH_VERSION
from katka.protocol.fetch_response import Fetched, FetchedPartition, FetchedTopic

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 1
VERSIONS = range(0, 19)
FIRST_TOPIC_ID_VERSION = 13
UNKNOWN_ID_PREFIX = "\x00unknown topic id "  # no topic name holds a NUL
FIRST_SESSION_VERSION = 7
LEADER_EPOCH = 0
READ_COMMITTED = 1


@dataclasses.dataclass(frozen=True, slots=True)
class _NamedTopic:
    """A v13+ FetchTopic or ForgottenTopic as the rest of the handler reads it: by name."""

    topic: str
    topic_id: uuid.UUID
    partitions: tuple[Any, ...]


def _name_of(node: Node, topic_id: uuid.UUID) -> str:
    info = node.topics.catalog.by_id(topic_id)
    return info.name if info is not None else f"{UNKNOWN_ID_PREFIX}{topic_id}"


def _id_of(node: Node, name: str) -> uuid.UUID:
    if name.startswith(UNKNOWN_ID_PREFIX):
        return uuid.UUID(name.removeprefix(UNKNOWN_ID_PREFIX))
    info = node.topics.catalog.get(name)
    return info.topic_id if info is not None else uuid.UUID(int=0)


def _topic_name(node: Node, topic_response: Any) -> str:
    """The name of a FetchableTopicResponse of any version."""
    name = getattr(topic_response, "topic", None)
    return name if name is not None else _name_of(node, topic_response.topic_id)


def _by_name(request: Any, node: Node) -> Any:
    return dataclasses.replace(
        request,
        topics=tuple(
            _NamedTopic(_name_of(node, t.topic_id), t.topic_id, t.partitions)
            for t in request.topics
        ),
        forgotten_topics_data=tuple(
            _NamedTopic(_name_of(node, t.topic_id), t.topic_id, t.partitions)
            for t in request.forgotten_topics_data
        ),
    )


def handle(ctx: RequestContext, request: Any, node: Node, max_wait_ms: int | None = None) -> Any:
    """`max_wait_ms`: the wait left to a full fetch parked by the connection and woken
    (server/idle_fetch.py); None: the request's own."""
    session_id = getattr(request, "session_id", 0)
    epoch = getattr(request, "session_epoch", FINAL_EPOCH)
    if epoch == FINAL_EPOCH and session_id == 0:  # a full fetch outside any session
        memo = remembered(ctx.session, request, node)
        if memo is not None:  # an idle consumer's same fetch: nothing it reads has changed
            return _full_fetch(
                ctx, memo.request, node, False, (memo.response, None), max_wait_ms=max_wait_ms
            )
        decoded = request
        if ctx.api_version >= FIRST_TOPIC_ID_VERSION:
            request = _by_name(request, node)
        return _full_fetch(ctx, request, node, False, remember=decoded, max_wait_ms=max_wait_ms)
    if ctx.api_version >= FIRST_TOPIC_ID_VERSION:
        request = _by_name(request, node)
    sessions = node.fetch_sessions
    if epoch in (INITIAL_EPOCH, FINAL_EPOCH):
        if session_id != 0:
            sessions.remove(session_id)  # a full fetch closes the session it names
        create = epoch == INITIAL_EPOCH and ctx.api_version >= FIRST_SESSION_VERSION
        return _full_fetch(ctx, request, node, create)
    try:
        session = sessions.for_incremental(session_id, epoch)
    except KafkaError as error:
        return make(
            response_module(ctx).FetchResponse,
            throttle_time=ZERO,
            error_code=error.code,
            session_id=0,
            responses=(),
        )
    requested = _requested(request)
    forgotten = [
        (topic.topic, partition)
        for topic in request.forgotten_topics_data
        for partition in topic.partitions
    ]
    if not sessions.update(session, node.clock.monotonic_ms(), requested, forgotten):
        return _full_fetch(ctx, request, node, create_session=False)  # nothing left to fetch
    return _incremental_fetch(ctx, request, node, session, requested)


# --- full fetches ---------------------------------------------------------------------


def _full_fetch(
    ctx: RequestContext,
    request: Any,
    node: Node,
    create_session: bool,
    first: tuple[Any, _Reader | None] | None = None,
    remember: Any = None,
    max_wait_ms: int | None = None,
) -> Any:
    """`first`: a remembered answer (its reader None: nothing read, nothing to count);
    `remember`: the decoded request to remember this answer under (_fetch_memo.py)."""
    if first is None:
        response, reader = _read(ctx, request, node)
        if remember is not None:
            maybe_remember(ctx.session, remember, request, response, node)
    else:
        response, reader = first[0], first[1] or _Reader(ctx, request, node)
    if max_wait_ms is None:
        max_wait_ms = millis(request.max_wait)
    if reader.has_error or reader.total_bytes >= request.min_bytes or max_wait_ms <= 0:
        reader.count_returned()
        return _maybe_create_session(request, node, response) if create_session else response
    return _full_long_poll(ctx, request, node, max_wait_ms, (response, reader), create_session)


async def _full_long_poll(
    ctx: RequestContext,
    request: Any,
    node: Node,
    max_wait_ms: int,
    first: tuple[Any, _Reader],
    create_session: bool,
) -> Any:
    response = await _long_poll(ctx, request, node, max_wait_ms, first)
    return _maybe_create_session(request, node, response) if create_session else response


def _maybe_create_session(request: Any, node: Node, response: Any) -> Any:
    """Cache what this full response sent, so the client may fetch incrementally next."""
    answered = {
        (_topic_name(node, topic), partition.partition_index): partition
        for topic in response.responses
        for partition in topic.partitions
    }
    read_committed = getattr(request, "isolation_level", 0) == READ_COMMITTED
    partitions = _requested(request)
    owing = set()
    for key, cached in partitions.items():
        data = answered[key]
        if data.error_code != ErrorCode.none:
            owing.add(key)
            continue
        cached.high_watermark = data.high_watermark
        cached.log_start_offset = data.log_start_offset
        readable = data.last_stable_offset if read_committed else data.high_watermark
        if cached.fetch_offset < readable:
            owing.add(key)
    session = node.fetch_sessions.maybe_create(node.clock.monotonic_ms(), partitions)
    if session is None:
        return response
    session.pending = owing
    return dataclasses.replace(response, session_id=session.id)


def _requested(request: Any) -> dict[TopicPartition, CachedPartition]:
    return {
        (topic.topic, partition.partition): CachedPartition(
            partition.partition,
            partition.fetch_offset,
            partition.partition_max_bytes,
            getattr(partition, "current_leader_epoch", -1),
        )
        for topic in request.topics
        for partition in topic.partitions
    }


async def _long_poll(
    ctx: RequestContext, request: Any, node: Node, max_wait_ms: int, first: tuple[Any, _Reader]
) -> Any:
    """Park until min_bytes are ready or max_wait_ms passes. The fetch waits on its own
    partitions only; when some change it re-reads those alone (what each partition has ready
    is remembered), and reads the whole response once enough is ready, as Kafka's
    DelayedFetch does. When none changed, the first read still stands and is the answer."""
    wanted = {
        (fetch_topic.topic, fetch_partition.partition): fetch_partition
        for fetch_topic in request.topics
        for fetch_partition in fetch_topic.partitions
    }

    def ready() -> dict[TopicPartition, int]:
        return {
            (_topic_name(node, topic), partition.partition_index): len(partition.records)
            for topic in first[0].responses
            for partition in topic.partitions
        }

    waiter = PartitionWaiter()
    node.appends.watch(waiter, wanted)
    try:
        changed, reads = await _wait_for_min_bytes(
            request, node, waiter, max_wait_ms, wanted, ready
        )
    finally:
        node.appends.unwatch(waiter, wanted)
    response, reader = _read(ctx, request, node, reads) if changed else first
    reader.count_returned()
    return response


async def _wait_for_min_bytes(
    request: Any,
    node: Node,
    waiter: PartitionWaiter,
    max_wait_ms: int,
    wanted: dict[TopicPartition, Any],
    first_ready: Callable[[], dict[TopicPartition, int]],
) -> tuple[set[TopicPartition], dict[TopicPartition, bytes | memoryview]]:
    """Wait until the partitions ready hold min_bytes, one fails, or the time is up; returns
    the partitions that changed meanwhile, and what the last look read from them when it
    ended the wait (the caller answers in the same loop turn, so those reads still stand
    and need not be read again: see _Reader.prefetched). `first_ready`: what each partition
    had ready when the fetch parked (asked for only once one changes: an idle poll never
    needs it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait_ms / 1000
    seen: set[TopicPartition] = set()
    ready: dict[TopicPartition, int] = {}
    while (remaining := deadline - loop.time()) > 0:
        changed = await waiter.changed(remaining)
        if not changed:
            break
        if not seen:
            ready = first_ready()
        seen |= changed
        reads: dict[TopicPartition, bytes | memoryview] = {}
        try:
            for partition in changed:
                if partition in wanted:
                    records = _ready_records(request, node, partition, wanted[partition])
                    reads[partition] = records
                    ready[partition] = len(records)
        except KafkaError:
            return seen, reads  # the partition failed (deleted, out of range): the read says how
        if sum(ready.values()) >= request.min_bytes:
            return seen, reads
    return seen, {}


def _ready_records(
    request: Any, node: Node, partition: tuple[str, int], fetch_partition: Any
) -> bytes | memoryview:
    """What one partition would return now as the response's first partition with records
    (raises KafkaError when it would fail)."""
    partition_log = node.topics.get_log(*partition)
    if getattr(request, "isolation_level", 0) == READ_COMMITTED:
        max_offset = partition_log.last_stable_offset
    else:
        max_offset = partition_log.high_watermark
    return partition_log.read(
        fetch_partition.fetch_offset,
        fetch_partition.partition_max_bytes,
        max_offset,
        min_one_batch=True,
    )


# --- incremental fetches (a session) -------------------------------------------------------


def _incremental_fetch(
    ctx: RequestContext,
    request: Any,
    node: Node,
    session: FetchSession,
    requested: dict[TopicPartition, CachedPartition],
) -> Any:
    candidates = session.candidates(requested)
    reader = _Reader(ctx, request, node)
    answers = reader.read_partitions(candidates, session.partitions)
    max_wait_ms = millis(request.max_wait)
    if reader.has_error or reader.total_bytes >= request.min_bytes or max_wait_ms <= 0:
        reader.count_returned()
        return _session_response(ctx, session, reader, answers)
    return _incremental_long_poll(ctx, request, node, session, candidates, reader, max_wait_ms)


async def _incremental_long_poll(
    ctx: RequestContext,
    request: Any,
    node: Node,
    session: FetchSession,
    candidates: list[TopicPartition],
    first: _Reader,
    max_wait_ms: int,
) -> Any:
    """Park on the session's own waiter (registered on all its partitions for its life), so
    parking costs nothing per partition; then read what was read before plus what changed."""
    changed, reads = await _wait_for_min_bytes(
        request,
        node,
        session.waiter,
        max_wait_ms,
        session.partitions,
        lambda: {partition: result.record_bytes for partition, result in first.results.items()},
    )
    reader = _Reader(ctx, request, node, reads)
    answers = reader.read_partitions(
        session.candidates({*candidates, *changed}), session.partitions
    )
    reader.count_returned()
    return _session_response(ctx, session, reader, answers)


def _session_response(
    ctx: RequestContext, session: FetchSession, reader: _Reader, answers: dict[TopicPartition, Any]
) -> Any:
    included = session.complete(reader.results)
    by_id = ctx.api_version >= FIRST_TOPIC_ID_VERSION
    topics = by_topic(
        included,
        lambda partition: partition[0],
        lambda partition: answers[partition],
        lambda topic, partitions: FetchedTopic(
            topic, _id_of(reader.node, topic) if by_id else None, partitions
        ),
    )
    return Fetched(topics, session_id=session.id)  # sessions are v7+: light types


# --- reading partitions ------------------------------------------------------------------------


def _read(
    ctx: RequestContext,
    request: Any,
    node: Node,
    prefetched: dict[TopicPartition, bytes | memoryview] | None = None,
) -> tuple[Any, _Reader]:
    """The full response as of now, and its reader (the record bytes in it, whether a
    partition failed)."""
    m = response_module(ctx)
    reader = _Reader(ctx, request, node, prefetched)
    # answer_partitions' rule (every partition answered once, its KafkaError or OSError its
    # error), inlined: a woken long poll reads the whole response once more.
    by_id = ctx.api_version >= FIRST_TOPIC_ID_VERSION
    topics = []
    for fetch_topic in request.topics:
        name = fetch_topic.topic
        partitions = []
        for fetch_partition in fetch_topic.partitions:
            try:
                answer = reader.answer(name, fetch_partition)
            except KafkaError as error:
                answer = reader.refuse(name, fetch_partition, error.code)
            except OSError:
                answer = reader.refuse(name, fetch_partition, ErrorCode.kafka_storage_error)
            partitions.append(answer)
        if reader.light:
            topic = FetchedTopic(name, fetch_topic.topic_id if by_id else None, tuple(partitions))
        elif by_id:
            topic = m.FetchableTopicResponse(
                topic_id=fetch_topic.topic_id, partitions=tuple(partitions)
            )
        else:
            topic = m.FetchableTopicResponse(topic=name, partitions=tuple(partitions))
        topics.append(topic)
    if reader.light:
        return Fetched(tuple(topics)), reader
    response = make(
        m.FetchResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        session_id=0,
        responses=tuple(topics),
    )
    return response, reader


class _Reader:
    """One pass over partitions under the request's byte limits (KIP-74), remembering what
    each partition returned."""

    def __init__(
        self,
        ctx: RequestContext,
        request: Any,
        node: Node,
        prefetched: dict[TopicPartition, bytes | memoryview] | None = None,
    ) -> None:
        self.m = response_module(ctx)
        # Partitions a woken long poll read in this same loop turn, as the first partition
        # with records reads them (min_one_batch, the partition's own byte limit).
        self.prefetched = prefetched or {}
        self.ctx = ctx
        self.node = node
        max_bytes_of_response = getattr(request, "max_bytes", 0)  # v3+
        self.remaining_bytes = max_bytes_of_response if max_bytes_of_response > 0 else 2**31 - 1
        self.api_version = ctx.api_version
        # v4+: the response in fetch_response's types (v0-3: old_versions' entities)
        self.light = ctx.api_version >= FIRST_FAST_FETCH_VERSION
        self.read_committed = getattr(request, "isolation_level", 0) == READ_COMMITTED
        self.total_bytes = 0
        self.has_error = False
        self.results: dict[TopicPartition, PartitionResult] = {}
        # The batches read, counted (BytesOut) only by the read a reply is made of: a long
        # poll may read again.
        self.returned: list[tuple[str, int, bytes | memoryview]] = []

    def count_returned(self) -> None:
        for topic, partition, records in self.returned:
            self.node.stats.fetched(topic, partition, records)

    def read_partitions(
        self, partitions: Iterable[TopicPartition], cached: dict[TopicPartition, CachedPartition]
    ) -> dict[TopicPartition, Any]:
        """Each partition's answer, in the order given (each one a 'topic' of its own for
        answer_partitions, which maps its errors)."""
        answered = answer_partitions(
            [(partition, cached[partition]) for partition in partitions],
            lambda item: (item[1],),
            lambda item, position: self.answer(item[0][0], position),
            lambda item, position, error, _message: self.refuse(item[0][0], position, error),
            lambda item, answers: (item[0], answers[0]),
        )
        return dict(answered)

    def answer(self, topic: str, fetch_partition: Any) -> Any:
        m = self.m
        if topic.startswith(UNKNOWN_ID_PREFIX):
            raise KafkaError(ErrorCode.unknown_topic_id, "This server does not know the topic id.")
        if not authorized(self.ctx, self.node, READ, TOPIC, topic):
            raise KafkaError(ErrorCode.topic_authorization_failed, "Topic authorization failed.")
        partition_log = self.node.topics.get_log(topic, fetch_partition.partition)
        if getattr(fetch_partition, "current_leader_epoch", -1) > LEADER_EPOCH:
            raise KafkaError(ErrorCode.unknown_leader_epoch)
        high_watermark = partition_log.high_watermark
        last_stable_offset = partition_log.last_stable_offset
        max_offset = last_stable_offset if self.read_committed else high_watermark
        fetch_offset = fetch_partition.fetch_offset
        aborted = None
        if self.read_committed:
            aborted = tuple(
                make(
                    m.AbortedTransaction, producer_id=txn.producer_id, first_offset=txn.first_offset
                )
                for txn in partition_log.aborted_transactions(fetch_offset, max_offset)
            )
        records: bytes | memoryview = b""
        max_bytes = min(fetch_partition.partition_max_bytes, self.remaining_bytes)
        prefetched = self.prefetched.get((topic, fetch_partition.partition))
        if (
            prefetched is not None
            and self.total_bytes == 0
            and max_bytes == fetch_partition.partition_max_bytes
        ):
            records = prefetched  # read as this read would, in the same loop turn
        elif max_bytes > 0 or self.total_bytes == 0:
            records = partition_log.read(
                fetch_offset, max_bytes, max_offset, min_one_batch=self.total_bytes == 0
            )
        self.total_bytes += len(records)
        self.remaining_bytes -= len(records)
        if records:
            self.returned.append((topic, fetch_partition.partition, records))
        if self.api_version < 4:
            magic = 0 if self.api_version < 2 else 1
            records = message_sets.down_convert(records, magic, fetch_partition.fetch_offset)
        log_start_offset = partition_log.log_start_offset
        self.results[(topic, fetch_partition.partition)] = PartitionResult(
            ErrorCode.none,
            high_watermark,
            log_start_offset,
            len(records),
            owes_more=fetch_offset < max_offset,
        )
        return self.partition(
            fetch_partition,
            ErrorCode.none,
            high_watermark,
            last_stable_offset,
            log_start_offset,
            aborted,
            records,
        )

    def refuse(self, topic: str, fetch_partition: Any, error: ErrorCode) -> Any:
        self.has_error = True
        self.results[(topic, fetch_partition.partition)] = PartitionResult(
            error, -1, -1, 0, owes_more=True
        )
        return self.partition(fetch_partition, error)

    def partition(
        self,
        fetch_partition: Any,
        error: ErrorCode,
        high_watermark: int = -1,
        last_stable_offset: int = -1,
        log_start_offset: int = -1,
        aborted: tuple[Any, ...] | None = None,
        records: bytes | memoryview = b"",
    ) -> Any:
        if self.light:
            return FetchedPartition(
                fetch_partition.partition,
                error,
                high_watermark,
                last_stable_offset,
                log_start_offset,
                aborted,
                -1,
                records,
            )
        return make(
            self.m.PartitionData,
            partition_index=fetch_partition.partition,
            error_code=error,
            high_watermark=high_watermark,
            last_stable_offset=last_stable_offset,
            log_start_offset=log_start_offset,
            aborted_transactions=aborted,
            preferred_read_replica=-1,
            records=records,
        )
