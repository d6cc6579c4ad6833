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

    @property
    def offsets_retention_ms(self) -> int:
        return self.offsets_retention_minutes * 60_000
