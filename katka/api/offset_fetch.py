"""OffsetFetch (key 9), v0-9; v8+ asks for several groups at once. A null topic list
(v2+) means every partition the group committed. v9 carries the member id and epoch, which a
KIP-848 consumer group validates. v0 (Kafka 4.0 dropped it) reads the same offsets as v1:
Kafka 3.9 read v0 from ZooKeeper, where its v0 commits went; katka keeps every commit in one
place (see offset_commit.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import DESCRIBE, GROUP, authorized
from katka.api._build import ZERO, make, response_module
from katka.api._partitions import by_topic
from katka.api.context import RequestContext
from katka.coordinator.results import OffsetFetchResult
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 9
VERSIONS = range(0, 10)


def _wanted(topics: Any) -> list[tuple[str, int]] | None:
    if topics is None:
        return None
    return [(t.name, p) for t in topics for p in t.partition_indexes]


def _topics(
    m: Any, result: OffsetFetchResult, topic_cls: Any, partition_cls: Any
) -> tuple[Any, ...]:
    return by_topic(
        result.partitions,
        lambda p: p.topic,
        lambda p: make(
            partition_cls,
            partition_index=p.partition,
            committed_offset=p.committed_offset,
            committed_leader_epoch=p.committed_leader_epoch,
            metadata=p.metadata,
            error_code=p.error_code,
        ),
        lambda name, partitions: make(topic_cls, name=name, partitions=partitions),
    )


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    require_stable = getattr(request, "require_stable", False)
    if ctx.api_version >= 8:
        groups = []
        for group in request.groups:
            result = _refused_group(ctx, node, group.group_id) or node.coordinator.fetch_offsets(
                group.group_id,
                _wanted(group.topics),
                require_stable,
                # v9+: a consumer group checks them (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID).
                member_id=getattr(group, "member_id", None),
                member_epoch=getattr(group, "member_epoch", -1),
            )
            groups.append(
                make(
                    m.OffsetFetchResponseGroup,
                    group_id=group.group_id,
                    topics=_topics(
                        m, result, m.OffsetFetchResponseTopics, m.OffsetFetchResponsePartitions
                    ),
                    error_code=result.error_code,
                )
            )
        return make(m.OffsetFetchResponse, throttle_time=ZERO, groups=tuple(groups))
    result = _refused_group(ctx, node, request.group_id) or node.coordinator.fetch_offsets(
        request.group_id, _wanted(request.topics), require_stable
    )
    topics = _topics(m, result, m.OffsetFetchResponseTopic, m.OffsetFetchResponsePartition)
    if ctx.api_version < 2 and result.error_code != ErrorCode.none:
        # v0-1 have no top-level error: Kafka reports it on every requested partition.
        topics = tuple(
            make(
                m.OffsetFetchResponseTopic,
                name=t.name,
                partitions=tuple(
                    make(
                        m.OffsetFetchResponsePartition,
                        partition_index=p,
                        committed_offset=-1,
                        metadata="",
                        error_code=result.error_code,
                    )
                    for p in t.partition_indexes
                ),
            )
            for t in request.topics or ()
        )
    return make(
        m.OffsetFetchResponse, throttle_time=ZERO, topics=topics, error_code=result.error_code
    )


def _refused_group(ctx: RequestContext, node: Node, group_id: str) -> OffsetFetchResult | None:
    """GROUP_AUTHORIZATION_FAILED without DESCRIBE on the group, as Kafka answers."""
    if authorized(ctx, node, DESCRIBE, GROUP, group_id):
        return None
    return OffsetFetchResult(ErrorCode.group_authorization_failed)
