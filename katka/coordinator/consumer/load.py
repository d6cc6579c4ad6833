"""Rebuilding a KIP-848 consumer group from its records (coordinator load).

Replay keeps the latest value of every consumer group key; a group comes back with its
subscribed topics (key 4), its members' epochs, subscriptions and assignments, the target
assignment and its epoch. As in Kafka, any live record brings its group back: a group whose
members all subscribe to nothing never had its epoch bumped, so it has member records only.
"""

from __future__ import annotations

from collections.abc import Mapping

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer.group import ConsumerGroup, ConsumerMember, MemberState
from katka.coordinator.records import (
    CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION,
    CONSUMER_GROUP_METADATA_KEY_VERSION,
    CONSUMER_MEMBER_METADATA_KEY_VERSION,
    CONSUMER_PARTITION_METADATA_KEY_VERSION,
    CONSUMER_TARGET_MEMBER_KEY_VERSION,
    CONSUMER_TARGET_METADATA_KEY_VERSION,
    ConsumerGroupKey,
    decode_consumer_current_assignment,
    decode_consumer_group_metadata,
    decode_consumer_member_metadata,
    decode_consumer_partition_metadata,
    decode_consumer_target_member,
    decode_consumer_target_metadata,
)


def load_group(
    group_id: str, values: Mapping[ConsumerGroupKey, bytes], config: CoordinatorConfig, now_ms: int
) -> ConsumerGroup:
    """Rebuild a group from the live values of its keys."""
    group = ConsumerGroup(group_id, now_ms, history_size=config.rebalance_history_size)
    metadata = values.get(ConsumerGroupKey(CONSUMER_GROUP_METADATA_KEY_VERSION, group_id))
    if metadata is not None:
        meta = decode_consumer_group_metadata(metadata)
        group.group_epoch = meta.epoch
        group.subscription_metadata = meta.subscription_metadata  # katka 0.1 kept them here
    topics = values.get(ConsumerGroupKey(CONSUMER_PARTITION_METADATA_KEY_VERSION, group_id))
    if topics is not None:
        group.subscription_metadata = decode_consumer_partition_metadata(topics)
    target_epoch = values.get(ConsumerGroupKey(CONSUMER_TARGET_METADATA_KEY_VERSION, group_id))
    if target_epoch is not None:
        group.assignment_epoch = decode_consumer_target_metadata(target_epoch)
    members: dict[str, ConsumerMember] = {}
    for key, value in sorted(values.items(), key=lambda kv: (kv[0].member_id, kv[0].kind)):
        if key.kind == CONSUMER_MEMBER_METADATA_KEY_VERSION:
            member = members.setdefault(key.member_id, ConsumerMember(key.member_id))
            member.apply_metadata(decode_consumer_member_metadata(value))
        elif key.kind == CONSUMER_CURRENT_ASSIGNMENT_KEY_VERSION and key.member_id in members:
            current = decode_consumer_current_assignment(value)
            member = members[key.member_id]
            member.member_epoch = current.member_epoch
            member.previous_member_epoch = current.previous_member_epoch
            member.state = MemberState(current.state)
            member.assigned = current.assigned_partitions
            member.pending_revocation = current.partitions_pending_revocation
        elif key.kind == CONSUMER_TARGET_MEMBER_KEY_VERSION and key.member_id in members:
            group.target[key.member_id] = decode_consumer_target_member(value)
    for member in members.values():
        group.add_member(member)
    group.assignor_name = group.preferred_assignor(config.consumer_assignors[0])
    return group
