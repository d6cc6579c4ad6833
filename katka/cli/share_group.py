"""`katka share-group list|describe|reset-offsets|delete` (kafka-share-groups.sh).

confluent-kafka's admin client has no share group calls: these commands send Kafka's requests
themselves (cli/group/wire.py): ListGroups v5 with the share type filter, ShareGroupDescribe,
DescribeShareGroupOffsets, AlterShareGroupOffsets and DeleteGroups, so they work against
Kafka 4.x as well as katka. Plaintext only, as wire.py says.
"""

from __future__ import annotations

from typing import Any

import click

from katka.cli.common import CliError, Connection, connection_options, emit_json, print_table
from katka.cli.group.wire import error_name, group_coordinator, send


@click.group(name="share-group")
def share_group() -> None:
    """List, describe, reset and delete share groups (KIP-932 queues).

    \b
    Example:
      katka share-group list
      katka share-group describe jobs --members
      katka share-group reset-offsets jobs --topic orders --to-earliest --execute
      katka share-group delete jobs
    """


def _bootstrap(connection: Connection) -> tuple[str, int]:
    host, _, port = connection.bootstrap_servers.split(",")[0].strip().rpartition(":")
    return host.split("://")[-1].strip("[]"), int(port)


def _check(code: int, what: str) -> None:
    if code != 0:
        raise CliError(f"{what}: {error_name(code)}")


@share_group.command(name="list")
@click.option("--state", "states", multiple=True, help="Only groups in these states.")
@connection_options
def list_share_groups(connection: Connection, states: tuple[str, ...]) -> None:
    """List share groups with their state.

    \b
    Example:
      katka share-group list --state Stable
    """
    from kio.schema.list_groups.v5 import request, response

    answer = send(
        _bootstrap(connection),
        request.ListGroupsRequest(states_filter=tuple(states), types_filter=("share",)),
        response.ListGroupsResponse,
        connection.timeout_s,
    )
    _check(answer.error_code, "cannot list groups")
    groups = sorted((str(g.group_id), str(g.group_state)) for g in answer.groups)
    if connection.json:
        emit_json([{"group": g, "state": s} for g, s in groups])
    else:
        print_table(["GROUP", "STATE"], groups)


def describe_share_group(connection: Connection, group_id: str) -> dict[str, Any]:
    """The group's state and members (ShareGroupDescribe) and per partition its start offset
    and lag (DescribeShareGroupOffsets)."""
    from kio.schema.describe_share_group_offsets.v1 import request as offsets_request
    from kio.schema.describe_share_group_offsets.v1 import response as offsets_response
    from kio.schema.share_group_describe.v1 import request, response
    from kio.schema.types import GroupId

    coordinator = group_coordinator(connection, group_id)
    described = send(
        coordinator,
        request.ShareGroupDescribeRequest(
            group_ids=(GroupId(group_id),), include_authorized_operations=False
        ),
        response.ShareGroupDescribeResponse,
        connection.timeout_s,
    ).groups[0]
    _check(described.error_code, f"cannot describe share group '{group_id}'")
    offsets = send(
        coordinator,
        offsets_request.DescribeShareGroupOffsetsRequest(
            groups=(
                offsets_request.DescribeShareGroupOffsetsRequestGroup(
                    group_id=GroupId(group_id), topics=None
                ),
            )
        ),
        offsets_response.DescribeShareGroupOffsetsResponse,
        connection.timeout_s,
    ).groups[0]
    _check(offsets.error_code, f"cannot describe the offsets of '{group_id}'")
    return {
        "group": group_id,
        "state": str(described.group_state),
        "group_epoch": int(described.group_epoch),
        "members": [
            {
                "member_id": str(m.member_id),
                "client_id": str(m.client_id),
                "host": str(m.client_host),
                "assignment": sorted(
                    f"{t.topic_name}:{p}"
                    for t in m.assignment.topic_partitions
                    for p in t.partitions
                ),
            }
            for m in described.members
        ],
        "partitions": [
            {
                "topic": str(t.topic_name),
                "partition": int(p.partition_index),
                "start_offset": int(p.start_offset),
                "lag": int(p.lag),
            }
            for t in offsets.topics
            for p in t.partitions
        ],
    }


@share_group.command(name="describe")
@click.argument("group_id")
@click.option("--members", is_flag=True, help="List the members and their assignments.")
@connection_options
def describe(connection: Connection, group_id: str, members: bool) -> None:
    """Show a share group's start offsets and lag per partition (or its members).

    \b
    Example:
      katka share-group describe jobs
      katka share-group describe jobs --members --output json
    """
    view = describe_share_group(connection, group_id)
    if connection.json:
        emit_json(view)
    elif members:
        member_rows = [
            (m["member_id"], m["client_id"], m["host"], ",".join(m["assignment"]))
            for m in view["members"]
        ]
        print_table(["MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"], member_rows)
    else:
        rows = [
            (group_id, p["topic"], p["partition"], p["start_offset"], p["lag"])
            for p in sorted(view["partitions"], key=lambda p: (p["topic"], p["partition"]))
        ]
        print_table(
            ["GROUP", "TOPIC", "PARTITION", "START-OFFSET", "LAG"],
            rows,
            title=f"{view['state']}, {len(view['members'])} members",
            right_align=("PARTITION", "START-OFFSET", "LAG"),
        )


