"""`katka group list|describe|delete|reset-offsets|rebalances` (kafka-consumer-groups.sh).

The Kafka protocol carries members, assignments and committed offsets, so these work against
any cluster. katka's admin API adds what the protocol cannot carry: the generation, the age of
the next unconsumed record (lag in time) and the rebalance history.
"""

from __future__ import annotations

from typing import Any

import click

from katka.cli.admin_api import admin_api, optional_admin_api, quote
from katka.cli.common import (
    CliError,
    Connection,
    connection_options,
    emit_json,
    kafka_admin_module,
    kafka_error_text,
    no_such_partition,
    now_ms,
    print_table,
    wait,
)
from katka.cli.group_logic import (
    PlannedReset,
    ResetSpec,
    detect_storms,
    member_label,
    parse_topic_partitions,
    plan_reset,
    storm_advice,
)
from katka.cli.timeparse import (
    TimeFormatError,
    format_duration_ms,
    format_time_ms,
    parse_duration_ms,
    parse_time_ms,
)

STATE_NAMES = {
    "UNKNOWN": "Unknown",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "STABLE": "Stable",
    "DEAD": "Dead",
    "EMPTY": "Empty",
}
# The librdkafka "invalid offset": a partition without a committed offset.
NO_OFFSET = -1001
# How long `describe` spends reading next-record timestamps itself (no admin API).
LAG_TIME_BUDGET_S = 3.0


@click.group()
def group() -> None:
    """List, inspect, delete consumer groups; reset their offsets; show their rebalances.

    \b
    Example:
      katka group describe billing
      katka group reset-offsets billing --all-topics --to-datetime 2024-05-01T00:00:00Z --execute
    """


def state_name(state: Any) -> str:
    name = getattr(state, "name", str(state))
    return STATE_NAMES.get(name, name.title())


def group_missing(group_id: str) -> CliError:
    return CliError(f"Consumer group '{group_id}' does not exist.")


@group.command(name="list")
@connection_options
def list_groups(connection: Connection) -> None:
    """List consumer groups with their state.

    \b
    Example:
      katka group list --output json
    """
    admin = connection.admin()
    result = wait(
        admin.list_consumer_groups(request_timeout=connection.timeout_s),
        connection.timeout_s,
        "cannot list groups",
    )
    rows = sorted(
        (
            {
                "group": listing.group_id,
                "state": state_name(listing.state),
                "simple": listing.is_simple_consumer_group,
            }
            for listing in result.valid
        ),
        key=lambda row: row["group"],
    )
    if connection.json:
        emit_json(rows)
    else:
        print_table(["GROUP", "STATE"], [(r["group"], r["state"]) for r in rows])


def describe_group(connection: Connection, admin: Any, group_id: str) -> Any:
    futures = admin.describe_consumer_groups([group_id], request_timeout=connection.timeout_s)
    try:
        return wait(futures[group_id], connection.timeout_s, f"cannot describe group '{group_id}'")
    except CliError:
        error = futures[group_id].exception()
        if error is not None and "GROUP_ID_NOT_FOUND" in kafka_error_text(error):
            raise group_missing(group_id) from None
        raise


def committed_offsets(
    connection: Connection, admin: Any, group_id: str
) -> dict[tuple[str, int], int | None]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    futures = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group_id)], request_timeout=connection.timeout_s
    )
    result = wait(futures[group_id], connection.timeout_s, f"cannot fetch offsets of '{group_id}'")
    offsets: dict[tuple[str, int], int | None] = {}
    for tp in result.topic_partitions or []:
        offsets[(tp.topic, tp.partition)] = tp.offset if tp.offset >= 0 else None
    return offsets


def log_offsets(
    connection: Connection, admin: Any, partitions: list[tuple[str, int]], kind: str
) -> dict[tuple[str, int], int]:
    """ListOffsets for many partitions: kind earliest, latest, or a timestamp in ms."""
    from confluent_kafka import TopicPartition

    spec_type = kafka_admin_module().OffsetSpec

    if not partitions:
        return {}
    if kind == "earliest":
        spec = spec_type.earliest()
    elif kind == "latest":
        spec = spec_type.latest()
    else:
        spec = spec_type.for_timestamp(int(kind))
    request = {TopicPartition(t, p): spec for t, p in partitions}
    futures = admin.list_offsets(request, request_timeout=connection.timeout_s)
    return {
        (tp.topic, tp.partition): wait(future, connection.timeout_s, "cannot list offsets").offset
        for tp, future in futures.items()
    }


