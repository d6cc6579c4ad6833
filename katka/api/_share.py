"""What ShareFetch and ShareAcknowledge share: applying acknowledgement batches and reaching a
share partition by topic id (KIP-932; coordinator/share/partition.py holds the state)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from katka.coordinator.share.partition import AcknowledgeType, RecordState, SharePartition
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

_DONE = (RecordState.ACKNOWLEDGED, RecordState.ARCHIVED)


def topic_name(node: Node, topic_id: uuid.UUID | None) -> str:
    info = node.topics.catalog.by_id(topic_id) if topic_id is not None else None
    if info is None:
        raise KafkaError(ErrorCode.unknown_topic_id)
    return info.name


def share_partition(
    node: Node, group_id: str, topic_id: uuid.UUID, partition: int
) -> SharePartition:
    """The group's share partition (created at share.auto.offset.reset on first use)."""
    name = topic_name(node, topic_id)
    log = node.topics.get_log(name, partition)

    def offset_for_time(ago_ms: int) -> int:
        found = log.offset_for_timestamp(node.clock.now_ms() - ago_ms)
        return log.high_watermark if found is None else found.offset

    return node.coordinator.share_partitions.get(
        (group_id, topic_id, partition), log.log_start_offset, log.high_watermark, offset_for_time
    )


def acknowledge(
    node: Node,
    group_id: str,
    member_id: str,
    topic_id: uuid.UUID,
    partition: int,
    batches: Sequence[Any],
) -> ErrorCode:
    """Apply one partition's acknowledgement batches (each all or nothing) and persist the
    result; the first failing batch's error is the partition's answer."""
    try:
        target = share_partition(node, group_id, topic_id, partition)
    except KafkaError as error:
        return error.code
    now_ms = node.clock.now_ms()
    code = ErrorCode.none
    previous_last = -1
    released = False
    for batch in sorted(batches, key=lambda b: b.first_offset):
        if batch.first_offset <= previous_last:
            code = ErrorCode.invalid_request  # overlapping ranges
            break
        previous_last = batch.last_offset
        try:
            target.acknowledge(
                member_id, batch.first_offset, batch.last_offset, batch.acknowledge_types, now_ms
            )
        except KafkaError as error:
            code = error.code
            continue
        released |= AcknowledgeType.RELEASE in batch.acknowledge_types
    node.coordinator.share_partitions.persist([(group_id, topic_id, partition)])
    if released:
        node.appends.notify([(topic_name(node, topic_id), partition)])  # wake parked share fetches
    return code


def share_group_error(node: Node, group_id: str, *, must_be_empty: bool) -> ErrorCode | None:
    """Why the offsets APIs refuse a group id: loading, not a share group, or (altering and
    deleting) a share group with members."""
    coordinator = node.coordinator
    if not coordinator.is_active:
        return ErrorCode.coordinator_load_in_progress
    owner_is_share = coordinator.share.owns(group_id)
    if not owner_is_share:
        return ErrorCode.group_id_not_found
    if must_be_empty and not coordinator.share.is_empty(group_id):
        return ErrorCode.non_empty_group
    return None


def start_and_lag(node: Node, group_id: str, topic: str, partition: int) -> tuple[int, int]:
    """The share-partition start offset and lag (records not yet done below the high
    watermark); (-1, -1) for a partition the group never fetched."""
    info = node.topics.catalog.get(topic)
    if info is None:
        raise KafkaError(ErrorCode.unknown_topic_or_partition)
    log = node.topics.get_log(topic, partition)
    state = node.coordinator.share_partitions.existing(group_id).get(
        (group_id, info.topic_id, partition)
    )
    if state is None:
        return -1, -1
    if isinstance(state, SharePartition):
        start = state.start_offset
        done = sum(1 for r in state.records.values() if r.state in _DONE)
    else:
        start, batches = state
        done = sum(b.last_offset - b.first_offset + 1 for b in batches if b.state in _DONE)
    return start, max(0, log.high_watermark - start - done)
