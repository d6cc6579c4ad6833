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
    echo_err,
    emit_json,
    no_such_partition,
    now_ms,
    plural,
)
from katka.cli.group.live_reset import request_body, reset_live
from katka.cli.group.printers import (
    print_group_listings,
    print_group_report,
    print_offset_deletions,
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
    PlannedReset,
    ResetSpec,
    offsets_csv,
    parse_offsets_csv,
    parse_topic_partitions,
    plan_reset,
)
from katka.cli.group.storms import detect_storms, storm_advice
from katka.cli.group.wire import delete_offsets, error_name
from katka.cli.timeparse import TimeFormatError, parse_duration_ms, parse_time_ms

GROUP_ID_NOT_FOUND = 69


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


def group_selection(f: Any) -> Any:
    """GROUP arguments, Kafka's --group (repeatable) and --all-groups."""
    f = click.option("--all-groups", is_flag=True, help="Every consumer group.")(f)
    f = click.option("--group", "-g", "group_options", multiple=True, help="A group; repeatable.")(
        f
    )
    return click.argument("group_ids", metavar="[GROUP]...", nargs=-1)(f)


def selected_groups(
    connection: Connection,
    admin: Any,
    group_ids: tuple[str, ...],
    group_options: tuple[str, ...],
    all_groups: bool,
) -> list[str]:
    named = list(dict.fromkeys([*group_ids, *group_options]))
    if bool(named) == all_groups:
        raise click.UsageError("name groups (GROUP or --group) or pass --all-groups")
    if all_groups:
        return [listing.group for listing in list_groups(connection, admin)]
    return named


@group.command()
@group_selection
@connection_options
def describe(
    connection: Connection,
    group_ids: tuple[str, ...],
    group_options: tuple[str, ...],
    all_groups: bool,
) -> None:
    """State, protocol, generation, members and per-partition lag (records and time).

    LAG-TIME is the age of the next unconsumed record: how far behind the group is in time.
    The generation comes from katka's admin API (Kafka's DescribeGroups does not carry it).

    \b
    Example:
      katka group describe billing
      katka group describe --all-groups --output json
    """
    admin = connection.admin()
    names = selected_groups(connection, admin, group_ids, group_options, all_groups)
    api = optional_admin_api(connection, admin)
    reports = [group_report(connection, admin, api, group_id) for group_id in names]
    if connection.json:
        documents = [report.to_json() for report in reports]
        # One named group is an object; several, or --all-groups, a list.
        emit_json(documents[0] if len(documents) == 1 and not all_groups else documents)
        return
    for index, report in enumerate(reports):
        if index:
            click.echo()
        print_group_report(report)


@group.command()
@group_selection
@connection_options
def delete(
    connection: Connection,
    group_ids: tuple[str, ...],
    group_options: tuple[str, ...],
    all_groups: bool,
) -> None:
    """Delete consumer groups and their committed offsets (the groups must be empty).

    \b
    Example:
      katka group delete billing
    """
    admin = connection.admin()
    names = selected_groups(connection, admin, group_ids, group_options, all_groups)
    if names:
        delete_groups(connection, admin, names)
    if connection.json:
        emit_json({"deleted": names})
    elif names:
        quoted = ", ".join(f"'{g}'" for g in names)
        click.echo(f"Deletion of requested consumer groups ({quoted}) was successful.")
    else:
        click.echo("There are no consumer groups to delete.")


