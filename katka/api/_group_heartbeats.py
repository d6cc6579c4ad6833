"""The answer ConsumerGroupHeartbeat and ShareGroupHeartbeat share: the member's state and its
assignment by topic id (None when unchanged since the last heartbeat)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from katka.api._build import ZERO, make, timedelta_ms
from katka.api._partitions import by_topic


def heartbeat_response(
    m: Any, response: type, result: Any, assigned: Iterable[tuple[Any, int]] | None
) -> Any:
    """`assigned` is (topic id, partition) pairs in order; `result` carries error_code,
    error_message, member_id, member_epoch and heartbeat_interval_ms."""
    assignment = None
    if assigned is not None:
        assignment = m.Assignment(
            topic_partitions=by_topic(
                list(assigned),
                lambda topic_partition: topic_partition[0],
                lambda topic_partition: topic_partition[1],
                lambda topic_id, partitions: m.TopicPartitions(
                    topic_id=topic_id, partitions=partitions
                ),
            )
        )
    return make(
        response,
        throttle_time=ZERO,
        error_code=result.error_code,
        error_message=result.error_message,
        member_id=result.member_id,
        member_epoch=result.member_epoch,
        heartbeat_interval=timedelta_ms(result.heartbeat_interval_ms),
        assignment=assignment,
    )
