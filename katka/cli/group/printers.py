"""The readable tables of `katka group` (column names as kafka-consumer-groups.sh prints them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from katka.cli.common import plural, print_table
from katka.cli.group.queries import GroupListing
from katka.cli.group.report import AssignedPartition, GroupReport
from katka.cli.group.reset_plan import PlannedReset
from katka.cli.group.storms import Storm, member_label, storm_advice
from katka.cli.timeparse import format_duration_ms, format_time_ms


def print_group_listings(listings: Sequence[GroupListing]) -> None:
    print_table(["GROUP", "STATE"], [(listing.group, listing.state) for listing in listings])


def print_group_report(report: GroupReport) -> None:
    generation = report.generation if report.generation is not None else "-"
    coordinator = report.coordinator if report.coordinator is not None else "-"
    click.echo(
        f"GROUP {report.group}  STATE {report.state}  PROTOCOL {report.protocol or '-'}  "
        f"GENERATION {generation}  MEMBERS {len(report.members)}  COORDINATOR {coordinator}"
    )
    if report.members:
        print_table(
            ["MEMBER-ID", "CLIENT-ID", "HOST", "INSTANCE-ID", "ASSIGNMENT"],
            [
                (
                    m.member_id,
                    m.client_id,
                    m.host,
                    m.group_instance_id,
                    compact_assignment(m.assignment),
                )
                for m in report.members
            ],
        )
    if not report.partitions:
        click.echo("No committed offsets and no assigned partitions.")
        return
    print_table(
        ["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "LAG-TIME", "CLIENT-ID"],
        [
            (
                p.topic,
                p.partition,
                p.committed_offset,
                p.log_end_offset,
                p.lag,
                format_duration_ms(p.lag_ms),
                p.client_id,
            )
            for p in report.partitions
        ],
        right_align=["PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "LAG-TIME"],
    )


def compact_assignment(assignment: Sequence[AssignedPartition]) -> str:
    """`orders:0,1 refunds:2`, or `-` for none."""
    by_topic: dict[str, list[int]] = {}
    for item in assignment:
        by_topic.setdefault(item.topic, []).append(item.partition)
    return " ".join(f"{t}:{','.join(map(str, ps))}" for t, ps in sorted(by_topic.items())) or "-"


def print_reset_plan(group_id: str, plan: Sequence[PlannedReset], executed: bool) -> None:
    print_table(
        ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET", "REPLAY"],
        [
            (
                group_id,
                p.topic,
                p.partition,
                p.current_offset,
                p.new_offset,
                p.records_to_replay,
            )
            for p in plan
        ],
        right_align=["PARTITION", "CURRENT-OFFSET", "NEW-OFFSET", "REPLAY"],
    )
    if executed:
        click.echo(f"Reset the offsets of {plural(len(plan), 'partition')} of group '{group_id}'.")
    else:
        click.echo("Dry run: nothing changed. Add --execute to apply this plan.")


def print_offset_deletions(outcome: dict[tuple[str, int], str | None]) -> None:
    """One row per partition: Successful, or the error the broker gave."""
    print_table(
        ["TOPIC", "PARTITION", "STATUS"],
        [(t, p, f"Error: {error}" if error else "Successful") for (t, p), error in outcome.items()],
        right_align=["PARTITION"],
    )


def print_rebalances(
    group_id: str, history: Sequence[dict[str, Any]], shown: int, storms: Sequence[Storm]
) -> None:
    """The last `shown` rebalances, then each storm with what usually cures it."""
    if not history:
        click.echo(f"Group '{group_id}' has no completed rebalance.")
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
            for e in history[-shown:]
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


def assignment_sizes(members: Sequence[dict[str, Any]]) -> str:
    """`first=2 second=1`: how many partitions each member got in a rebalance."""
    parts = []
    for member in members:
        count = member.get("assigned_partitions")
        parts.append(f"{member_label(member)}={'?' if count is None else count}")
    return " ".join(parts) or "-"
