"""The coordinator's configuration (Kafka's broker config names in comments)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoordinatorConfig:
    group_min_session_timeout_ms: int = 6_000  # group.min.session.timeout.ms
    group_max_session_timeout_ms: int = 1_800_000  # group.max.session.timeout.ms
    group_initial_rebalance_delay_ms: int = 3_000  # group.initial.rebalance.delay.ms
    group_max_size: int = 2**31 - 1  # group.max.size
    offset_metadata_max_bytes: int = 4_096  # offset.metadata.max.bytes
    offsets_retention_minutes: int = 10_080  # offsets.retention.minutes
    offsets_retention_check_interval_ms: int = 600_000  # offsets.retention.check.interval.ms
    # Not configurable in Kafka (GroupCoordinator.NewMemberJoinTimeoutMs): how long a member
    # that never completed a join may stay parked before it is dropped.
    new_member_join_timeout_ms: int = 300_000
    rebalance_history_size: int = 50
    # KIP-848 consumer groups (ConsumerGroupHeartbeat); Kafka's names in comments.
    # group.coordinator.rebalance.protocols: "consumer" enables ConsumerGroupHeartbeat.
    consumer_protocol_enabled: bool = True
    consumer_session_timeout_ms: int = 45_000  # group.consumer.session.timeout.ms
    consumer_heartbeat_interval_ms: int = 5_000  # group.consumer.heartbeat.interval.ms
    consumer_max_size: int = 2**31 - 1  # group.consumer.max.size
    # group.consumer.assignors: the first is the default when members name none.
    consumer_assignors: tuple[str, ...] = ("uniform", "range")
    # KIP-932 share groups.
    share_session_timeout_ms: int = 45_000  # group.share.session.timeout.ms
    share_heartbeat_interval_ms: int = 5_000  # group.share.heartbeat.interval.ms
    share_record_lock_duration_ms: int = 30_000  # group.share.record.lock.duration.ms
    share_delivery_count_limit: int = 5  # group.share.delivery.count.limit
    share_partition_max_record_locks: int = 2_000  # group.share.partition.max.record.locks

    @property
    def offsets_retention_ms(self) -> int:
        return self.offsets_retention_minutes * 60_000