def next_record_timestamps(
    connection: Connection, targets: dict[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """Timestamps of the records at the given offsets, read with a short-lived consumer (for
    brokers without katka's admin API). Bounded by LAG_TIME_BUDGET_S; misses are left out."""
    import time

    from confluent_kafka import TopicPartition

    if not targets:
        return {}
    consumer = connection.consumer(None, **{"fetch.wait.max.ms": 100})
    found: dict[tuple[str, int], int] = {}
    try:
        consumer.assign([TopicPartition(t, p, o) for (t, p), o in targets.items()])
        deadline = time.monotonic() + LAG_TIME_BUDGET_S
        while len(found) < len(targets) and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            key = (message.topic(), message.partition())
            if key in targets and key not in found and message.offset() >= targets[key]:
                found[key] = message.timestamp()[1]
                consumer.pause([TopicPartition(*key)])
    finally:
        consumer.close()
    return found


@group.command()
@click.argument("group_ids", metavar="GROUP...", nargs=-1, required=True)
@connection_options
def describe(connection: Connection, group_ids: tuple[str, ...]) -> None:
    """State, protocol, generation, members and per-partition lag (records and time).

    LAG-TIME is the age of the next unconsumed record: how far behind the group is in time.
    The generation comes from katka's admin API (Kafka's DescribeGroups does not carry it).

    \b
    Example:
      katka group describe billing
    """
    admin = connection.admin()
    api = optional_admin_api(connection, admin)
    described = [describe_one(connection, admin, api, group_id) for group_id in group_ids]
    if connection.json:
        emit_json(described if len(described) > 1 else described[0])
        return
    for index, entry in enumerate(described):
        if index:
            click.echo()
        print_group(entry)


def describe_one(connection: Connection, admin: Any, api: Any, group_id: str) -> dict[str, Any]:
    description = describe_group(connection, admin, group_id)
    committed = committed_offsets(connection, admin, group_id)
    state = state_name(description.state)
    if state in ("Dead", "Unknown") and not description.members and not committed:
        raise group_missing(group_id)
    owners: dict[tuple[str, int], Any] = {}
    members = []
    for member in description.members:
        assigned = sorted(
            (tp.topic, tp.partition) for tp in (member.assignment.topic_partitions or [])
        )
        for key in assigned:
            owners[key] = member
        members.append(
            {
                "member_id": member.member_id,
                "client_id": member.client_id,
                "host": member.host,
                "group_instance_id": member.group_instance_id,
                "assignment": [{"topic": t, "partition": p} for t, p in assigned],
            }
        )
    keys = sorted(set(committed) | set(owners))
    log_end = log_offsets(connection, admin, keys, "latest")
    summary = api.get(f"/api/groups/{quote(group_id)}") if api is not None else None
    lag_ms: dict[tuple[str, int], int | None] = {}
    if api is not None:
        answer = api.get(f"/api/groups/{quote(group_id)}/lag") or {}
        for row in answer.get("partitions", []):
            lag_ms[(row["topic"], int(row["partition"]))] = row.get("lag_ms")
    else:
        behind = {
            key: offset
            for key, offset in committed.items()
            if offset is not None and key in log_end and offset < log_end[key]
        }
        now = now_ms()
        for key, timestamp in next_record_timestamps(connection, behind).items():
            lag_ms[key] = max(now - timestamp, 0)
    partitions = []
    for key in keys:
        current = committed.get(key)
        end = log_end.get(key)
        lag = None if current is None or end is None else max(end - current, 0)
        owner = owners.get(key)
        partitions.append(
            {
                "topic": key[0],
                "partition": key[1],
                "committed_offset": current,
                "log_end_offset": end,
                "lag": lag,
                "lag_ms": (0 if lag == 0 else lag_ms.get(key)),
                "member_id": owner.member_id if owner is not None else None,
                "client_id": owner.client_id if owner is not None else None,
            }
        )
    return {
        "group": group_id,
        "state": state,
        "protocol": description.partition_assignor or None,
        "generation": summary.get("generation_id") if summary else None,
        "coordinator": getattr(description.coordinator, "id", None),
        "members": members,
        "partitions": partitions,
    }


def print_group(entry: dict[str, Any]) -> None:
    generation = entry["generation"] if entry["generation"] is not None else "-"
    click.echo(
        f"GROUP {entry['group']}  STATE {entry['state']}  PROTOCOL {entry['protocol'] or '-'}  "
        f"GENERATION {generation}  MEMBERS {len(entry['members'])}  "
        f"COORDINATOR {entry['coordinator'] if entry['coordinator'] is not None else '-'}"
    )
    if entry["members"]:
        print_table(
            ["MEMBER-ID", "CLIENT-ID", "HOST", "INSTANCE-ID", "ASSIGNMENT"],
            [
                (
                    m["member_id"],
                    m["client_id"],
                    m["host"],
                    m["group_instance_id"],
                    compact_assignment(m["assignment"]),
                )
                for m in entry["members"]
            ],
        )
    if entry["partitions"]:
        print_table(
            [
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                "LOG-END-OFFSET",
                "LAG",
                "LAG-TIME",
                "CLIENT-ID",
            ],
            [
                (
                    p["topic"],
                    p["partition"],
                    p["committed_offset"],
                    p["log_end_offset"],
                    p["lag"],
                    format_duration_ms(p["lag_ms"]),
                    p["client_id"],
                )
                for p in entry["partitions"]
            ],
            right_align=["PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "LAG-TIME"],
        )
    else:
        click.echo("No committed offsets and no assigned partitions.")


def compact_assignment(assignment: list[dict[str, Any]]) -> str:
    by_topic: dict[str, list[int]] = {}
    for item in assignment:
        by_topic.setdefault(item["topic"], []).append(item["partition"])
    return " ".join(f"{t}:{','.join(map(str, ps))}" for t, ps in sorted(by_topic.items())) or "-"


@group.command()
@click.argument("group_ids", metavar="GROUP...", nargs=-1, required=True)
@connection_options
def delete(connection: Connection, group_ids: tuple[str, ...]) -> None:
    """Delete consumer groups and their committed offsets (the groups must be empty).

    \b
    Example:
      katka group delete billing
    """
    admin = connection.admin()
    futures = admin.delete_consumer_groups(list(group_ids), request_timeout=connection.timeout_s)
    for group_id in group_ids:
        try:
            wait(
                futures[group_id], connection.timeout_s, f"Group '{group_id}' could not be deleted"
            )
        except CliError:
            error = futures[group_id].exception()
            if error is not None and "GROUP_ID_NOT_FOUND" in kafka_error_text(error):
                raise group_missing(group_id) from None
            raise
    if connection.json:
        emit_json({"deleted": list(group_ids)})
    else:
        quoted = ", ".join(f"'{g}'" for g in group_ids)
        click.echo(f"Deletion of requested consumer groups ({quoted}) was successful.")


def reset_spec(
    to_earliest: bool,
    to_latest: bool,
    to_current: bool,
    to_offset: int | None,
    shift_by: int | None,
    to_datetime: str | None,
    by_duration: str | None,
) -> ResetSpec:
    chosen = [
        name
        for name, given in (
            ("--to-earliest", to_earliest),
            ("--to-latest", to_latest),
            ("--to-current", to_current),
            ("--to-offset", to_offset is not None),
            ("--shift-by", shift_by is not None),
            ("--to-datetime", to_datetime is not None),
            ("--by-duration", by_duration is not None),
        )
        if given
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "choose exactly one of --to-earliest, --to-latest, --to-current, --to-offset, "
            "--shift-by, --to-datetime, --by-duration"
            + (f" (got {', '.join(chosen)})" if chosen else "")
        )
    if to_earliest:
        return ResetSpec("earliest")
    if to_latest:
        return ResetSpec("latest")
    if to_current:
        return ResetSpec("current")
    if to_offset is not None:
        return ResetSpec("offset", to_offset)
    if shift_by is not None:
        return ResetSpec("shift", shift_by)
    try:
        if to_datetime is not None:
            return ResetSpec("timestamp", parse_time_ms(to_datetime, now_ms()))
        assert by_duration is not None
        return ResetSpec("timestamp", now_ms() - parse_duration_ms(by_duration))
    except TimeFormatError as error:
        hint = "--to-datetime" if to_datetime is not None else "--by-duration"
        raise click.BadParameter(str(error), param_hint=hint) from None


@group.command(name="reset-offsets")
@click.argument("group_id", metavar="GROUP")
@click.option(
    "--topic",
    "-t",
    "topics",
    multiple=True,
    metavar="TOPIC[:P,...]",
    help="Reset this topic (or these partitions); repeatable.",
)
@click.option("--all-topics", is_flag=True, help="Reset every topic the group has offsets for.")
@click.option("--to-earliest", is_flag=True)
@click.option("--to-latest", is_flag=True)
@click.option("--to-current", is_flag=True)
@click.option("--to-offset", type=click.IntRange(min=0), default=None, metavar="N")
@click.option("--shift-by", type=int, default=None, metavar="N", help="Move by N (negative: back).")
@click.option(
    "--to-datetime",
    default=None,
    metavar="TIME",
    help="ISO 8601 (2024-05-01T12:00:00Z) or -1h style.",
)
@click.option(
    "--by-duration",
    default=None,
    metavar="DURATION",
    help="Back from now: PnDTnHnMnS or 1h30m style.",
)
@click.option("--execute", is_flag=True, help="Apply the plan (the default is a dry run).")
@click.option("--dry-run", is_flag=True, help="Only print the plan (the default).")
@connection_options
def reset_offsets(
    connection: Connection,
    group_id: str,
    topics: tuple[str, ...],
    all_topics: bool,
    to_earliest: bool,
    to_latest: bool,
    to_current: bool,
    to_offset: int | None,
    shift_by: int | None,
    to_datetime: str | None,
    by_duration: str | None,
    execute: bool,
    dry_run: bool,
) -> None:
    """Plan, and with --execute apply, new committed offsets for an inactive group.

    Prints current and new offsets and the records each partition will replay (negative:
    skip). New offsets are kept within [log start, log end].

    \b
    Examples:
      katka group reset-offsets billing --topic orders --to-datetime -1h
      katka group reset-offsets billing --topic orders:0,1 --shift-by -100 --execute
      katka group reset-offsets billing --all-topics --by-duration P1DT2H --execute
    """
    if bool(topics) == all_topics:
        raise click.UsageError("choose one of --topic and --all-topics")
    if execute and dry_run:
        raise click.UsageError("choose one of --execute and --dry-run")
    spec = reset_spec(
        to_earliest, to_latest, to_current, to_offset, shift_by, to_datetime, by_duration
    )
    try:
        requested = parse_topic_partitions(topics)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--topic") from None

    admin = connection.admin()
    description = describe_group(connection, admin, group_id)
    state = state_name(description.state)
    if state not in ("Empty", "Dead", "Unknown"):
        raise CliError(
            f"Assignments can only be reset if the group '{group_id}' is inactive, but the "
            f"current state is {state}."
        )
    committed = committed_offsets(connection, admin, group_id)
    metadata = admin.list_topics(timeout=connection.timeout_s)
    partitions: list[tuple[str, int]] = []
    if all_topics:
        partitions = sorted(committed)
        if not partitions:
            raise CliError(f"Consumer group '{group_id}' has no committed offsets to reset.")
    for name, listed in requested:
        known = metadata.topics.get(name)
        if known is None or known.error is not None:
            raise CliError(f"Topic '{name}' does not exist as expected")
        for partition in listed if listed is not None else sorted(known.partitions):
            if partition not in known.partitions:
                raise no_such_partition(name, partition, len(known.partitions))
            partitions.append((name, partition))
    partitions = sorted(set(partitions))
    log_start = log_offsets(connection, admin, partitions, "earliest")
    log_end = log_offsets(connection, admin, partitions, "latest")
    by_time = None
    if spec.kind == "timestamp":
        by_time = {
            key: (offset if offset >= 0 else None)
            for key, offset in log_offsets(connection, admin, partitions, str(spec.value)).items()
        }
    plan = plan_reset(partitions, spec, committed, log_start, log_end, by_time)
    if execute:
        apply_plan(connection, admin, group_id, plan)
    rows = [
        {
            "group": group_id,
            "topic": p.topic,
            "partition": p.partition,
            "current_offset": p.current_offset,
            "new_offset": p.new_offset,
            "records_to_replay": p.records_to_replay,
        }
        for p in plan
    ]
    if connection.json:
        emit_json({"group": group_id, "executed": execute, "partitions": rows})
        return
    print_table(
        ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET", "REPLAY"],
        [
            (
                r["group"],
                r["topic"],
                r["partition"],
                r["current_offset"],
                r["new_offset"],
                r["records_to_replay"],
            )
            for r in rows
        ],
        right_align=["PARTITION", "CURRENT-OFFSET", "NEW-OFFSET", "REPLAY"],
    )
    if execute:
        click.echo(f"Reset the offsets of {len(plan)} partitions of group '{group_id}'.")
    else:
        click.echo("Dry run: nothing changed. Add --execute to apply this plan.")


def apply_plan(connection: Connection, admin: Any, group_id: str, plan: list[PlannedReset]) -> None:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    request = ConsumerGroupTopicPartitions(
        group_id, [TopicPartition(p.topic, p.partition, p.new_offset) for p in plan]
    )
    futures = admin.alter_consumer_group_offsets([request], request_timeout=connection.timeout_s)
    result = wait(futures[group_id], connection.timeout_s, f"cannot reset offsets of '{group_id}'")
    for tp in result.topic_partitions or []:
        if tp.error is not None:
            reason = kafka_error_text(tp.error)
            raise CliError(f"cannot reset {tp.topic}-{tp.partition} of '{group_id}': {reason}")


@group.command()
@click.argument("group_id", metavar="GROUP")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="The most recent N rebalances.",
)
@connection_options
def rebalances(connection: Connection, group_id: str, limit: int) -> None:
    """The group's rebalance history (katka only), and rebalance storms with their usual cures.

    Each row: when it started, the generation it produced, its trigger and the member behind
    it, how long consumption stopped, and the partitions each member got.

    \b
    Example:
      katka group rebalances billing
    """
    api = admin_api(connection, "rebalance history")
    answer = api.get(f"/api/groups/{quote(group_id)}/rebalances")
    if answer is None:
        raise group_missing(group_id)
    history = list(answer.get("rebalances", []))
    storms = detect_storms(history, answer.get("session_timeout_ms"))
    shown = history[-limit:]
    if connection.json:
        emit_json(
            {
                "group": group_id,
                "rebalances": shown,
                "storms": [
                    {
                        "member": s.who,
                        "rebalances": s.rebalances,
                        "first_ms": s.first_ms,
                        "last_ms": s.last_ms,
                        "triggers": list(s.triggers),
                        "generations": list(s.generations),
                        "advice": storm_advice(s),
                    }
                    for s in storms
                ],
            }
        )
        return
    if not history:
        click.echo(f"Group '{group_id}' has not rebalanced since the broker started.")
        return
    print_table(
        ["WHEN", "GENERATION", "TRIGGER", "MEMBER", "STOPPED", "MEMBERS", "ASSIGNMENT", "OUTCOME"],
        [
            (
                format_time_ms(int(e["start_ms"])),
                e["generation_id"],
                e["trigger"] + (f" ({e['reason']})" if e.get("reason") else ""),
                member_label(e),
                format_duration_ms(int(e["stopped_ms"])),
                len(e.get("members", [])),
                assignment_sizes(e.get("members", [])),
                e.get("outcome", "-"),
            )
            for e in shown
        ],
        right_align=["GENERATION", "STOPPED", "MEMBERS"],
    )
    for storm in storms:
        seconds = (storm.last_ms - storm.first_ms) / 1000
        click.echo(
            f"\nRebalance storm: member {storm.who} triggered {storm.rebalances} rebalances in "
            f"{seconds:.0f} s ({', '.join(storm.triggers)}; generations "
            f"{storm.generations[0]}-{storm.generations[-1]}). What usually cures it:"
        )
        for advice in storm_advice(storm):
            click.echo(f"  - {advice}")


def assignment_sizes(members: list[dict[str, Any]]) -> str:
    parts = []
    for member in members:
        count = member.get("assigned_partitions")
        parts.append(f"{member_label(member)}={'?' if count is None else count}")
    return " ".join(parts) or "-"
