"""What `katka group describe` reports, typed: the group, its members and per-partition lag
in records and in time, gathered from the Kafka protocol plus katka's admin API when present.

The JSON form (`--output json`) is `GroupReport.to_json()`; the table is printers.py's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from katka.cli.admin_api import AdminApi, quote
from katka.cli.common import Connection, now_ms
from katka.cli.group.queries import (
    committed_offsets,
    describe_group,
    group_missing,
    log_offsets,
    next_record_timestamps,
    state_name,
)
from katka.cli.group.reset_plan import TopicPartitionKey


@dataclass(frozen=True, slots=True)
class AssignedPartition:
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class MemberReport:
    member_id: str
    client_id: str
    host: str
    group_instance_id: str | None
    assignment: list[AssignedPartition]


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed_offset: int | None
    log_end_offset: int | None
    lag: int | None  # records; None without a committed offset
    lag_ms: int | None  # the age of the next unconsumed record; None when unknown
    member_id: str | None  # the member it is assigned to, if any
    client_id: str | None


@dataclass(frozen=True, slots=True)
class GroupReport:
    group: str
    state: str
    protocol: str | None
    generation: int | None  # katka's admin API only: Kafka's DescribeGroups does not carry it
    coordinator: int | None
    members: list[MemberReport]
    partitions: list[PartitionLag]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def group_report(
    connection: Connection, admin: Any, api: AdminApi | None, group_id: str
) -> GroupReport:
    """Describe one group; without the admin API, lag in time is read with a consumer."""
    description = describe_group(connection, admin, group_id)
    committed = committed_offsets(connection, admin, group_id)
    state = state_name(description.state)
    if state in ("Dead", "Unknown") and not description.members and not committed:
        raise group_missing(group_id)
    owners: dict[TopicPartitionKey, Any] = {}
    members = []
    for member in description.members:
        assigned = sorted(
            (tp.topic, tp.partition) for tp in (member.assignment.topic_partitions or [])
        )
        for key in assigned:
            owners[key] = member
        members.append(
            MemberReport(
                member_id=member.member_id,
                client_id=member.client_id,
                host=member.host,
                group_instance_id=member.group_instance_id,
                assignment=[AssignedPartition(t, p) for t, p in assigned],
            )
        )
    keys = sorted(set(committed) | set(owners))
    log_end = log_offsets(connection, admin, keys, "latest")
    summary = api.get_extra(f"/api/groups/{quote(group_id)}") if api is not None else None
    lag_ms = admin_api_lag_ms(api, group_id) if api is not None else None
    if lag_ms is None:  # no admin API, or it cannot be reached
        lag_ms = measured_lag_ms(connection, committed, log_end)
    partitions = []
    for key in keys:
        current = committed.get(key)
        end = log_end.get(key)
        lag = None if current is None or end is None else max(end - current, 0)
        owner = owners.get(key)
        partitions.append(
            PartitionLag(
                topic=key[0],
                partition=key[1],
                committed_offset=current,
                log_end_offset=end,
                lag=lag,
                lag_ms=(0 if lag == 0 else lag_ms.get(key)),
                member_id=owner.member_id if owner is not None else None,
                client_id=owner.client_id if owner is not None else None,
            )
        )
    return GroupReport(
        group=group_id,
        state=state,
        protocol=description.partition_assignor or None,
        generation=summary.get("generation_id") if summary else None,
        coordinator=getattr(description.coordinator, "id", None),
        members=members,
        partitions=partitions,
    )


def admin_api_lag_ms(api: AdminApi, group_id: str) -> dict[TopicPartitionKey, int | None] | None:
    """Lag in time as katka's admin API reports it; None when the API cannot be reached."""
    answer = api.get_extra(f"/api/groups/{quote(group_id)}/lag")
    if api.unreachable is not None:
        return None
    return {
        (row["topic"], int(row["partition"])): row.get("lag_ms")
        for row in (answer or {}).get("partitions", [])
    }


def measured_lag_ms(
    connection: Connection,
    committed: dict[TopicPartitionKey, int | None],
    log_end: dict[TopicPartitionKey, int],
) -> dict[TopicPartitionKey, int | None]:
    """The age of each partition's next unconsumed record, read from the log itself."""
    behind = {
        key: offset
        for key, offset in committed.items()
        if offset is not None and key in log_end and offset < log_end[key]
    }
    now = now_ms()
    return {
        key: max(now - timestamp, 0)
        for key, timestamp in next_record_timestamps(connection, behind).items()
    }
