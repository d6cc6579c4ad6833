"""DescribeShareGroupOffsets (key 90), v0-1: per partition a share group's start offset (SPSO)
and (v1) lag, as kafka-share-groups.sh --describe shows them. Topics null: every partition the
group has share state for; a partition it never fetched answers start offset -1."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api._share import share_group_error, start_and_lag
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 90
VERSIONS = range(0, 2)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    return make(
        m.DescribeShareGroupOffsetsResponse,
        throttle_time=ZERO,
        groups=tuple(_group(m, node, group) for group in request.groups),
    )


def _group(m: Any, node: Node, request_group: Any) -> Any:
    group_id = request_group.group_id
    error = share_group_error(node, group_id, must_be_empty=False)
    if error is not None:
        return make(
            m.DescribeShareGroupOffsetsResponseGroup,
            group_id=group_id,
            topics=(),
            error_code=error,
            error_message=None,
        )
    if request_group.topics is None:
        wanted: dict[str, list[int]] = {}
        for _g, topic_id, partition in sorted(
            node.coordinator.share_partitions.existing(group_id), key=lambda k: (str(k[1]), k[2])
        ):
            info = node.topics.catalog.by_id(topic_id)
            if info is not None:
                wanted.setdefault(info.name, []).append(partition)
    else:
        wanted = {t.topic_name: list(t.partitions) for t in request_group.topics}
    topics = []
    for topic, partitions in wanted.items():
        info = node.topics.catalog.get(topic)
        answers = []
        for partition in partitions:
            code = ErrorCode.none
            try:
                start, lag = start_and_lag(node, group_id, topic, partition)
            except KafkaError as failure:
                start, lag, code = -1, -1, failure.code
            answers.append(
                make(
                    m.DescribeShareGroupOffsetsResponsePartition,
                    partition_index=partition,
                    start_offset=start,
                    leader_epoch=0 if start >= 0 else -1,
                    lag=lag,
                    error_code=code,
                    error_message=None,
                )
            )
        topics.append(
            make(
                m.DescribeShareGroupOffsetsResponseTopic,
                topic_name=topic,
                topic_id=info.topic_id if info is not None else None,
                partitions=tuple(answers),
            )
        )
    return make(
        m.DescribeShareGroupOffsetsResponseGroup,
        group_id=group_id,
        topics=tuple(topics),
        error_code=ErrorCode.none,
        error_message=None,
    )
