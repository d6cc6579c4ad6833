"""Incremental fetch sessions (KIP-227): the broker remembers what a consumer fetches, so a
fetch names only the partitions whose position changed and the response carries only the
partitions with something to say.

Theory of operation. A full fetch with epoch 0 creates a session (when the cache has a free
slot or may evict one) holding every requested partition with the high watermark and log start
offset last sent; the response carries its id and the next request epoch is 1. An incremental
fetch (id != 0, epoch > 0) must name a cached session and its expected epoch, else
FETCH_SESSION_ID_NOT_FOUND / INVALID_FETCH_SESSION_EPOCH. It adds or updates the partitions it
names and drops the forgotten ones; the epoch then moves on. A partition goes into the response
when it has records or an error, or its high watermark or log start offset differs from what
was last sent (Kafka's CachedPartition.maybeUpdateResponseData); those move to the end of the
session's order so every partition gets its turn at the byte limit. A full fetch naming a
session closes it; epoch -1 (FINAL_EPOCH) creates none.

Cost. Each session keeps a `PartitionWaiter` registered on its partitions for its lifetime, so
appends mark the partitions they changed. A fetch reads only the partitions it names, those
marked changed, and those still owing the client something (records left unread, an error):
a consumer of 1,000 partitions with data on a few pays for the few. Changes that do not go
through the notifier (retention moving a log start offset) show at the partition's next change.

Eviction follows Kafka's FetchSessionCache for clients (sessions are never privileged here):
when every slot is used, the least recently used session goes if it was idle longer than
EVICTION_MS; else the smallest session that was older than EVICTION_MS when last used goes,
if it holds fewer partitions than the one being created.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from katka.api._appends import AppendNotifier, PartitionWaiter, TopicPartition
from katka.errors import ErrorCode, KafkaError

INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0
FINAL_EPOCH = -1
EVICTION_MS = 120_000  # Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS


@dataclass(slots=True)
class CachedPartition:
    """One partition of a session: the client's position and what it was last sent."""

    partition: int
    fetch_offset: int
    partition_max_bytes: int
    current_leader_epoch: int = -1
    high_watermark: int = -1  # -1: never sent (or an error was), so the next answer goes out
    log_start_offset: int = -1
    order: int = 0  # position in the session's round robin


@dataclass(frozen=True, slots=True)
class PartitionResult:
    """What one read of a partition found."""

    error: int
    high_watermark: int
    log_start_offset: int
    record_bytes: int
    owes_more: bool  # records beyond the fetch offset remain readable, or an error stands


@dataclass(eq=False)
class FetchSession:
    id: int
    partitions: dict[TopicPartition, CachedPartition]
    created_ms: int
    last_used_ms: int
    epoch: int = 1  # the epoch the next incremental request must carry
    waiter: PartitionWaiter = field(default_factory=PartitionWaiter)
    # partitions to read at the next fetch even if nothing changed
    pending: set[TopicPartition] = field(default_factory=set)
    cached_size: int = 0  # as of the last touch (what eviction compares)
    evictable: bool = False  # older than EVICTION_MS at the last touch
    _next_order: int = 0

    def place_last(self, partition: TopicPartition) -> None:
        self._next_order += 1
        self.partitions[partition].order = self._next_order

    def candidates(self, requested: Iterable[TopicPartition]) -> list[TopicPartition]:
        """The partitions this fetch must read, in session order: those the request named,
        those changed since the last fetch, those still owing the client something."""
        wanted = set(requested) | self.pending | self.waiter.drain()
        present = [partition for partition in wanted if partition in self.partitions]
        return sorted(present, key=lambda partition: self.partitions[partition].order)

    def complete(self, results: Mapping[TopicPartition, PartitionResult]) -> list[TopicPartition]:
        """Record what the response sends; returns the partitions it includes, in order."""
        included = []
        for partition, result in results.items():
            cached = self.partitions.get(partition)
            if cached is None:
                continue
            if result.owes_more:
                self.pending.add(partition)
            else:
                self.pending.discard(partition)
            if result.error != ErrorCode.none:
                cached.high_watermark = -1  # resent once the error clears
                included.append(partition)
                continue
            changed = (
                cached.high_watermark != result.high_watermark
                or cached.log_start_offset != result.log_start_offset
            )
            cached.high_watermark = result.high_watermark
            cached.log_start_offset = result.log_start_offset
            if changed or result.record_bytes > 0:
                included.append(partition)
        for partition in included:
            self.place_last(partition)
        return included