def reset_spec(
    to_earliest: bool,
    to_latest: bool,
    to_current: bool,
    to_offset: int | None,
    shift_by: int | None,
    to_datetime: str | None,
    by_duration: str | None,
    offsets_file: str | None,
    group_id: str,
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
            ("--from-file", offsets_file is not None),
        )
        if given
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "choose exactly one of --to-earliest, --to-latest, --to-current, --to-offset, "
            "--shift-by, --to-datetime, --by-duration, --from-file"
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
    if offsets_file is not None:
        try:
            with open(offsets_file) as file:
                offsets = parse_offsets_csv(file.read(), group_id)
        except (OSError, ValueError) as error:
            raise click.BadParameter(str(error), param_hint="--from-file") from None
        if not offsets:
            raise click.BadParameter(f"no offsets for group '{group_id}'", param_hint="--from-file")
        return ResetSpec("file", offsets=offsets)
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
    "--from-file",
    "offsets_file",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    metavar="CSV",
    help="The offsets in a CSV file (TOPIC,PARTITION,OFFSET), as --export writes it.",
)
@click.option(
    "--export", is_flag=True, help="Print the plan as CSV (for --from-file), not a table."
)
@click.option(
    "--if-no-offset",
    type=click.Choice(NO_OFFSET_FALLBACKS),
    default=None,
    help="Where --shift-by and --to-current start on partitions with no committed offset "
    "(refused without it).",
)
@click.option(
    "--live",
    is_flag=True,
    help="Reset while the group consumes (katka only): its members are fenced and resume "
    "from the new offsets.",
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
    offsets_file: str | None,
    export: bool,
    if_no_offset: str | None,
    live: bool,
    execute: bool,
    dry_run: bool,
) -> None:
    """Plan, and with --execute apply, new committed offsets for an inactive group, or with
    --live for a group that keeps consuming (katka only: Kafka must stop every consumer).

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
      katka group reset-offsets billing --all-topics --to-current --export > saved.csv
      katka group reset-offsets billing --from-file saved.csv --execute
      katka group reset-offsets billing --all-topics --to-earliest --live --execute
    """
    if offsets_file is not None and (topics or all_topics):
        raise click.UsageError("--from-file names its partitions: no --topic or --all-topics")
    if offsets_file is None and bool(topics) == all_topics:
        raise click.UsageError("choose one of --topic and --all-topics")
    if export and connection.json:
        raise click.UsageError("choose one of --export and --output json")
    if execute and dry_run:
        raise click.UsageError("choose one of --execute and --dry-run")
    spec = reset_spec(
        to_earliest,
        to_latest,
        to_current,
        to_offset,
        shift_by,
        to_datetime,
        by_duration,
        offsets_file,
        group_id,
    )
    try:
        requested = parse_topic_partitions(topics)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--topic") from None
    if live:
        body = request_body(
            spec, topics, all_topics, to_datetime, by_duration, if_no_offset, execute
        )
        plan, warnings = reset_live(connection, group_id, body)
        for warning in warnings:
            echo_err(f"katka: warning: {warning}")
        _print_plan(connection, group_id, plan, execute, export)
        return

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
    if spec.offsets is not None:
        by_topic: dict[str, list[int]] = {}
        for name, partition in sorted(spec.offsets):
            by_topic.setdefault(name, []).append(partition)
        requested = list(by_topic.items())
    partitions = sorted(set(partitions) | set(resolve_partitions(metadata, requested)))
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
    _print_plan(connection, group_id, plan, execute, export)


def _print_plan(
    connection: Connection,
    group_id: str,
    plan: list[PlannedReset],
    execute: bool,
    export: bool,
) -> None:
    if export:
        click.echo(offsets_csv(plan), nl=False)
    elif connection.json:
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


def resolve_partitions(
    metadata: Any, requested: list[tuple[str, list[int] | None]]
) -> list[tuple[str, int]]:
    """`--topic orders` (every partition) and `--topic orders:0,2`, checked against metadata."""
    partitions = []
    for name, listed in requested:
        known = metadata.topics.get(name)
        if known is None or known.error is not None:
            raise CliError(f"Topic '{name}' does not exist as expected")
        for partition in listed if listed is not None else sorted(known.partitions):
            if partition not in known.partitions:
                raise no_such_partition(name, partition, len(known.partitions))
            partitions.append((name, partition))
    return sorted(set(partitions))


@group.command(name="delete-offsets")
@click.argument("group_id", metavar="GROUP")
@click.option(
    "--topic",
    "-t",
    "topics",
    multiple=True,
    required=True,
    metavar="TOPIC[:P,...]",
    help="Delete the offsets of this topic (or these partitions); repeatable.",
)
@connection_options
def delete_offsets_command(connection: Connection, group_id: str, topics: tuple[str, ...]) -> None:
    """Delete a group's committed offsets for topics or partitions (kafka-consumer-groups.sh
    --delete-offsets). Refused for topics the group's members still subscribe to.

    \b
    Example:
      katka group delete-offsets billing --topic orders --topic refunds:0
    """
    try:
        requested = parse_topic_partitions(topics)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--topic") from None
    admin = connection.admin()
    partitions = resolve_partitions(admin.list_topics(timeout=connection.timeout_s), requested)
    group_error, results = delete_offsets(connection, group_id, partitions)
    if group_error == GROUP_ID_NOT_FOUND:
        raise group_missing(group_id)
    if group_error:
        raise CliError(f"cannot delete offsets of '{group_id}': {error_name(group_error)}")
    outcome = {key: (error_name(code) if code else None) for key, code in sorted(results.items())}
    if connection.json:
        emit_json(
            {
                "group": group_id,
                "partitions": [
                    {"topic": t, "partition": p, "error": error}
                    for (t, p), error in outcome.items()
                ],
            }
        )
    else:
        print_offset_deletions(outcome)
    failed = [f"{t}-{p} ({error})" for (t, p), error in outcome.items() if error]
    if failed:
        raise CliError(
            f"{plural(len(failed), 'partition')} kept their offsets: {', '.join(failed)}"
        )
