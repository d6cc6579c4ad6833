"""Read-only views of consumer groups: ConsumerGroupDescribe and tooling (CLI, console)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from katka.coordinator.config import CoordinatorConfig
from katka.coordinator.consumer.group import PROTOCOL_TYPE, ConsumerGroup, Partitions
from katka.coordinator.results import GroupSummary, MemberSummary
from katka.coordinator.topics import TopicImage
from katka.errors import ErrorCode


@dataclass(frozen=True, slots=True)
class DescribedConsumerMember:
    member_id: str
    instance_id: str | None
    rack_id: str | None
    member_epoch: int
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    assignment: tuple[tuple[uuid.UUID, str, tuple[int, ...]], ...]  # (topic id, name, parts)
    target_assignment: tuple[tuple[uuid.UUID, str, tuple[int, ...]], ...]


@dataclass(frozen=True, slots=True)
class DescribedConsumerGroup:
    group_id: str
    error_code: ErrorCode
    error_message: str | None = None
    group_state: str = ""
    group_epoch: int = -1
    assignment_epoch: int = -1
    assignor_name: str = ""
    members: tuple[DescribedConsumerMember, ...] = ()


def describe_group(
    group: ConsumerGroup, topics: TopicImage, config: CoordinatorConfig
) -> DescribedConsumerGroup:
    group_id = group.group_id
    return DescribedConsumerGroup(
        group_id,
        ErrorCode.none,
        group_state=group.state.value,
        group_epoch=group.group_epoch,
        assignment_epoch=group.assignment_epoch,
        assignor_name=group.assignor_name or group.preferred_assignor(config.consumer_assignors[0]),
        members=tuple(
            DescribedConsumerMember(
                member_id=m.member_id,
                instance_id=m.instance_id,
                rack_id=m.rack_id,
                member_epoch=m.member_epoch,
                client_id=m.client_id,
                client_host=m.client_host,
                subscribed_topic_names=m.subscribed_topic_names,
                subscribed_topic_regex=m.subscribed_topic_regex,
                assignment=_named(topics, m.assigned),
                target_assignment=_named(topics, group.target.get(m.member_id, frozenset())),
            )
            for m in group.members.values()
        ),
    )


def _named(
    topics: TopicImage, partitions: Partitions
) -> tuple[tuple[uuid.UUID, str, tuple[int, ...]], ...]:
    by_topic: dict[uuid.UUID, list[int]] = {}
    for topic_id, partition in sorted(partitions):
        by_topic.setdefault(topic_id, []).append(partition)
    result = []
    for topic_id, ids in by_topic.items():
        topic = topics.by_id(topic_id)
        result.append((topic_id, topic.name if topic is not None else "", tuple(ids)))
    return tuple(result)


def group_summary(
    g: ConsumerGroup, committed_partitions: int, config: CoordinatorConfig
) -> GroupSummary:
    return GroupSummary(
        rebalances=dict(g.history.counts),
        group_id=g.group_id,
        state=g.state.value,
        protocol_type=PROTOCOL_TYPE,
        protocol_name=g.assignor_name,
        generation_id=g.group_epoch,
        leader_id="",
        members=tuple(
            MemberSummary(
                m.member_id,
                m.instance_id,
                m.client_id,
                m.client_host,
                len(m.assigned),
                config.consumer_session_timeout_ms,
            )
            for m in g.members.values()
        ),
        committed_partitions=committed_partitions,
        state_changed_ms=g.state_changed_ms,
    )