class FetchSessionCache:
    def __init__(
        self,
        max_slots: int,
        notifier: AppendNotifier,
        eviction_ms: int = EVICTION_MS,
        rng: random.Random | None = None,
    ) -> None:
        self.max_slots = max_slots
        self._notifier = notifier
        self._eviction_ms = eviction_ms
        self._rng = rng or random.Random()
        self._sessions: dict[int, FetchSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: int) -> FetchSession | None:
        return self._sessions.get(session_id)

    def maybe_create(
        self, now_ms: int, partitions: dict[TopicPartition, CachedPartition]
    ) -> FetchSession | None:
        """A new session over `partitions` (their order kept), or None when no slot is free
        and none may be evicted for one this size."""
        if len(self._sessions) >= self.max_slots and not self._try_evict(len(partitions), now_ms):
            return None
        session_id = self._new_id()
        session = FetchSession(session_id, {}, created_ms=now_ms, last_used_ms=now_ms)
        for partition, cached in partitions.items():
            session.partitions[partition] = cached
            session.place_last(partition)
        self._notifier.watch(session.waiter, session.partitions)
        self._sessions[session_id] = session
        self._touch(session, now_ms)
        return session

    def for_incremental(self, session_id: int, epoch: int) -> FetchSession:
        """The session an incremental fetch names; raises when it is unknown or the epoch is
        not the one expected."""
        session = self._sessions.get(session_id)
        if session is None:
            raise KafkaError(
                ErrorCode.fetch_session_id_not_found, f"Fetch session {session_id} not found"
            )
        if session.epoch != epoch:
            raise KafkaError(
                ErrorCode.invalid_fetch_session_epoch,
                f"Fetch session {session_id} expected epoch {session.epoch}, got {epoch}",
            )
        return session

    def update(
        self,
        session: FetchSession,
        now_ms: int,
        requested: Mapping[TopicPartition, CachedPartition],
        forgotten: Iterable[TopicPartition],
    ) -> bool:
        """Apply an incremental request: add or update the named partitions, drop the
        forgotten ones, move the epoch on. False (and the session is closed) when no
        partition is left."""
        added = []
        for partition, position in requested.items():
            cached = session.partitions.get(partition)
            if cached is None:
                session.partitions[partition] = position
                session.place_last(partition)
                added.append(partition)
            else:
                cached.fetch_offset = position.fetch_offset
                cached.partition_max_bytes = position.partition_max_bytes
                cached.current_leader_epoch = position.current_leader_epoch
        removed = [p for p in forgotten if session.partitions.pop(p, None) is not None]
        session.pending.difference_update(removed)
        self._notifier.watch(session.waiter, added)
        self._notifier.unwatch(session.waiter, removed)
        if not session.partitions:
            self.remove(session.id)
            return False
        session.epoch = session.epoch + 1 if session.epoch < 2**31 - 1 else 1
        self._touch(session, now_ms)
        return True

    def remove(self, session_id: int) -> FetchSession | None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            self._notifier.unwatch(session.waiter, session.partitions)
        return session

    def _touch(self, session: FetchSession, now_ms: int) -> None:
        session.last_used_ms = now_ms
        session.cached_size = len(session.partitions)
        session.evictable = now_ms - session.created_ms > self._eviction_ms

    def _try_evict(self, size: int, now_ms: int) -> bool:
        if not self._sessions:
            return False
        least_recent = min(self._sessions.values(), key=lambda s: (s.last_used_ms, s.id))
        if now_ms - least_recent.last_used_ms > self._eviction_ms:
            self.remove(least_recent.id)
            return True
        evictable = [s for s in self._sessions.values() if s.evictable]
        if not evictable:
            return False
        weakest = min(evictable, key=lambda s: (s.cached_size, s.id))
        if size <= weakest.cached_size:
            return False
        self.remove(weakest.id)
        return True

    def _new_id(self) -> int:
        while True:
            session_id = self._rng.randint(1, 2**31 - 1)
            if session_id not in self._sessions:
                return session_id
