"""What ShareFetch and ShareAcknowledge share: applying acknowledgement batches and reaching a
share partition by topic id (KIP-932; coordinator/share/partition.py holds the state)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from katka.coordinator.share.partition import AcknowledgeType, SharePartition
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node


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
