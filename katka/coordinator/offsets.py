"""Committed offsets: the store (mutated only by `apply`) and the rules that produce records.

Theory of operation: a commit is validated (group membership and generation by the group's
protocol, per partition here), turned into offset commit records, appended to the internal log
and only then applied, so the in-memory view never holds an offset the log does not. Replay at
start-up goes through the same `apply`.

Expiry follows Kafka 2.1+ (KIP-211): offsets of a group that has a protocol type expire only
once the group has been Empty for offsets.retention.minutes (counted from when it became
Empty); a Stable consumer group's offsets for topics it no longer subscribes to expire
counted from their commit; offsets of standalone consumers (no protocol type) expire counted
from their commit. An explicit per-commit expire timestamp (OffsetCommit v2-v4) wins. Which rule
applies is the group protocol's call (its manager's `expire_offsets`); the arithmetic is here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from katka.coordinator.records import (
    OffsetKey,
    OffsetValue,
    Record,
    decode_offset_value,
    offset_commit_record,
    offset_tombstone,
)
from katka.coordinator.results import FetchedOffset, OffsetCommitPartition, PartitionResult
from katka.errors import ErrorCode

PartitionExists = Callable[[str, int], bool]
TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class OffsetCommitter:
    """Who commits (OffsetCommit's group fields), checked by the group's protocol."""

    member_id: str
    generation_id: int  # a consumer group member's epoch (OffsetCommit v9+)
    group_instance_id: str | None = None
    # OffsetCommit v9+ (KIP-848): the version consumer protocol members must use, and the one
    # that answers GROUP_ID_NOT_FOUND (older ones: ILLEGAL_GENERATION) for an unknown group.
    member_epoch_capable: bool = False


class OffsetStore:
    """Every group's committed offsets; one store shared by every group protocol."""

    def __init__(self) -> None:
        self._offsets: dict[str, dict[TopicPartition, OffsetValue]] = {}

    def clear(self) -> None:
        self._offsets.clear()

    def apply(self, key: OffsetKey, value: bytes | None) -> None:
        """The only mutation: an offset commit record or its tombstone."""
        tp = (key.topic, key.partition)
        if value is None:
            group = self._offsets.get(key.group_id)
            if group is not None:
                group.pop(tp, None)
                if not group:
                    del self._offsets[key.group_id]
            return
        self._offsets.setdefault(key.group_id, {})[tp] = decode_offset_value(value)

    def get(self, group_id: str, topic: str, partition: int) -> OffsetValue | None:
        return self._offsets.get(group_id, {}).get((topic, partition))

    def group_offsets(self, group_id: str) -> Mapping[TopicPartition, OffsetValue]:
        return dict(self._offsets.get(group_id, {}))

    def has_offsets(self, group_id: str) -> bool:
        return bool(self._offsets.get(group_id))

    def group_ids(self) -> list[str]:
        return list(self._offsets)

    def tombstones(
        self, group_id: str, partitions: Iterable[TopicPartition] | None = None
    ) -> list[Record]:
        """Tombstones for the given committed partitions (all of the group's when None)."""
        committed = self._offsets.get(group_id, {})
        chosen = (
            committed.keys() if partitions is None else [p for p in partitions if p in committed]
        )
        return [offset_tombstone(group_id, topic, partition) for topic, partition in chosen]


def build_commit(
    group_id: str,
    partitions: Sequence[OffsetCommitPartition],
    *,
    group_error: ErrorCode | None,
    partition_exists: PartitionExists,
    max_metadata_size: int,
    now_ms: int,
    retention_time_ms: int = -1,
) -> tuple[list[Record], list[PartitionResult]]:
    """Per-partition answers and the records for the partitions that may be committed.

    The order of checks is Kafka's: unknown partitions are answered before the coordinator
    sees the request, then the group's verdict applies to the rest, then the metadata size.
    A retention time (OffsetCommit v2-4; -1 for the broker's) makes the offsets expire at
    now + retention, stored as the record's expire timestamp (OffsetCommitValue v1), as Kafka
    does; a commit timestamp of -1 (all but v1) is now.
    """
    expire_timestamp_ms = None if retention_time_ms == -1 else now_ms + retention_time_ms
    records: list[Record] = []
    results: list[PartitionResult] = []
    for p in partitions:
        if not partition_exists(p.topic, p.partition):
            error = ErrorCode.unknown_topic_or_partition
        elif group_error is not None:
            error = group_error
        elif p.committed_metadata is not None and len(p.committed_metadata) > max_metadata_size:
            # Kafka compares String.length(), i.e. characters, not encoded bytes.
            error = ErrorCode.offset_metadata_too_large
        else:
            error = ErrorCode.none
            value = OffsetValue(
                offset=p.committed_offset,
                leader_epoch=p.committed_leader_epoch,
                # Kafka stores a null metadata as "" (OffsetAndMetadata.NoMetadata).
                metadata=p.committed_metadata if p.committed_metadata is not None else "",
                commit_timestamp_ms=(
                    now_ms if p.commit_timestamp_ms == -1 else p.commit_timestamp_ms
                ),
                expire_timestamp_ms=expire_timestamp_ms,
            )
            records.append(offset_commit_record(group_id, p.topic, p.partition, value))
        results.append(PartitionResult(p.topic, p.partition, error))
    return records, results


def expired_partitions(
    offsets: Mapping[TopicPartition, OffsetValue],
    *,
    now_ms: int,
    retention_ms: int,
    empty_since_ms: int | None = None,
    protected_topics: frozenset[str] = frozenset(),
) -> list[TopicPartition]:
    """Committed partitions whose retention has passed (GroupMetadata.removeExpiredOffsets).

    Retention counts from `empty_since_ms` when given (the group has been Empty since then),
    else from each commit; an explicit per-commit expire timestamp wins. Partitions of
    `protected_topics` (topics the group still consumes) never expire.
    """

    def expired(value: OffsetValue) -> bool:
        if value.expire_timestamp_ms is not None:
            return now_ms >= value.expire_timestamp_ms
        base_ms = value.commit_timestamp_ms if empty_since_ms is None else empty_since_ms
        return now_ms - base_ms >= retention_ms

    return [tp for tp, v in offsets.items() if tp[0] not in protected_topics and expired(v)]


def fetch_committed(
    committed: Mapping[TopicPartition, OffsetValue], partitions: Sequence[TopicPartition] | None
) -> tuple[FetchedOffset, ...]:
    """OffsetFetch answers: every committed partition when `partitions` is None; -1 if none."""
    wanted = sorted(committed) if partitions is None else list(partitions)
    fetched = []
    for topic, partition in wanted:
        value = committed.get((topic, partition))
        if value is None:
            fetched.append(FetchedOffset(topic, partition, -1, -1, "", ErrorCode.none))
        else:
            fetched.append(
                FetchedOffset(
                    topic,
                    partition,
                    value.offset,
                    value.leader_epoch,
                    value.metadata,
                    ErrorCode.none,
                )
            )
    return tuple(fetched)


def plan_offset_delete(
    partitions: Sequence[TopicPartition],
    protected_topics: frozenset[str],
    partition_exists: PartitionExists,
) -> tuple[list[PartitionResult], list[TopicPartition]]:
    """OffsetDelete's answers per partition, and the partitions whose offsets may go.

    Offsets of topics the group still consumes (`protected_topics`) stay.
    """
    results = []
    eligible = []
    for topic, partition in partitions:
        if not partition_exists(topic, partition):
            code = ErrorCode.unknown_topic_or_partition
        elif topic in protected_topics:
            code = ErrorCode.group_subscribed_to_topic
        else:
            code = ErrorCode.none
            eligible.append((topic, partition))
        results.append(PartitionResult(topic, partition, code))
    return results, eligible