@share_group.command(name="reset-offsets")
@click.argument("group_id")
@click.option("--topic", required=True, help="TOPIC or TOPIC:PARTITION[,PARTITION...].")
@click.option("--to-earliest", "target", flag_value="earliest", help="The log start offset.")
@click.option("--to-latest", "target", flag_value="latest", help="The log end offset.")
@click.option("--to-offset", type=int, default=None, help="This offset.")
@click.option("--execute", is_flag=True, help="Apply the plan (default: only show it).")
@connection_options
def reset_offsets(
    connection: Connection,
    group_id: str,
    topic: str,
    target: str | None,
    to_offset: int | None,
    execute: bool,
) -> None:
    """Move an empty share group's start offsets (AlterShareGroupOffsets); the records in
    flight are forgotten.

    \b
    Example:
      katka share-group reset-offsets jobs --topic orders --to-earliest --execute
      katka share-group reset-offsets jobs --topic orders:0,1 --to-offset 42
    """
    from confluent_kafka import TopicPartition

    if (target is None) == (to_offset is None):
        raise CliError("say where to: one of --to-earliest, --to-latest, --to-offset")
    name, _, listed = topic.partition(":")
    metadata = connection.admin().list_topics(name, timeout=connection.timeout_s)
    info = metadata.topics.get(name)
    if info is None or info.error is not None:
        raise CliError(f"no such topic: {name}")
    partitions = [int(p) for p in listed.split(",")] if listed else sorted(info.partitions)
    consumer = connection.consumer()
    plan = []
    try:
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(name, partition), timeout=connection.timeout_s
            )
            offset = low if target == "earliest" else high if target == "latest" else to_offset
            plan.append((name, partition, max(low, min(int(offset or 0), high))))
    finally:
        consumer.close()
    if execute:
        _alter(connection, group_id, plan)
    if connection.json:
        emit_json([{"topic": t, "partition": p, "new_offset": o} for t, p, o in plan])
    else:
        print_table(
            ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
            [(group_id, t, p, o) for t, p, o in plan],
            right_align=("PARTITION", "NEW-OFFSET"),
        )
        if not execute:
            click.echo("(dry run: add --execute to apply)")


def _alter(connection: Connection, group_id: str, plan: list[tuple[str, int, int]]) -> None:
    from kio.schema.alter_share_group_offsets.v0 import request, response
    from kio.schema.types import GroupId, TopicName
    from kio.static.primitive import i32, i64

    by_topic: dict[str, list[tuple[int, int]]] = {}
    for topic, partition, offset in plan:
        by_topic.setdefault(topic, []).append((partition, offset))
    answer = send(
        group_coordinator(connection, group_id),
        request.AlterShareGroupOffsetsRequest(
            group_id=GroupId(group_id),
            topics=tuple(
                request.AlterShareGroupOffsetsRequestTopic(
                    topic_name=TopicName(topic),
                    partitions=tuple(
                        request.AlterShareGroupOffsetsRequestPartition(
                            partition_index=i32(p), start_offset=i64(o)
                        )
                        for p, o in items
                    ),
                )
                for topic, items in by_topic.items()
            ),
        ),
        response.AlterShareGroupOffsetsResponse,
        connection.timeout_s,
    )
    _check(answer.error_code, f"cannot reset the offsets of '{group_id}'")
    for topic in answer.responses:
        for p in topic.partitions:
            _check(p.error_code, f"cannot reset {topic.topic_name}:{p.partition_index}")


@share_group.command(name="delete")
@click.argument("group_ids", nargs=-1, required=True)
@connection_options
def delete(connection: Connection, group_ids: tuple[str, ...]) -> None:
    """Delete empty share groups with their share state (DeleteGroups).

    \b
    Example:
      katka share-group delete jobs
    """
    from kio.schema.delete_groups.v2 import request, response
    from kio.schema.types import GroupId

    failed = []
    for group_id in group_ids:
        answer = send(
            group_coordinator(connection, group_id),
            request.DeleteGroupsRequest(groups_names=(GroupId(group_id),)),
            response.DeleteGroupsResponse,
            connection.timeout_s,
        )
        code = int(answer.results[0].error_code)
        if code:
            failed.append(f"{group_id}: {error_name(code)}")
        else:
            click.echo(f"deleted share group {group_id}")
    if failed:
        raise CliError("; ".join(failed))
