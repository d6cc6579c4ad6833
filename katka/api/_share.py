"""What ShareFetch and ShareAcknowledge share: applying acknowledgement batches and reaching a
share partition by topic id (KIP-932; coordinator/share/partition.py holds the state)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from katka.api.context import RequestContext
from katka.coordinator.share.partition import AcknowledgeType, RecordState, SharePartition
from katka.coordinator.share.partitions import ShareSession
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
    """The group's share partition (created at share.auto.offset.reset on first use), its
    expired locks released first: expiry is lazy (no timer per lock), so every path that
    reads or changes a share partition comes through here and sees it as Kafka's timers
    would have left it (a parked share fetch wakes at the earliest deadline to look)."""
    name = topic_name(node, topic_id)
    log = node.topics.get_log(name, partition)

    def offset_for_time(ago_ms: int) -> int:
        found = log.offset_for_timestamp(node.clock.now_ms() - ago_ms)
        return log.high_watermark if found is None else found.offset

    key = (group_id, topic_id, partition)
    shares = node.coordinator.share_partitions
    target = shares.get(key, log.log_start_offset, log.high_watermark, offset_for_time)
    if target.expire_locks(node.clock.now_ms()):
        shares.persist([key])  # delivery counts, and records archived at the limit
    return target


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


def open_session(
    ctx: RequestContext, node: Node, group_id: str, member_id: str, epoch: int
) -> ShareSession:
    """The request's share session; one it opens (epoch 0) closes with this connection."""
    owner = ctx.session
    session = node.coordinator.share_partitions.session(group_id, member_id, epoch, owner)
    if epoch == 0:
        owner.on_close[("share-session", group_id, member_id)] = lambda: close_session(
            node, group_id, member_id, owner
        )
    return session


def close_session(node: Node, group_id: str, member_id: str, owner: object = None) -> None:
    """End the member's share session (final request, or `owner`'s connection closed): its
    records still acquired go back to the other members, whose parked fetches wake."""
    changed = node.coordinator.share_partitions.close_session(group_id, member_id, owner)
    names = []
    for _group, topic_id, partition in changed:
        try:
            names.append((topic_name(node, topic_id), partition))
        except KafkaError:
            continue
    if names:
        node.appends.notify(names)


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
        state = share_partition(node, group_id, info.topic_id, partition)  # locks expired
        start = state.start_offset
        done = sum(1 for r in state.records.values() if r.state in _DONE)
    else:
        start, batches = state
        done = sum(b.last_offset - b.first_offset + 1 for b in batches if b.state in _DONE)
    return start, max(0, log.high_watermark - start - done)
