"""`katka group list|describe|delete|reset-offsets|rebalances` (kafka-consumer-groups.sh).

The Kafka protocol carries members, assignments and committed offsets, so these work against
any cluster. katka's admin API adds what the protocol cannot carry: the generation, the age of
the next unconsumed record (lag in time) and the rebalance history.
"""

from __future__ import annotations

import click

from katka.cli.admin_api import admin_api, optional_admin_api, quote
from katka.cli.common import (
    CliError,
    Connection,
    connection_options,
    echo_err,
    emit_json,
    no_such_partition,
    now_ms,
)
from katka.cli.group.printers import (
    print_group_listings,
    print_group_report,
    print_rebalances,
    print_reset_plan,
)
from katka.cli.group.queries import (
    alter_committed_offsets,
    committed_offsets,
    delete_groups,
    describe_group,
    group_missing,
    list_groups,
    log_offsets,
    state_name,
)
from katka.cli.group.report import group_report
from katka.cli.group.reset_plan import (
    NO_OFFSET_FALLBACKS,
    NoCommittedOffset,
    ResetSpec,
    parse_topic_partitions,
    plan_reset,
)
from katka.cli.group.storms import detect_storms, storm_advice
from katka.cli.timeparse import TimeFormatError, parse_duration_ms, parse_time_ms


@click.group()
def group() -> None:
    """List, inspect, delete consumer groups; reset their offsets; show their rebalances.

    \b
    Example:
      katka group describe billing
      katka group reset-offsets billing --all-topics --to-datetime 2024-05-01T00:00:00Z --execute
    """


@group.command(name="list")
@connection_options
def list_command(connection: Connection) -> None:
    """List consumer groups with their state.

    \b
    Example:
      katka group list --output json
    """
    listings = list_groups(connection, connection.admin())
    if connection.json:
        emit_json([{"group": g.group, "state": g.state, "simple": g.simple} for g in listings])
    else:
        print_group_listings(listings)


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
    reports = [group_report(connection, admin, api, group_id) for group_id in group_ids]
    if connection.json:
        documents = [report.to_json() for report in reports]
        emit_json(documents if len(documents) > 1 else documents[0])
        return
    for index, report in enumerate(reports):
        if index:
            click.echo()
        print_group_report(report)


@group.command()
@click.argument("group_ids", metavar="GROUP...", nargs=-1, required=True)
@connection_options
def delete(connection: Connection, group_ids: tuple[str, ...]) -> None:
    """Delete consumer groups and their committed offsets (the groups must be empty).

    \b
    Example:
      katka group delete billing
    """
    delete_groups(connection, connection.admin(), list(group_ids))
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
@click.option(
    "--if-no-offset",
    type=click.Choice(NO_OFFSET_FALLBACKS),
    default=None,
    help="Where --shift-by and --to-current start on partitions with no committed offset "
    "(refused without it).",
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
    if_no_offset: str | None,
    execute: bool,
    dry_run: bool,
) -> None:
    """Plan, and with --execute apply, new committed offsets for an inactive group.

    Prints current and new offsets and the records each partition will replay (negative:
    skip). New offsets are kept within [log start, log end]. --shift-by and --to-current move
    from the committed offset: partitions without one are refused unless --if-no-offset
    names where they start (Kafka refuses --shift-by there and puts --to-current at the log
    end, which would skip their records without a word).

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
    try:
        plan = plan_reset(partitions, spec, committed, log_start, log_end, by_time, if_no_offset)
    except NoCommittedOffset as error:
        raise CliError(str(error)) from None
    for planned in plan:
        if planned.clamp_warning is not None:
            echo_err(f"katka: warning: {planned.clamp_warning}")
    if execute:
        offsets = {(p.topic, p.partition): p.new_offset for p in plan}
        alter_committed_offsets(connection, admin, group_id, offsets)
    if connection.json:
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
        emit_json({"group": group_id, "executed": execute, "partitions": rows})
    else:
        print_reset_plan(group_id, plan, execute)


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
    if connection.json:
        emit_json(
            {
                "group": group_id,
                "rebalances": history[-limit:],
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
    print_rebalances(group_id, history, limit, storms)
