"""Rebalance storms: runs of quick rebalances caused by one member, and their usual cures.

Plain functions over the admin API's rebalance history, tested with plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A storm: one member behind at least STORM_MIN_REBALANCES rebalances, each starting within
# the storm interval of the previous one.
STORM_MIN_REBALANCES = 3
STORM_MIN_INTERVAL_MS = 60_000


@dataclass(frozen=True, slots=True)
class Storm:
    who: str  # group.instance.id, client.id or member id: what stays the same across rejoins
    rebalances: int
    first_ms: int
    last_ms: int
    triggers: tuple[str, ...]
    generations: tuple[int, ...]


def member_label(entry: Mapping[str, Any]) -> str:
    for field in ("group_instance_id", "client_id", "member_id"):
        value = entry.get(field)
        if value:
            return str(value)
    return "-"


def detect_storms(
    history: Sequence[Mapping[str, Any]], session_timeout_ms: int | None = None
) -> list[Storm]:
    """Runs of >= 3 rebalances triggered by the same member, each within the storm interval
    (2 x session.timeout.ms, at least 60 s) of the previous one.

    The member is named by what survives a restart: its group.instance.id, else its client.id
    (a crashed dynamic member rejoins with a new member id)."""
    interval_ms = max(STORM_MIN_INTERVAL_MS, 2 * (session_timeout_ms or 0))
    by_member: dict[str, list[Mapping[str, Any]]] = {}
    for entry in sorted(history, key=lambda e: int(e["start_ms"])):
        by_member.setdefault(member_label(entry), []).append(entry)
    storms = []
    for who, entries in by_member.items():
        if who == "-":
            continue
        run: list[Mapping[str, Any]] = []
        for entry in entries + [{}]:  # a sentinel closes the last run
            if entry and run and int(entry["start_ms"]) - int(run[-1]["start_ms"]) < interval_ms:
                run.append(entry)
                continue
            if len(run) >= STORM_MIN_REBALANCES:
                storms.append(
                    Storm(
                        who=who,
                        rebalances=len(run),
                        first_ms=int(run[0]["start_ms"]),
                        last_ms=int(run[-1]["start_ms"]),
                        triggers=tuple(sorted({str(e["trigger"]) for e in run})),
                        # An observed history (a Kafka cluster's classic group) has none.
                        generations=tuple(
                            int(e["generation_id"])
                            for e in run
                            if e.get("generation_id") is not None
                        ),
                    )
                )
            run = [entry] if entry else []
    return sorted(storms, key=lambda s: s.first_ms)


def storm_advice(storm: Storm) -> list[str]:
    """What usually cures a storm, most specific first."""
    advice = []
    triggers = set(storm.triggers)
    if triggers & {"join", "leave", "session_timeout"}:
        advice.append(
            "static membership: give each consumer a stable group.instance.id (KIP-345); a "
            "restart within session.timeout.ms then rejoins without a rebalance"
        )
    if "session_timeout" in triggers:
        advice.append(
            "session.timeout.ms: heartbeats stopped for longer than the session timeout "
            "(crashes, GC or network pauses); raise it if the member is alive but slow"
        )
    if "poll_timeout" in triggers:
        advice.append(
            "max.poll.interval.ms: the member spent too long between polls; raise it, or "
            "process fewer records per poll (max.poll.records)"
        )
    advice.append(
        "partition.assignment.strategy=cooperative-sticky: rebalances then stop only the "
        "partitions that move, not the whole group"
    )
    return advice
