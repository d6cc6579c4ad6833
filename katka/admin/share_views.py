"""The admin API's share group views (KIP-932): members and assignments, and per share
partition what Kafka's tools cannot show: the records in flight (acquired, available again,
with their delivery counts) between the start offset (SPSO) and the end offset (SPEO).

  GET /api/share-groups                GET /api/share-groups/{group}
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from katka.coordinator.share.partition import RecordState, SharePartition

if TYPE_CHECKING:
    from katka.node import Node

Document = dict[str, Any]


def share_groups(node: Node) -> Document:
    groups = node.coordinator.share.groups
    return {
        "share_groups": [
            {"group_id": g.group_id, "state": g.state, "members": len(g.members)}
            for g in sorted(groups.values(), key=lambda g: g.group_id)
        ]
    }


def share_group(node: Node, group_id: str) -> Document | None:
    group = node.coordinator.share.groups.get(group_id)
    if group is None:
        return None
    now_ms = node.clock.now_ms()
    partitions = []
    for (_g, topic_id, index), state in sorted(
        node.coordinator.share_partitions.existing(group_id).items(),
        key=lambda item: (str(item[0][1]), item[0][2]),
    ):
        info = node.topics.catalog.by_id(topic_id)
        if info is None:
            continue
        high_watermark = node.topics.get_log(info.name, index).high_watermark
        partitions.append(_partition(info.name, index, state, high_watermark, now_ms))
    return {
        "group_id": group_id,
        "state": group.state,
        "group_epoch": group.group_epoch,
        "config": dict(node.coordinator.share_partitions.group_configs.get(group_id, {})),
        "members": [
            {
                "member_id": m.member_id,
                "member_epoch": m.member_epoch,
                "client_id": m.client_id,
                "client_host": m.client_host,
                "subscribed": list(m.subscribed),
                "assignment": [f"{t}-{p}" for t, p in sorted(m.assignment)],
            }
            for m in group.members.values()
        ],
        "partitions": partitions,
    }


def _partition(topic: str, index: int, state: Any, high_watermark: int, now_ms: int) -> Document:
    if isinstance(state, SharePartition):
        start, end = state.start_offset, state.end_offset
        records = [
            (RecordState.AVAILABLE, r.delivery_count, None)  # a lock past its deadline
            if r.state is RecordState.ACQUIRED and r.deadline_ms <= now_ms
            else (r.state, r.delivery_count, r.member_id)
            for r in state.records.values()
        ]
    else:  # restored, not fetched since the restart
        start, batches = state
        end = max((b.last_offset + 1 for b in batches), default=start)
        records = [
            (b.state, b.delivery_count, None)
            for b in batches
            for _offset in range(b.first_offset, b.last_offset + 1)
        ]
    by_state = Counter(s.name.lower() for s, _count, _member in records)
    done = by_state["acknowledged"] + by_state["archived"]
    return {
        "topic": topic,
        "partition": index,
        "start_offset": start,
        "end_offset": end,
        "high_watermark": high_watermark,
        "lag": max(0, high_watermark - start - done),
        "in_flight": dict(sorted(by_state.items())),
        "acquired_by": dict(
            Counter(m for s, _c, m in records if s is RecordState.ACQUIRED and m is not None)
        ),
        "delivery_counts": {
            str(count): n
            for count, n in sorted(
                Counter(c for s, c, _m in records if s is not RecordState.ACKNOWLEDGED).items()
            )
        },
    }
