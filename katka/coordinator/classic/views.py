"""Read-only views of groups for DescribeGroups and tooling (CLI, console)."""

from __future__ import annotations

from katka.coordinator.classic.consumer_protocol import PROTOCOL_TYPE, assigned_partition_count
from katka.coordinator.classic.group import ClassicGroup
from katka.coordinator.classic.state import GroupState
from katka.coordinator.results import DescribedGroup, DescribedMember, GroupSummary, MemberSummary
from katka.errors import ErrorCode


def describe_group(group: ClassicGroup) -> DescribedGroup:
    # As Kafka: metadata and assignments are only shown for a Stable group.
    stable = group.is_state(GroupState.STABLE) and group.protocol_name is not None
    protocol = group.protocol_name if stable else None
    members = tuple(
        DescribedMember(
            m.member_id,
            m.group_instance_id,
            m.client_id,
            m.client_host,
            m.metadata(protocol) if protocol is not None else b"",
            m.assignment if protocol is not None else b"",
        )
        for m in group.members.values()
    )
    return DescribedGroup(
        group.group_id,
        ErrorCode.none,
        group.state.value,
        group.protocol_type or "",
        protocol or "",
        members,
    )


def group_summary(group: ClassicGroup, committed_partitions: int) -> GroupSummary:
    consumer = group.protocol_type == PROTOCOL_TYPE
    return GroupSummary(
        rebalances=dict(group.history.counts),
        group_id=group.group_id,
        state=group.state.value,
        protocol_type=group.protocol_type or "",
        protocol_name=group.protocol_name or "",
        generation_id=group.generation_id,
        leader_id=group.leader_id or "",
        members=tuple(
            MemberSummary(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.client_host,
                assigned_partition_count(m.assignment) if consumer else None,
                m.session_timeout_ms,
            )
            for m in group.members.values()
        ),
        committed_partitions=committed_partitions,
        state_changed_ms=group.state_changed_ms,
    )
